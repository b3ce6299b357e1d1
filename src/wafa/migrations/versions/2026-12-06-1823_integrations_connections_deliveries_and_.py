"""integrations: connections, their deliveries, and what each shop order last said

A connection (a Shopify or WooCommerce store) has a hashed intake token and its signing
secrets; each delivery is stored once per (connection, delivery id) with its result and
its raw body; integration_orders keeps the newest updated_at applied per shop order.

Revision ID: 19abd20b2a89
Revises: fd3c89001bc9
Create Date: 2026-12-06 18:23:32.810256+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import wafa.core.db

revision: str = "19abd20b2a89"
down_revision: str | Sequence[str] | None = "fd3c89001bc9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "integration_connections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("shop", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_until", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("paused_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_connections")),
        sa.UniqueConstraint("name", name=op.f("uq_integration_connections_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_integration_connections_token_hash")),
    )
    op.create_table(
        "integration_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("received_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", wafa.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["integration_connections.id"],
            name=op.f("fk_integration_deliveries_connection_id_integration_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_deliveries")),
        sa.UniqueConstraint("connection_id", "delivery_id", name="uq_integration_deliveries_key"),
    )
    with op.batch_alter_table("integration_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_integration_deliveries_recent", ["connection_id", "received_at"], unique=False
        )
        batch_op.create_index(
            "ix_integration_deliveries_waiting",
            ["connection_id", "status", "subject"],
            unique=False,
        )

    op.create_table(
        "integration_orders",
        sa.Column("connection_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("updated_at", wafa.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["integration_connections.id"],
            name=op.f("fk_integration_orders_connection_id_integration_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_id", "external_id", name=op.f("pk_integration_orders")),
    )


def downgrade() -> None:
    op.drop_table("integration_orders")
    with op.batch_alter_table("integration_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_integration_deliveries_waiting")
        batch_op.drop_index("ix_integration_deliveries_recent")

    op.drop_table("integration_deliveries")
    op.drop_table("integration_connections")
