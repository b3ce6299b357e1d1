"""loyalty: bounce-back offers (rules, one grant per order)

Revision ID: 9668505e3915
Revises: 44f247d78486
Create Date: 2026-12-06 21:39:13.743100+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "9668505e3915"
down_revision: str | Sequence[str] | None = "44f247d78486"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loyalty_bounceback_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("min_amount", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("product_sku", sa.String(length=100), nullable=True),
        sa.Column("first_purchase_only", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("percent_bp", sa.Integer(), nullable=True),
        sa.Column("reward_sku", sa.String(length=100), nullable=True),
        sa.Column("coupon_min_order", sa.BigInteger(), nullable=False),
        sa.Column("valid_days", sa.Integer(), nullable=False),
        sa.Column("holdout_percent", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "amount IS NULL OR amount >= 0",
            name=op.f("ck_loyalty_bounceback_rules_amount_not_negative"),
        ),
        sa.CheckConstraint(
            "holdout_percent >= 0 AND holdout_percent <= 50",
            name=op.f("ck_loyalty_bounceback_rules_holdout_range"),
        ),
        sa.CheckConstraint(
            "min_amount >= 0", name=op.f("ck_loyalty_bounceback_rules_min_amount_not_negative")
        ),
        sa.CheckConstraint(
            "percent_bp IS NULL OR (percent_bp > 0 AND percent_bp <= 10000)",
            name=op.f("ck_loyalty_bounceback_rules_percent_range"),
        ),
        sa.CheckConstraint(
            "valid_days > 0 AND valid_days <= 366",
            name=op.f("ck_loyalty_bounceback_rules_valid_days_range"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_loyalty_bounceback_rules_location_id_locations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_bounceback_rules")),
    )
    op.create_table(
        "loyalty_bounceback_grants",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("placed_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("holdout", sa.Boolean(), nullable=False),
        sa.Column("coupon_id", sa.Uuid(), nullable=True),
        sa.Column("valid_from", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["coupon_id"],
            ["loyalty_coupons.id"],
            name=op.f("fk_loyalty_bounceback_grants_coupon_id_loyalty_coupons"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_loyalty_bounceback_grants_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_loyalty_bounceback_grants_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["loyalty_bounceback_rules.id"],
            name=op.f("fk_loyalty_bounceback_grants_rule_id_loyalty_bounceback_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_loyalty_bounceback_grants")),
    )
    with op.batch_alter_table("loyalty_bounceback_grants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_loyalty_bounceback_grants_customer", ["customer_id"], unique=False
        )
        batch_op.create_index(
            "ix_loyalty_bounceback_grants_rule", ["rule_id", "placed_at"], unique=False
        )



def downgrade() -> None:
    with op.batch_alter_table("loyalty_bounceback_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_bounceback_grants_rule")
        batch_op.drop_index("ix_loyalty_bounceback_grants_customer")

    op.drop_table("loyalty_bounceback_grants")
    op.drop_table("loyalty_bounceback_rules")
