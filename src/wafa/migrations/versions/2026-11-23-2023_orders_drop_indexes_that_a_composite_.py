"""orders: drop indexes that a composite index already covers

``ix_orders_customer_id`` duplicates the leading column of ``ix_orders_customer_placed``
(customer_id, placed_at), ``ix_order_lines_order_id`` that of the (order_id, line_no)
unique constraint and ``ix_refunds_order_id`` that of the (order_id, external_id)
unique constraint. Both SQLite and PostgreSQL use the composite index for lookups by
its first column (and for the foreign keys' cascades), so the single-column copies
only cost every insert: on a 1,000,000-line import, about a million index entries.

Revision ID: 08e4caca8bc1
Revises: 1764fb0a0e3f
Create Date: 2026-11-23 20:23:23.105927+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "08e4caca8bc1"
down_revision: str | Sequence[str] | None = "1764fb0a0e3f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_order_lines_order_id", table_name="order_lines")
    op.drop_index("ix_orders_customer_id", table_name="orders")
    op.drop_index("ix_refunds_order_id", table_name="refunds")


def downgrade() -> None:
    op.create_index("ix_refunds_order_id", "refunds", ["order_id"], unique=False)
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"], unique=False)
    op.create_index("ix_order_lines_order_id", "order_lines", ["order_id"], unique=False)
