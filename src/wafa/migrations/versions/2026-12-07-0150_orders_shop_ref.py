"""orders: the shop's own reference of an order (shopify:<id>), unique, so an order that
arrives both by import and by webhook is one order

Existing orders get theirs where it is known: a Shopify export's ``Id`` kept in the
attributes (``shopify_id``), and an order a Shopify connection's webhook stored (its
external id). Where two orders already share one (the duplicate this prevents), only
the first stored gets it.

Revision ID: 7a3c9e2f4d15
Revises: 6f2b8d1e3c04
Create Date: 2026-12-07 01:50:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a3c9e2f4d15"
down_revision: str | Sequence[str] | None = "6f2b8d1e3c04"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shop_ref", sa.String(length=200), nullable=True))
    bind = op.get_bind()
    orders = sa.table(
        "orders",
        sa.column("id", sa.Uuid()),
        sa.column("source", sa.String()),
        sa.column("external_id", sa.String()),
        sa.column("attributes", sa.JSON()),
        sa.column("shop_ref", sa.String()),
    )
    connections = sa.table(
        "integration_connections", sa.column("name", sa.String()), sa.column("shop", sa.String())
    )
    shopify = set(bind.scalars(sa.select(connections.c.name).where(connections.c.shop == "shopify")))
    taken: set[str] = set()
    # Only the orders that can have one are read (a big store's others are not).
    rows = bind.execute(
        sa.select(orders.c.id, orders.c.source, orders.c.external_id, orders.c.attributes)
        .where(
            sa.or_(
                orders.c.source.in_(sorted(shopify)),
                sa.cast(orders.c.attributes, sa.Text).like('%"shopify_id"%'),
            )
        )
        .order_by(orders.c.id)
    )
    refs: list[dict[str, object]] = []
    for order_id, source, external_id, attributes in rows:
        found = None
        if source in shopify:
            found = external_id
        elif isinstance(attributes, dict) and attributes.get("shopify_id"):
            found = str(attributes["shopify_id"]).strip()
        if found:
            ref = f"shopify:{found}"[:200]
            if ref not in taken:
                taken.add(ref)
                refs.append({"b_id": order_id, "b_ref": ref})
    if refs:
        bind.execute(
            sa.update(orders).where(orders.c.id == sa.bindparam("b_id")).values(shop_ref=sa.bindparam("b_ref")),
            refs,
        )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_orders_shop_ref"), ["shop_ref"])


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_orders_shop_ref"), type_="unique")
        batch_op.drop_column("shop_ref")
