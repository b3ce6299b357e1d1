"""Orders against their promise: the late list and the on-time rates, one rule for both.

An order **kept its promise** when it was delivered at or before its promised time. It
is **late** when the promised time has passed and it is not delivered yet (overdue), or
when it was delivered after the promise. Only sales count (``orders.sales``): a
cancelled or fully refunded order is neither late nor on time. An order without a
promised time says nothing about delivery.

The on-time rate of a group is the share of its delivered orders with a promise that
were delivered on time (the figure the analytics page shows for the whole store);
overdue orders are listed but not rated until they are delivered. Months are months of
the promised time in the business's timezone and calendar (Jalali months where the
business counts in Jalali).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from wafa.core.calendars import from_ymd, month_key
from wafa.core.settings import CalendarKind
from wafa.customers.models import Customer
from wafa.orders.models import Location, Order, Refund
from wafa.orders.sales import sold

__all__ = [
    "LateFilters",
    "LateOrder",
    "Lateness",
    "Rate",
    "late_condition",
    "late_orders",
    "location_choices",
    "on_time_condition",
    "rates",
]


class Lateness(StrEnum):
    """Which late orders a list shows."""

    overdue = "overdue"  # the promise passed, not delivered
    delivered_late = "delivered_late"  # delivered after the promise


def on_time_condition() -> ColumnElement[bool]:
    """SQL: delivered at or before the promise (a sale with a promise, delivered)."""
    return and_(
        sold(),
        Order.promised_at.is_not(None),
        Order.delivered_at.is_not(None),
        Order.delivered_at <= Order.promised_at,
    )


def _overdue(now: datetime) -> ColumnElement[bool]:
    return and_(Order.delivered_at.is_(None), Order.promised_at < now)


def _delivered_late() -> ColumnElement[bool]:
    return and_(Order.delivered_at.is_not(None), Order.delivered_at > Order.promised_at)


def late_condition(now: datetime, which: Lateness | None = None) -> ColumnElement[bool]:
    """SQL: the order is late at ``now`` (``which`` kind of late only, when given)."""
    kinds = {
        Lateness.overdue: _overdue(now),
        Lateness.delivered_late: _delivered_late(),
    }
    chosen = kinds[which] if which is not None else or_(*kinds.values())
    return and_(sold(), Order.promised_at.is_not(None), chosen)


@dataclass(frozen=True)
class LateFilters:
    """What the late list is narrowed to."""

    which: Lateness | None = None
    channel: str | None = None
    location_id: uuid.UUID | None = None


@dataclass(frozen=True)
class LateOrder:
    """One late order as the list shows it."""

    order: Order
    customer_name: str | None
    location_name: str | None
    which: Lateness
    late_by: timedelta  # how long after the promise it was delivered, or until now


def late_orders(
    session: Session,
    *,
    now: datetime,
    filters: LateFilters,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[LateOrder], int]:
    """A page of late orders (overdue first, the longest waiting first) and their count."""
    condition = late_condition(now, filters.which)
    if filters.channel:
        condition = and_(condition, Order.channel == filters.channel)
    if filters.location_id is not None:
        condition = and_(condition, Order.location_id == filters.location_id)
    total = int(session.scalar(select(func.count()).select_from(Order).where(condition)) or 0)
    overdue_first = case((Order.delivered_at.is_(None), 0), else_=1)
    stmt = (
        select(Order, Customer.name, Location.name)
        .outerjoin(Customer, Customer.id == Order.customer_id)
        .outerjoin(Location, Location.id == Order.location_id)
        .where(condition)
        .order_by(overdue_first, Order.promised_at, Order.id)
        .options(selectinload(Order.lines), selectinload(Order.refunds).selectinload(Refund.lines))
        .limit(limit)
        .offset(offset)
    )
    rows = []
    for order, customer_name, location_name in session.execute(stmt):
        assert order.promised_at is not None  # the condition requires it
        if order.delivered_at is None:
            rows.append(
                LateOrder(
                    order, customer_name, location_name, Lateness.overdue, now - order.promised_at
                )
            )
        else:
            rows.append(
                LateOrder(
                    order,
                    customer_name,
                    location_name,
                    Lateness.delivered_late,
                    order.delivered_at - order.promised_at,
                )
            )
    return rows, total


@dataclass(frozen=True)
class Rate:
    """On-time delivery of one group: delivered orders with a promise, and on time."""

    key: str  # a channel, a location's name, or a month ("2026-03", "1405-01")
    delivered: int
    on_time: int
    overdue: int = 0
    start: date | None = None  # a month's first day (Gregorian), for its label

    @property
    def rate(self) -> float | None:
        """The share delivered on time (``None`` when nothing was delivered)."""
        return self.on_time / self.delivered if self.delivered else None


def rates(
    session: Session,
    *,
    by: str,
    now: datetime,
    timezone: str,
    calendar: CalendarKind,
    since: datetime | None = None,
) -> list[Rate]:
    """On-time rates grouped ``by`` ``channel``, ``location`` or ``month`` (of the promise).

    Months follow the business's timezone and calendar: the promises are counted per
    quarter-hour in SQL (every timezone's offset is a multiple of 15 minutes) and each
    quarter-hour is placed in its local month here.
    """
    delivered = and_(sold(), Order.promised_at.is_not(None), Order.delivered_at.is_not(None))
    on_time = case((Order.delivered_at <= Order.promised_at, 1), else_=0)
    overdue = case((_overdue(now), 1), else_=0)
    is_delivered = case((Order.delivered_at.is_not(None), 1), else_=0)
    base = and_(sold(), Order.promised_at.is_not(None), or_(delivered, _overdue(now)))
    if since is not None:
        base = and_(base, Order.promised_at >= since)
    counts = (
        func.coalesce(func.sum(is_delivered), 0),
        func.coalesce(func.sum(on_time * is_delivered), 0),
        func.coalesce(func.sum(overdue), 0),
    )
    if by == "channel":
        found = session.execute(
            select(Order.channel, *counts)
            .where(base)
            .group_by(Order.channel)
            .order_by(Order.channel)
        )
        return [Rate(str(k), int(d), int(o), int(v)) for k, d, o, v in found]
    if by == "location":
        name = func.coalesce(Location.name, "")
        found = session.execute(
            select(name, *counts)
            .select_from(Order)
            .outerjoin(Location, Location.id == Order.location_id)
            .where(base)
            .group_by(name)
            .order_by(name)
        )
        return [Rate(str(k), int(d), int(o), int(v)) for k, d, o, v in found]
    if by != "month":
        raise ValueError(f"rates by {by!r}: use channel, location or month")
    quarter = _quarter_hour(session)
    found = session.execute(select(quarter, *counts).where(base).group_by(quarter))
    zone = ZoneInfo(timezone)
    months: dict[int, list[int]] = {}
    for stamp, d, o, v in found:
        local = _utc_quarter(stamp).astimezone(zone).date()
        totals = months.setdefault(month_key(local, calendar), [0, 0, 0])
        totals[0] += int(d)
        totals[1] += int(o)
        totals[2] += int(v)
    found_months = []
    for key, (d, o, v) in sorted(months.items()):
        year, month = divmod(key, 12)
        start = from_ymd(year, month + 1, 1, calendar)
        found_months.append(Rate(f"{year:04d}-{month + 1:02d}", d, o, v, start))
    return found_months


def _quarter_hour(session: Session) -> ColumnElement[str]:
    """SQL: the promised time's quarter-hour in UTC, as text ``YYYY-MM-DD HH:MM``."""
    promised = Order.promised_at
    if session.get_bind().dialect.name == "postgresql":
        utc = func.timezone("UTC", promised)
        quarters = cast(func.floor(func.extract("minute", utc) / 15), Integer)
        start = func.date_trunc("hour", utc) + func.make_interval(0, 0, 0, 0, 0, quarters * 15)
        return func.to_char(start, "YYYY-MM-DD HH24:MI")
    # SQLite keeps instants as UTC text: the hour, and the minutes down to the quarter.
    minutes = (cast(func.strftime("%M", promised), Integer) // 15) * 15
    return func.strftime("%Y-%m-%d %H:", promised).concat(func.printf("%02d", minutes))


def _utc_quarter(stamp: str) -> datetime:
    """The quarter-hour ``stamp`` (UTC text) as an aware datetime."""
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def location_choices(session: Session) -> Sequence[Location]:
    """The locations a filter offers."""
    return list(session.scalars(select(Location).order_by(Location.name)))
