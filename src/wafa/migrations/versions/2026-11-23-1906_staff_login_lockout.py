"""staff login lockout

Revision ID: c2a3ec776f74
Revises: 5e1d2c3b4a60
Create Date: 2026-11-23 19:06:20.983475+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "c2a3ec776f74"
down_revision: str | Sequence[str] | None = "5e1d2c3b4a60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("locked_until", wafa.core.db.UtcDateTime(timezone=True), nullable=True)
        )



def downgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")

