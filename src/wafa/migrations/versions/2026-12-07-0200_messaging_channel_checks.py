"""messaging: the last scheduled health check of each channel

Revision ID: 5d2c7e9a1b40
Revises: 7a3c9e2f4d15
Create Date: 2026-12-07 02:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "5d2c7e9a1b40"
down_revision: str | Sequence[str] | None = "7a3c9e2f4d15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "messaging_channel_checks",
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("checked_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("failing_since", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("channel", name=op.f("pk_messaging_channel_checks")),
    )


def downgrade() -> None:
    op.drop_table("messaging_channel_checks")
