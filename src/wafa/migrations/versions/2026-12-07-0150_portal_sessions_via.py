"""portal: a session remembers whether the QR code at the counter opened it

Revision ID: c0f1a2b3d4e5
Revises: 9c3e4f5a6b72
Create Date: 2026-12-07 01:50:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0f1a2b3d4e5"
down_revision: str | Sequence[str] | None = "9c3e4f5a6b72"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("portal_sessions") as batch:
        batch.add_column(sa.Column("via", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("portal_sessions") as batch:
        batch.drop_column("via")
