"""Read-side queries over orders for the dashboard: search, detail, per-customer totals, KPIs.

Functions named ``*_query`` return a ``Select``; the others run one or a few of them
and return plain data. Money is summed in the database in integer minor units, per
currency; "revenue" is net of refunds and counts only sales (``orders.sales``).
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from wafa.core.cache import Kept
from wafa.core.calendars import add_months, local_date, month_start, start_of_day
from wafa.core.db import database_key
from wafa.core.errors import Invalid, NotFound
from wafa.core.settings import CalendarKind
from wafa.core.text import ascii_digits, search_key
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.orders.models import Channel, Location, Order, OrderStatus, Refund
from wafa.orders.sales import repeat_customers_query, sale_condition, sold

logger = logging.getLogger(__name__)

NET_AMOUNT = Order.total_amount - Order.refunded_amount


# --------------------------------------------------------------------------- search


@dataclass(frozen=True)
class OrderRow:
    """An order as a list shows it, with its customer's name."""

    order: Order
    customer_name: str | None


@dataclass(frozen=True)
class OrderFilters:
    """What the orders list is narrowed by (all optional)."""

    q: str | None = None
    status: str | None = None
    channel: str | None = None
    customer_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.status and self.status not in OrderStatus.__members__:
            raise Invalid.field(("status",), f"unknown status {self.status!r}")
        if self.channel and self.channel not in Channel.__members__:
            raise Invalid.field(("channel",), f"unknown channel {self.channel!r}")


def encode_order_cursor(placed_at: datetime, order_id: uuid.UUID) -> str:
    """Opaque keyset cursor over (placed_at, id), newest first."""
    raw = f"{placed_at.isoformat()}|{order_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_order_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Read a cursor made by ``encode_order_cursor``; a damaged one is ``Invalid``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        placed_at = datetime.fromisoformat(stamp)
        if placed_at.tzinfo is None:
            raise ValueError("naive")
        return placed_at, uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError):
        raise Invalid.field(("cursor",), "not a cursor from this list") from None


def order_search_query(filters: OrderFilters) -> Select[Order, str | None]:
    """Orders matching ``filters``, newest placed first, with the customer's name.

    ``q`` matches the order number and external id, the contact email, phone and name
    carried by the order, and the customer's (folded) name.
    """
    stmt = select(Order, Customer.name).outerjoin(Customer, Customer.id == Order.customer_id)
    if filters.customer_id is not None:
        stmt = stmt.where(Order.customer_id == filters.customer_id)
    if filters.status:
        stmt = stmt.where(Order.status == filters.status)
    if filters.channel:
        stmt = stmt.where(Order.channel == filters.channel)
    if filters.q and filters.q.strip():
        text = filters.q.strip()
        key = search_key(text) or ""
        digits = "".join(ch for ch in ascii_digits(text) if ch.isdigit())
        clauses = [
            Order.number.icontains(text, autoescape=True),
            Order.external_id.icontains(text, autoescape=True),
            Order.contact_email.icontains(text, autoescape=True),
            Order.contact_name.icontains(text, autoescape=True),
            Customer.search_name.contains(key, autoescape=True),
        ]
        if len(digits) >= 3:
            clauses.append(Order.contact_phone.contains(digits.lstrip("0") or digits))
        stmt = stmt.where(or_(*clauses))
    return stmt.order_by(Order.placed_at.desc(), Order.id.desc())


def search_orders(
    session: Session, *, filters: OrderFilters, limit: int = 50, cursor: str | None = None
) -> tuple[list[OrderRow], str | None]:
    """A page of orders matching ``filters`` and the cursor of the next page."""
    stmt = order_search_query(filters)
    if cursor:
        placed_at, order_id = decode_order_cursor(cursor)
        stmt = stmt.where(
            or_(
                Order.placed_at < placed_at,
                and_(Order.placed_at == placed_at, Order.id < order_id),
            )
        )
    rows = [OrderRow(order, name) for order, name in session.execute(stmt.limit(limit + 1))]
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1].order
        nxt = encode_order_cursor(last.placed_at, last.id)
    return rows[:limit], nxt


# --------------------------------------------------------------------------- detail


@dataclass(frozen=True)
class OrderDetail:
    """An order with its lines and refunds, its customer and its location."""

    order: Order
    customer: Customer | None
    location: Location | None


def order_detail(session: Session, order_id: uuid.UUID) -> OrderDetail:
    """Everything the order page shows."""
    order = session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .options(selectinload(Order.lines), selectinload(Order.refunds).selectinload(Refund.lines))
    )
    if order is None:
        raise NotFound(f"order {order_id} not found", order_id=order_id)
    customer = session.get(Customer, order.customer_id) if order.customer_id else None
    location = session.get(Location, order.location_id) if order.location_id else None
    return OrderDetail(order, customer, location)


# --------------------------------------------------------------------------- per customer


@dataclass(frozen=True)
class CustomerTotals:
    """A customer's purchases: count, net spend per currency, last order."""

    orders: int = 0
    spend: dict[str, int] = field(default_factory=dict)
    last_order_at: datetime | None = None


def customer_totals_query(
    customer_ids: Iterable[uuid.UUID],
) -> Select[uuid.UUID | None, str, int, int, datetime]:
    """Per (customer, currency): number of sales, net spend and last order."""
    return (
        select(
            Order.customer_id,
            Order.currency,
            func.count(Order.id),
            func.coalesce(func.sum(NET_AMOUNT), 0),
            func.max(Order.placed_at),
        )
        .where(Order.customer_id.in_(list(customer_ids)), sold())
        .group_by(Order.customer_id, Order.currency)
    )


def customer_totals(
    session: Session, customer_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, CustomerTotals]:
    """Totals for each of ``customer_ids`` (customers without sales are absent)."""
    if not customer_ids:
        return {}
    out: dict[uuid.UUID, CustomerTotals] = {}
    for customer_id, currency, count, spend, last in session.execute(
        customer_totals_query(customer_ids)
    ):
        if customer_id is None:  # pragma: no cover - filtered by the query
            continue
        seen = out.get(customer_id, CustomerTotals())
        out[customer_id] = CustomerTotals(
            orders=seen.orders + int(count),
            spend={**seen.spend, currency: int(spend)},
            last_order_at=max(filter(None, (seen.last_order_at, last)), default=None),
        )
    return out


# --------------------------------------------------------------------------- overview


@dataclass(frozen=True)
class MonthRevenue:
    """Net sales of one month of the business calendar, in the business currency."""

    month: date
    amount: int
    orders: int


@dataclass(frozen=True)
class Overview:
    """The home page's figures for the current month of the business calendar."""

    month: date
    customers: int
    new_customers: int  # first purchase this month
    orders: int
    orders_previous: int  # last month, up to the same point of the month
    revenue: int
    revenue_previous: int  # likewise
    currency: str
    repeat_rate: float | None
    buyers: int
    months: list[MonthRevenue]
    channels: dict[str, int]
    recent: list[OrderRow]

    @property
    def average_order(self) -> int | None:
        """Average net order value this month (minor units)."""
        return self.revenue // self.orders if self.orders else None


def month_bounds(
    today: date, zone: ZoneInfo, calendar: CalendarKind, *, back: int = 0
) -> tuple[date, datetime, datetime]:
    """The month ``back`` months before ``today``'s: its first day, start and end instants."""
    first = add_months(month_start(today, calendar), -back, calendar)
    following = add_months(first, 1, calendar)
    return first, start_of_day(first, zone), start_of_day(following, zone)


def sales_query(start: datetime, end: datetime, currency: str) -> Select[int, int]:
    """Number of sales and net revenue in ``currency`` placed in ``[start, end)``."""
    return select(func.count(Order.id), func.coalesce(func.sum(NET_AMOUNT), 0)).where(
        Order.placed_at >= start,
        Order.placed_at < end,
        Order.currency == currency,
        sold(),
    )


def monthly_sales_query(
    bounds: Sequence[tuple[datetime, datetime]], currency: str
) -> Select[*tuple[Any, ...]]:
    """One row: for each ``[start, end)`` bucket, its number of sales and net revenue."""
    columns = []
    for start, end in bounds:
        inside = and_(Order.placed_at >= start, Order.placed_at < end)
        columns.append(func.coalesce(func.sum(case((inside, 1), else_=0)), 0))
        columns.append(func.coalesce(func.sum(case((inside, NET_AMOUNT), else_=0)), 0))
    return select(*columns).where(
        Order.placed_at >= bounds[0][0],
        Order.placed_at < bounds[-1][1],
        Order.currency == currency,
        sold(),
    )


def new_buyers_query(start: datetime, end: datetime) -> Select[int]:
    """Customers whose first purchase falls in ``[start, end)``: a sale in the window and
    none before it (read through the orders' (customer, placed_at) index, so the cost
    follows the window's orders, not the whole history)."""
    earlier = aliased(Order)
    before = (
        select(literal(1))
        .where(
            earlier.customer_id == Order.customer_id,
            earlier.placed_at < start,
            sale_condition(earlier.status, earlier.total_amount, earlier.refunded_amount),
        )
        .exists()
    )
    return select(func.count(func.distinct(Order.customer_id))).where(
        Order.placed_at >= start,
        Order.placed_at < end,
        Order.customer_id.is_not(None),
        sold(),
        ~before,
    )


# Some overview figures read many orders: the all-time repeat figure reads every order,
# this month's first-time buyers every order of the month (seconds on a store of a
# million customers). When one is slow, the answer is kept per database and served for
# KEEP_SECONDS; after that the stale answer is still served while a fresh one is computed
# in the background, so the overview never waits for it twice. A quick answer (a small
# store, the tests) is never kept.
SLOW_SECONDS = 0.3
KEEP_SECONDS = 120.0
FIGURES: Kept[tuple[int, ...]] = Kept("wafa-overview", ttl=KEEP_SECONDS)


def _kept_figure(
    session: Session, name: str, build: Callable[[Session], Select[*tuple[Any, ...]]]
) -> tuple[int, ...]:
    """Run ``build(session)`` (one row of whole numbers), or serve its kept answer (see above).

    The statement is built for the session that runs it (on SQLite a statement may need a
    function registered on that session's connection).
    """
    database = database_key(session)
    engine = session.get_bind()

    def compute() -> tuple[int, ...]:
        return tuple(int(v or 0) for v in session.execute(build(session)).one())

    def refresh() -> tuple[int, ...]:
        with Session(engine) as fresh:
            return tuple(int(v or 0) for v in fresh.execute(build(fresh)).one())

    return FIGURES.get_or_compute(
        (database, name) if database is not None else None,
        compute,
        keep_if=lambda seconds: seconds >= SLOW_SECONDS,
        refresh=refresh,
    )


def has_orders(session: Session) -> bool:
    """Whether the store has any order at all (its currency is then fixed)."""
    return session.scalar(select(Order.id).limit(1)) is not None


def repeat_buyers(session: Session, *, zone: str, currency: str) -> tuple[int, int]:
    """Return (repeat customers, customers who bought), all time: the rule of ``orders.sales``
    (two or more purchase days in the business's timezone, sales in its currency)."""
    repeaters, buyers = _kept_figure(
        session,
        f"repeat buyers {zone} {currency}",
        lambda s: repeat_customers_query(s, zone=zone, currency=currency),
    )
    return repeaters, buyers


def new_buyers(session: Session, start: datetime, end: datetime) -> int:
    """Return how many customers made their first purchase in ``[start, end)``."""
    (count,) = _kept_figure(
        session, f"new buyers {start.isoformat()}", lambda _s: new_buyers_query(start, end)
    )
    return count


def channel_query(start: datetime, end: datetime) -> Select[str, int]:
    """Number of sales per channel in ``[start, end)``."""
    return (
        select(Order.channel, func.count(Order.id))
        .where(Order.placed_at >= start, Order.placed_at < end, sold())
        .group_by(Order.channel)
    )


def overview(
    session: Session,
    *,
    now: datetime,
    zone: ZoneInfo,
    calendar: CalendarKind,
    currency: str,
    months: int = 6,
    recent: int = 8,
) -> Overview:
    """This month's figures (in the business zone and calendar) and the last ``months`` months."""
    today = local_date(now, zone)
    first, start, end = month_bounds(today, zone, calendar)
    buckets = [month_bounds(today, zone, calendar, back=b) for b in range(months - 1, -1, -1)]
    row = session.execute(monthly_sales_query([(s, e) for _, s, e in buckets], currency)).one()
    series = [
        MonthRevenue(month=m, orders=int(row[2 * i]), amount=int(row[2 * i + 1]))
        for i, (m, _, _) in enumerate(buckets)
    ]
    this_month = series[-1]
    # Compare like with like: last month up to the same point of the month.
    _, previous_start, previous_end = month_bounds(today, zone, calendar, back=1)
    cutoff = min(previous_start + (now - start), previous_end)
    previous_orders, previous_revenue = session.execute(
        sales_query(previous_start, cutoff, currency)
    ).one()
    repeaters, buyers = repeat_buyers(session, zone=zone.key, currency=currency)
    first_time = new_buyers(session, start, end)
    recent_rows, _ = search_orders(session, filters=OrderFilters(), limit=recent)
    return Overview(
        month=first,
        customers=customers.count_customers(session),
        new_customers=first_time,
        orders=this_month.orders,
        orders_previous=int(previous_orders),
        revenue=this_month.amount,
        revenue_previous=int(previous_revenue),
        currency=currency,
        repeat_rate=(int(repeaters) / int(buyers)) if buyers else None,
        buyers=int(buyers),
        months=series,
        channels={str(c): int(n) for c, n in session.execute(channel_query(start, end))},
        recent=recent_rows,
    )


def orders_on_merged_records(session: Session) -> list[tuple[uuid.UUID, int]]:
    """Merged records that still hold orders (a merge moves them all): ``(customer, count)``."""
    return [
        (cid, int(n))
        for cid, n in session.execute(
            select(Order.customer_id, func.count())
            .join(Customer, Customer.id == Order.customer_id)
            .where(Customer.merged_into_id.is_not(None))
            .group_by(Order.customer_id)
            .order_by(Order.customer_id)
        )
        if cid is not None
    ]
