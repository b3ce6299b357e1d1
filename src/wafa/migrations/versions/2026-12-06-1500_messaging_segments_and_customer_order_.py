"""messaging: saved segments and the per-customer order figures they count on

The order figures start empty; the worker's daily job (or
``wafa segment rebuild-stats``) fills them from the orders.

Revision ID: 5f567ae0e360
Revises: e954c9901f06
Create Date: 2026-12-06 13:57:43.525753+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

import wafa.core.db

JSON_LIST = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision: str = "5f567ae0e360"
down_revision: str | Sequence[str] | None = "e954c9901f06"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "messaging_customer_order_stats_builds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("started_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("customers", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messaging_customer_order_stats_builds")),
    )
    op.create_table(
        "messaging_segments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("last_count", sa.BigInteger(), nullable=True),
        sa.Column("counted_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("archived_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messaging_segments")),
    )
    with op.batch_alter_table("messaging_segments", schema=None) as batch_op:
        batch_op.create_index(
            "uq_messaging_segments_live_name",
            ["name"],
            unique=True,
            postgresql_where=sa.text("archived_at IS NULL"),
            sqlite_where=sa.text("archived_at IS NULL"),
        )

    op.create_table(
        "messaging_customer_order_stats",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("orders_count", sa.Integer(), nullable=False),
        sa.Column("spent_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("first_order_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_order_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("channels", JSON_LIST, nullable=False),
        sa.Column("locations", JSON_LIST, nullable=False),
        sa.Column("products", JSON_LIST, nullable=False),
        sa.Column("categories", JSON_LIST, nullable=False),
        sa.Column("refreshed_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_messaging_customer_order_stats_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_messaging_customer_order_stats")),
    )


def downgrade() -> None:
    op.drop_table("messaging_customer_order_stats")
    with op.batch_alter_table("messaging_segments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_messaging_segments_live_name",
            postgresql_where=sa.text("archived_at IS NULL"),
            sqlite_where=sa.text("archived_at IS NULL"),
        )

    op.drop_table("messaging_segments")
    op.drop_table("messaging_customer_order_stats_builds")
