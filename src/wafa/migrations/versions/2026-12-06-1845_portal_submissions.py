"""portal: forms sent once (a redemption's nonce finds its first result on a double tap)

Revision ID: 6d09fe6d155a
Revises: e9684de7c88b
Create Date: 2026-12-06 18:45:34.759624+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "6d09fe6d155a"
down_revision: str | Sequence[str] | None = "e9684de7c88b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_submissions",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("result_id", sa.Uuid(), nullable=True),
        sa.Column("at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_portal_submissions_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_portal_submissions")),
    )
    with op.batch_alter_table("portal_submissions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_submissions_customer_id"), ["customer_id"], unique=False
        )



def downgrade() -> None:
    with op.batch_alter_table("portal_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_submissions_customer_id"))

    op.drop_table("portal_submissions")
