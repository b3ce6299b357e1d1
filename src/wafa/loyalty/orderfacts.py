"""What loyalty needs to know about an order, read in one light query (two if refunded).

Accrual runs once per order on the worker's hot path; the orders service's
``get_order`` loads the full ORM graph (four queries with ``selectinload``), which
costs more than the whole accrual. This reads the same facts with Core
``SELECT``s, read-only (analytics reads the orders tables the same way); writes to
orders always go through ``wafa.orders.service``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import Session

from wafa.core.errors import NotFound
from wafa.customers.models import Customer
from wafa.orders.models import Order, OrderLine, Refund, RefundLine
from wafa.orders.sales import is_sale

_ORDERS = cast(Table, Order.__table__)
_LINES = cast(Table, OrderLine.__table__)
_REFUNDS = cast(Table, Refund.__table__)
_REFUND_LINES = cast(Table, RefundLine.__table__)
_CUSTOMERS = cast(Table, Customer.__table__)

# One query: the order, its customer's state and its lines (one row per line).
_ORDER = (
    select(
        _ORDERS.c.id,
        _ORDERS.c.customer_id,
        _ORDERS.c.channel,
        _ORDERS.c.status,
        _ORDERS.c.subtotal_amount,
        _ORDERS.c.discount_amount,
        _ORDERS.c.shipping_amount,
        _ORDERS.c.tax_amount,
        _ORDERS.c.total_amount,
        _ORDERS.c.refunded_amount,
        _ORDERS.c.number,
        _ORDERS.c.external_id,
        _ORDERS.c.placed_at,
        _ORDERS.c.coupon_codes,
        _ORDERS.c.attributes,
        _CUSTOMERS.c.merged_into_id,
        _CUSTOMERS.c.erased_at,
        _CUSTOMERS.c.created_at.label("customer_created_at"),
        _LINES.c.line_no,
        _LINES.c.sku,
        _LINES.c.category,
        _LINES.c.quantity,
        _LINES.c.refunded_quantity,
        _LINES.c.unit_price_amount,
        _LINES.c.total_amount.label("line_total"),
    )
    .select_from(
        _ORDERS.outerjoin(_CUSTOMERS, _CUSTOMERS.c.id == _ORDERS.c.customer_id).outerjoin(
            _LINES, _LINES.c.order_id == _ORDERS.c.id
        )
    )
    .where(_ORDERS.c.id == bindparam("b_id"))
    .order_by(_LINES.c.line_no)
)
_REFUND_TOTALS = select(
    _REFUNDS.c.amount,
    select(func.coalesce(func.sum(_REFUND_LINES.c.amount), 0))
    .where(_REFUND_LINES.c.refund_id == _REFUNDS.c.id)
    .scalar_subquery(),
).where(_REFUNDS.c.order_id == bindparam("b_id"))


@dataclass(frozen=True)
class FactLine:
    line_no: int
    sku: str | None
    category: str | None
    quantity: int
    refunded_quantity: int
    unit_price_amount: int
    total_amount: int


@dataclass(frozen=True)
class RefundFact:
    amount: int
    lines_amount: int


@dataclass(frozen=True)
class OrderFacts:
    """The order as loyalty reads it (attribute names as on ``Order``)."""

    id: uuid.UUID
    customer_id: uuid.UUID | None
    channel: str
    status: str
    subtotal_amount: int
    discount_amount: int
    shipping_amount: int
    tax_amount: int
    total_amount: int
    refunded_amount: int
    number: str | None
    external_id: str
    placed_at: datetime
    coupon_codes: list[str]
    attributes: dict[str, Any]
    lines: tuple[FactLine, ...]
    refunds: tuple[RefundFact, ...]
    # The order's customer record: merged into another one, or erased.
    customer_merged_into: uuid.UUID | None = None
    customer_erased: bool = False
    customer_created_at: datetime | None = None

    @property
    def void(self) -> bool:
        """No sale (``orders.sales``): cancelled or fully refunded."""
        return not is_sale(self.status, self.total_amount, self.refunded_amount)


def order_facts(session: Session, order_id: uuid.UUID) -> OrderFacts:
    """The facts of one order; ``NotFound`` if there is no such order."""
    params = {"b_id": order_id}
    rows = session.execute(_ORDER, params).all()
    if not rows:
        raise NotFound(f"order {order_id} not found", order_id=order_id)
    row = rows[0]
    lines = tuple(
        FactLine(
            r.line_no,
            r.sku,
            r.category,
            r.quantity,
            r.refunded_quantity,
            r.unit_price_amount,
            r.line_total,
        )
        for r in rows
        if r.line_no is not None
    )
    refunds: tuple[RefundFact, ...] = ()
    if row.refunded_amount:
        refunds = tuple(
            RefundFact(int(a), int(b)) for a, b in session.execute(_REFUND_TOTALS, params)
        )
    return OrderFacts(
        id=row.id,
        customer_id=row.customer_id,
        channel=row.channel,
        status=row.status,
        subtotal_amount=row.subtotal_amount,
        discount_amount=row.discount_amount,
        shipping_amount=row.shipping_amount,
        tax_amount=row.tax_amount,
        total_amount=row.total_amount,
        refunded_amount=row.refunded_amount,
        number=row.number,
        external_id=row.external_id,
        placed_at=row.placed_at,
        coupon_codes=list(row.coupon_codes or []),
        attributes=dict(row.attributes or {}),
        lines=lines,
        refunds=refunds,
        customer_merged_into=row.merged_into_id,
        customer_erased=row.erased_at is not None,
        customer_created_at=row.customer_created_at,
    )
