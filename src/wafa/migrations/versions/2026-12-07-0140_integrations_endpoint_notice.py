"""integrations: when the owner was told an outbound endpoint was disabled

Revision ID: 6f2b8d1e3c04
Revises: 5e1a7c0d2b93
Create Date: 2026-12-07 01:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "6f2b8d1e3c04"
down_revision: str | Sequence[str] | None = "5e1a7c0d2b93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("notified_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True)
        )
    # Endpoints disabled before this change count as told: the owner saw them on the page.
    op.execute("UPDATE webhook_endpoints SET notified_at = disabled_at WHERE disabled_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("notified_at")
