"""What the bounce-back offers did: coupons used, and customers coming back against the holdout.

Each qualifying purchase (a ``BounceBackGrant``) was drawn into the coupon group or the
holdout when it was judged (``service.in_holdout``), so the two groups differ only by
the coupon. For each grant, the **window** is the coupon's own validity (from the next
local day for the rule's days; the holdout's grant keeps the window it would have had),
and the measures are the customer's sales (``wafa.orders.sales``: not cancelled, not
refunded in full, in the business currency) placed in the window: whether there was
one (*came back*), how many, and their revenue net of refunds.

Counts (qualifying, issued, held out, used) cover every grant of the period. The
comparison counts only **matured** grants, whose window is over, so both groups had
their whole window; the rest are ``pending``. Method: ``wafa.core.holdout`` (one
grouped query for both groups; difference of means with a 95 % normal-approximation
interval and Welch's standard error), read as intention to treat: a coupon not used
still counts in the coupon group.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from wafa.core.calendars import end_of_day, start_of_day
from wafa.core.holdout import METHOD, Comparison, Group, effects, holdout_groups
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty.models import BounceBackGrant, Coupon
from wafa.orders.models import Order
from wafa.orders.sales import sold

__all__ = ["Report", "report"]


@dataclass(frozen=True)
class Report:
    currency: str
    since: date | None
    until: date | None
    rule_id: uuid.UUID | None
    qualifying: int
    issued: int
    held_out: int
    used: int
    pending: int
    matured_issued: int
    matured_held_out: int
    came_back_issued: int
    came_back_held_out: int
    used_matured: int
    came_back: Comparison
    orders: Comparison
    revenue: Comparison
    coupon_group: Group
    holdout_group: Group
    method: str = METHOD


def _filters(
    settings: Settings, rule_id: uuid.UUID | None, since: date | None, until: date | None
) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if rule_id is not None:
        found.append(BounceBackGrant.rule_id == rule_id)
    if since is not None:
        found.append(BounceBackGrant.placed_at >= start_of_day(since, settings.zone))
    if until is not None:
        found.append(BounceBackGrant.placed_at < end_of_day(until, settings.zone))
    return found


def report(
    session: Session,
    *,
    settings: Settings,
    rule_id: uuid.UUID | None = None,
    since: date | None = None,
    until: date | None = None,
    now: datetime | None = None,
) -> Report:
    """The offers' figures for purchases placed on local days ``since``..``until`` (inclusive)."""
    now = now or utcnow()
    where = _filters(settings, rule_id, since, until)
    used_coupon = func.coalesce(Coupon.uses, 0) > 0
    matured = BounceBackGrant.expires_at <= now
    counts = session.execute(
        select(
            func.count(),
            func.count().filter(BounceBackGrant.holdout.is_(False)),
            func.count().filter(BounceBackGrant.holdout.is_(True)),
            func.count().filter(used_coupon),
            func.count().filter(~matured),
            func.count().filter(used_coupon, matured),
        )
        .select_from(BounceBackGrant)
        .outerjoin(Coupon, Coupon.id == BounceBackGrant.coupon_id)
        .where(*where)
    ).one()
    per_grant = (
        select(
            BounceBackGrant.order_id.label("order_id"),
            BounceBackGrant.holdout.label("holdout"),
            func.count(Order.id).label("n"),
            func.coalesce(func.sum(Order.total_amount - Order.refunded_amount), 0).label("rev"),
        )
        .select_from(BounceBackGrant)
        .outerjoin(
            Order,
            and_(
                Order.customer_id == BounceBackGrant.customer_id,
                Order.placed_at >= BounceBackGrant.valid_from,
                Order.placed_at < BounceBackGrant.expires_at,
                Order.currency == settings.currency,
                sold(),
            ),
        )
        .where(*where, matured)
        .group_by(BounceBackGrant.order_id, BounceBackGrant.holdout)
        .subquery()
    )
    groups = holdout_groups(session, per_grant)
    got, held = groups[False], groups[True]
    measured = effects(got, held)
    return Report(
        currency=settings.currency,
        since=since,
        until=until,
        rule_id=rule_id,
        qualifying=int(counts[0]),
        issued=int(counts[1]),
        held_out=int(counts[2]),
        used=int(counts[3]),
        pending=int(counts[4]),
        matured_issued=got.customers,
        matured_held_out=held.customers,
        came_back_issued=got.buyers,
        came_back_held_out=held.buyers,
        used_matured=int(counts[5]),
        came_back=measured.conversion,
        orders=measured.orders,
        revenue=measured.revenue,
        coupon_group=got,
        holdout_group=held,
    )
