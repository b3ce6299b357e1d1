"""Replenishment: who is about to run out of a product they buy on a rhythm.

The rule (one SQL statement, set-based on SQLite and PostgreSQL; no loop per customer):

- A customer's **purchase days** of a product are the distinct local days (the
  business's timezone) with a sale (``orders.sales.sold``) that has a line of that
  product, within the last ``LOOKBACK_DAYS``. Cancelled and fully refunded orders do
  not count; two baskets on one day are one purchase.
- With at least ``min_purchases`` purchase days (three by default: two intervals, so
  one odd gap is not taken for a habit), the customer's **own interval** for the
  product is ``(last day - first day) // (purchase days - 1)``: their average gap, in
  whole days. An interval under ``min_interval_days`` or over ``max_interval_days`` is
  no rhythm and reminds nobody.
- Their **expected next purchase** is ``last day + interval``. They are reminded on a
  local day ``D`` with ``expected - days_before <= D <= expected``: ``days_before``
  ahead, or on a later day of that window when the daily run was missed; never once
  the expected day has passed (an overdue customer is win-back's business).
- Once per cycle: the occasion is the product and the last purchase day, so buying the
  product again starts a new cycle, and a day run twice reminds nobody twice.
- Only live customers (not merged, not erased) and products that are active and
  repeatable (a one-off product has no rhythm).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from wafa.customers.models import Customer
from wafa.flows.spec import ReplenishTrigger
from wafa.orders.models import Order, OrderLine, Product
from wafa.orders.sales import local_day_expression, sold

__all__ = ["LOOKBACK_DAYS", "Due", "due_on"]

#: Purchases older than this do not count towards a rhythm.
LOOKBACK_DAYS = 365
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Due:
    """A customer to remind of a product: their interval and expected day."""

    customer_id: uuid.UUID
    product_id: uuid.UUID
    product_name: str
    sku: str
    purchases: int
    interval_days: int
    last_day: date
    expected_on: date

    @property
    def occasion(self) -> str:
        return f"replenish:{self.product_id}:{self.last_day.isoformat()}"

    def context(self) -> dict[str, object]:
        return {
            "product": {"id": str(self.product_id), "name": self.product_name, "sku": self.sku},
            "expected_on": self.expected_on.isoformat(),
            "interval_days": self.interval_days,
            "purchases": self.purchases,
        }


def due_on(session: Session, trigger: ReplenishTrigger, day: date, zone: str) -> list[Due]:
    """The customers to remind on local day ``day`` (one statement), soonest expected
    first."""
    today = (day - _EPOCH).days
    since = datetime.combine(day - timedelta(days=LOOKBACK_DAYS), time(0), tzinfo=UTC)
    until = datetime.combine(day + timedelta(days=2), time(0), tzinfo=UTC)
    local_day = local_day_expression(session, Order.placed_at, zone)
    per = (
        select(
            Order.customer_id.label("customer_id"),
            OrderLine.product_id.label("product_id"),
            func.count(func.distinct(local_day)).label("n"),
            func.min(local_day).label("first"),
            func.max(local_day).label("last"),
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(
            Order.customer_id.is_not(None),
            OrderLine.product_id.is_not(None),
            Order.placed_at >= since,
            Order.placed_at < until,
            sold(),
        )
        .group_by(Order.customer_id, OrderLine.product_id)
        .having(func.count(func.distinct(local_day)) >= trigger.min_purchases)
        .subquery()
    )
    interval = (per.c["last"] - per.c["first"]) // (per.c.n - 1)
    expected = per.c["last"] + interval
    rows = session.execute(
        select(
            per.c.customer_id,
            per.c.product_id,
            Product.name,
            Product.sku,
            per.c.n,
            interval.label("interval"),
            per.c["last"],
        )
        .join(Customer, Customer.id == per.c.customer_id)
        .join(Product, Product.id == per.c.product_id)
        .where(
            Customer.merged_into_id.is_(None),
            Customer.erased_at.is_(None),
            Product.active.is_(True),
            Product.repeatable.is_(True),
            and_(
                interval >= trigger.min_interval_days,
                interval <= trigger.max_interval_days,
            ),
            expected - trigger.days_before <= today,
            expected >= today,
            per.c["last"] < today,
        )
        .order_by(expected, per.c.customer_id, per.c.product_id)
    )
    found: list[Due] = []
    for customer_id, product_id, name, sku, n, gap, last in rows:
        last_day = _EPOCH + timedelta(days=int(last))
        found.append(
            Due(
                customer_id=customer_id,
                product_id=product_id,
                product_name=name,
                sku=sku,
                purchases=int(n),
                interval_days=int(gap),
                last_day=last_day,
                expected_on=last_day + timedelta(days=int(gap)),
            )
        )
    return found
