"""customers: possible duplicates (pairs of customers who may be one person, for the owner)

Revision ID: 44f247d78486
Revises: 0db7d2f2e2b0
Create Date: 2026-12-06 19:48:37.401536+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "44f247d78486"
down_revision: str | Sequence[str] | None = "0db7d2f2e2b0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "possible_duplicates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_a_id", sa.Uuid(), nullable=False),
        sa.Column("customer_b_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("found_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "customer_a_id < customer_b_id", name=op.f("ck_possible_duplicates_pair_order")
        ),
        sa.ForeignKeyConstraint(
            ["customer_a_id"],
            ["customers.id"],
            name=op.f("fk_possible_duplicates_customer_a_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_b_id"],
            ["customers.id"],
            name=op.f("fk_possible_duplicates_customer_b_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_possible_duplicates")),
        sa.UniqueConstraint("customer_a_id", "customer_b_id", name="uq_possible_duplicates_pair"),
    )
    with op.batch_alter_table("possible_duplicates", schema=None) as batch_op:
        batch_op.create_index("ix_possible_duplicates_status", ["status", "found_at"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("possible_duplicates", schema=None) as batch_op:
        batch_op.drop_index("ix_possible_duplicates_status")

    op.drop_table("possible_duplicates")
