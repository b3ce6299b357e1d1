"""Bounce-back rules and the coupon a qualifying purchase earns for the next visit.

A rule says which purchases qualify (the order's total at least ``min_amount`` in the
business currency, a line in a category or of a product, the customer's first sale, a
channel, a location) and what the coupon gives. The coupon is single-use, bound to the
customer, valid from the first instant of the **next local day** in the business's
timezone for ``valid_days`` local days (``window``), so it cannot be spent on the
visit that earned it.

Issuing is exactly once per order: ``issue_for_order`` runs inside accrual (the point
of sale's synchronous call and the worker's ``order.placed`` handler), and first
inserts the order's ``BounceBackGrant`` under the order id's primary key. Whoever
inserts it judges the order; a retried or duplicated order, a second path or a
concurrent transaction finds the key taken and issues nothing. The coupon's own unique
``occasion`` (``bounceback:<order id>``) is a second lock on the same door.

Imported history issues nothing (it is not a visit happening now), nor does a void
order or a guest's; an order cancelled or refunded in full later voids its coupon if it
was not used yet (``void_for_order``, from accrual's reconciliation). A reproducible share of qualifying purchases (``holdout_percent``,
drawn by a hash of the rule and the order) is held out: its grant is written with no
coupon, and the report compares those customers with the others.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from wafa.core.calendars import end_of_day, last_day, local_date, start_of_day, ymd
from wafa.core.db import insert_new
from wafa.core.errors import Invalid, NotFound
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import codes, coupons
from wafa.loyalty.bounceback.schemas import Offer, RuleCreate
from wafa.loyalty.models import (
    BounceBackGrant,
    BounceBackRule,
    Coupon,
    CouponSource,
    CouponStatus,
)
from wafa.loyalty.orderfacts import OrderFacts
from wafa.orders.models import Location, Order
from wafa.orders.sales import sold

__all__ = [
    "coupon_for_order",
    "create_rule",
    "get_rule",
    "in_holdout",
    "issue_for_order",
    "list_rules",
    "personal_data",
    "qualifies",
    "update_rule",
    "void_for_order",
    "window",
]


# --------------------------------------------------------------------------- rules


def list_rules(session: Session) -> list[BounceBackRule]:
    """Every rule, in the order they are tried."""
    return list(
        session.scalars(
            select(BounceBackRule).order_by(BounceBackRule.priority, BounceBackRule.created_at)
        )
    )


def get_rule(session: Session, rule_id: uuid.UUID) -> BounceBackRule:
    """The rule ``rule_id``, or ``NotFound``."""
    rule = session.get(BounceBackRule, rule_id)
    if rule is None:
        raise NotFound(f"no bounce-back rule {rule_id}", rule_id=rule_id)
    return rule


def _check_location(session: Session, location_id: uuid.UUID | None) -> None:
    if location_id is not None and session.get(Location, location_id) is None:
        raise Invalid.field(("location_id",), "no such location")


def _values(data: RuleCreate) -> dict[str, object]:
    values = data.model_dump()
    values["channel"] = str(data.channel) if data.channel is not None else None
    # Keep only what the kind uses: a percentage typed on a free coffee means nothing.
    if data.kind != "discount_fixed":
        values["amount"] = None
    if data.kind != "discount_percent":
        values["percent_bp"] = None
    if data.kind not in ("free_product", "gift"):
        values["reward_sku"] = None
    return values


def create_rule(session: Session, *, data: RuleCreate, by: str | None) -> BounceBackRule:
    """A new rule; it applies to purchases recorded from now on."""
    _check_location(session, data.location_id)
    now = utcnow()
    rule = BounceBackRule(id=new_id(), created_by=by, created_at=now, updated_at=now)
    for key, value in _values(data).items():
        setattr(rule, key, value)
    session.add(rule)
    session.flush()
    return rule


def update_rule(session: Session, *, rule_id: uuid.UUID, data: RuleCreate) -> BounceBackRule:
    """Replace a rule's settings. Coupons already issued keep what they were issued with."""
    rule = get_rule(session, rule_id)
    _check_location(session, data.location_id)
    for key, value in _values(data).items():
        setattr(rule, key, value)
    rule.updated_at = utcnow()
    session.flush()
    return rule


def set_active(session: Session, *, rule_id: uuid.UUID, active: bool) -> BounceBackRule:
    """Switch a rule on or off."""
    rule = get_rule(session, rule_id)
    rule.active = active
    rule.updated_at = utcnow()
    session.flush()
    return rule


# --------------------------------------------------------------------------- judging


def window(placed_at: datetime, valid_days: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The coupon's validity for a purchase at ``placed_at``: from the first instant of
    the next local day in ``zone``, for ``valid_days`` local days (exclusive end), in UTC."""
    placed_on = local_date(placed_at, zone)
    first = placed_on + timedelta(days=1)
    return (
        start_of_day(first, zone).astimezone(UTC),
        end_of_day(first + timedelta(days=valid_days - 1), zone).astimezone(UTC),
    )


def in_holdout(rule_id: uuid.UUID, order_id: uuid.UUID, percent: int) -> bool:
    """Whether this purchase falls in the rule's holdout: the same answer every time."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"bounceback:{rule_id}:{order_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < percent * 100


def _is_first_sale(session: Session, order: OrderFacts, customer_ids: set[uuid.UUID]) -> bool:
    earlier = session.scalar(
        select(Order.id)
        .where(
            Order.customer_id.in_(customer_ids),
            Order.id != order.id,
            or_(
                Order.placed_at < order.placed_at,
                and_(Order.placed_at == order.placed_at, Order.id < order.id),
            ),
            sold(),
        )
        .limit(1)
    )
    return earlier is None


def qualifies(
    rule: BounceBackRule,
    order: OrderFacts,
    *,
    currency: str,
    order_currency: str,
    location_id: uuid.UUID | None,
    first_sale: bool | None,
) -> bool:
    """Whether ``order`` meets ``rule`` (``first_sale`` is read only when the rule asks)."""
    if not rule.active:
        return False
    if rule.min_amount > 0 and (
        order_currency != currency or order.total_amount - order.refunded_amount < rule.min_amount
    ):
        return False
    if rule.category is not None and not any(
        (ln.category or "").casefold() == rule.category.casefold() for ln in order.lines
    ):
        return False
    if rule.product_sku is not None and not any(ln.sku == rule.product_sku for ln in order.lines):
        return False
    if rule.channel is not None and order.channel != rule.channel:
        return False
    if rule.location_id is not None and location_id != rule.location_id:
        return False
    return not (rule.first_purchase_only and not first_sale)


def _active_rules(session: Session) -> list[BounceBackRule]:
    return list(
        session.scalars(
            select(BounceBackRule)
            .where(BounceBackRule.active.is_(True))
            .order_by(BounceBackRule.priority, BounceBackRule.created_at)
        )
    )


def issue_for_order(
    session: Session,
    *,
    settings: Settings,
    order: OrderFacts,
    customer_id: uuid.UUID,
    imported: bool,
    now: datetime,
) -> BounceBackGrant | None:
    """Judge a purchase once and hand it its next-visit coupon (or hold it out).

    Returns the grant this call wrote, ``None`` when nothing qualifies, the order was
    judged already, or it is imported history, void or a guest's.
    """
    if imported or order.void:
        return None
    rules = _active_rules(session)
    if not rules:
        return None
    row = session.execute(
        select(Order.currency, Order.location_id).where(Order.id == order.id)
    ).one()
    first_sale: bool | None = None
    if any(r.first_purchase_only for r in rules):
        first_sale = _is_first_sale(
            session, order, {customer_id, *([order.customer_id] if order.customer_id else [])}
        )
    rule = next(
        (
            r
            for r in rules
            if qualifies(
                r,
                order,
                currency=settings.currency,
                order_currency=row.currency,
                location_id=row.location_id,
                first_sale=first_sale,
            )
        ),
        None,
    )
    if rule is None:
        return None
    valid_from, expires_at = window(order.placed_at, rule.valid_days, settings.zone)
    holdout = in_holdout(rule.id, order.id, rule.holdout_percent)
    if not insert_new(
        session,
        BounceBackGrant,
        index_elements=["order_id"],
        values={
            "order_id": order.id,
            "rule_id": rule.id,
            "customer_id": customer_id,
            "placed_at": order.placed_at,
            "holdout": holdout,
            "coupon_id": None,
            "valid_from": valid_from,
            "expires_at": expires_at,
            "created_at": now,
        },
    ):
        return None  # judged already (a retry, the other path, a concurrent transaction)
    if not holdout:
        coupon = coupons.issue(
            session,
            source=CouponSource.bounce_back,
            name=rule.name,
            discount_kind=rule.kind,
            currency=settings.currency,
            now=now,
            customer_id=customer_id,
            amount=rule.amount,
            percent_bp=rule.percent_bp,
            product_sku=rule.reward_sku,
            max_uses=1,
            min_order_amount=rule.coupon_min_order,
            valid_from=valid_from,
            expires_at=expires_at,
            occasion=f"bounceback:{order.id}",
            created_by=f"bounceback:{rule.id}",
        )
        session.execute(
            update(BounceBackGrant)
            .where(BounceBackGrant.order_id == order.id)
            .values(coupon_id=coupon.id)
            .execution_options(synchronize_session=False)
        )
    return session.get(BounceBackGrant, order.id, populate_existing=True)


def void_for_order(session: Session, *, order_id: uuid.UUID) -> bool:
    """A cancelled or fully refunded order takes back its next-visit coupon, unless it was
    used already; ``True`` if a coupon was voided now. The grant stays (the report counts
    what was handed out)."""
    coupon = session.scalar(
        select(Coupon)
        .join(BounceBackGrant, BounceBackGrant.coupon_id == Coupon.id)
        .where(BounceBackGrant.order_id == order_id)
    )
    if coupon is None or coupon.status == CouponStatus.voided or coupon.uses > 0:
        return False
    coupons.void(
        session, code=coupon.code, reason="the order that earned it was cancelled", by="bounceback"
    )
    return True


# --------------------------------------------------------------------------- reading


def coupon_for_order(session: Session, *, settings: Settings, order_id: uuid.UUID) -> Offer | None:
    """The next-visit coupon ``order_id`` earned, for its receipt and its confirmation."""
    coupon = session.scalar(
        select(Coupon)
        .join(BounceBackGrant, BounceBackGrant.coupon_id == Coupon.id)
        .where(BounceBackGrant.order_id == order_id)
    )
    if coupon is None or coupon.valid_from is None or coupon.expires_at is None:
        return None
    return Offer(
        order_id=order_id,
        code=codes.display(coupon.code),
        name=coupon.name,
        kind=coupon.discount_kind,
        amount=coupon.amount,
        percent_bp=coupon.percent_bp,
        product_sku=coupon.product_sku,
        currency=coupon.currency,
        min_order_amount=coupon.min_order_amount,
        valid_from=coupon.valid_from,
        expires_at=coupon.expires_at,
        first_day=local_date(coupon.valid_from, settings.zone),
        last_day=last_day(coupon.expires_at, settings.zone),
    )


def personal_data(session: Session, customer_id: uuid.UUID) -> list[dict[str, object]]:
    """The purchases that earned the person a next-visit coupon or put them in the holdout
    (for their data export)."""
    rows = session.execute(
        select(BounceBackGrant, BounceBackRule.name)
        .join(BounceBackRule, BounceBackRule.id == BounceBackGrant.rule_id)
        .where(BounceBackGrant.customer_id == customer_id)
        .order_by(BounceBackGrant.placed_at)
    ).all()
    return [
        {
            "offer": name,
            "order_id": str(g.order_id),
            "held_out": g.holdout,
            "coupon_id": str(g.coupon_id) if g.coupon_id else None,
            "valid_from": g.valid_from.isoformat(),
            "expires_at": g.expires_at.isoformat(),
        }
        for g, name in rows
    ]


def day_text(day: date, settings: Settings) -> str:
    """A local day as the business writes it (``1405/09/16`` in Jalali), Latin digits."""
    y, m, d = ymd(day, settings.calendar)
    return f"{y:04d}/{m:02d}/{d:02d}"
