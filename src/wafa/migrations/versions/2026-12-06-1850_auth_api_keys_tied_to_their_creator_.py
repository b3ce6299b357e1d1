"""auth: api keys tied to their creator, session versions, login throttle

Revision ID: b0a569ce0fea
Revises: 0e7ad18e4de3
Create Date: 2026-12-06 18:24:35.802790+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "b0a569ce0fea"
down_revision: str | Sequence[str] | None = "0e7ad18e4de3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_started", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("next_try_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_by", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("created_role", sa.String(length=16), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_api_keys_created_by_staff_users"),
            "staff_users",
            ["created_by"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), server_default="1", nullable=False)
        )



def downgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("session_version")

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_api_keys_created_by_staff_users"), type_="foreignkey"
        )
        batch_op.drop_column("created_role")
        batch_op.drop_column("created_by")

    op.drop_table("login_throttle")
