"""Coupons: issued by rewards, stamp cards, birthdays and referrals, or created as campaigns.

A use is recorded once per ``(coupon, order reference)``: the outbox handler of
``order.placed`` (for ``coupon_codes`` on the order) and the point of sale's redeem
call are both safe to repeat. A use moves ``uses`` with a guarded
``UPDATE … WHERE uses < max_uses``: a single-use coupon cannot be used twice,
whatever the concurrency. The per-customer limit is held by the unique
``(coupon, customer, seq)`` key on uses.

About 610 lines: issuing, checking and using a coupon are one lifecycle with one lock
order, kept in one module.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wafa.core.calendars import end_of_day
from wafa.core.db import insert_ignoring_conflicts, rowcount
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.events import emit, emit_many
from wafa.core.ids import new_id
from wafa.core.money import apply_rate_bp
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import codes, events
from wafa.loyalty.models import (
    Coupon,
    CouponSource,
    CouponStatus,
    CouponUse,
    Redemption,
    RedemptionStatus,
    Reward,
    RewardKind,
)
from wafa.loyalty.schemas.io import CartLine, CouponCreate, dates_problems

_COUPONS = cast(Table, Coupon.__table__)


class CouponRejected(Conflict):
    """The coupon cannot be used; ``reason`` says why (a slug the UI translates)."""

    code = "coupon-rejected"
    title = "Coupon not accepted"


# Why a coupon is not valid, as slugs; loyalty.po has their wording.
REASONS = (
    "not_found",
    "voided",
    "not_yet_valid",
    "expired",
    "used_up",
    "customer_limit",
    "other_customer",
    "customer_required",
    "minimum_order",
)


@dataclass(frozen=True)
class Validation:
    valid: bool
    discount: int
    reason: str | None = None
    coupon: Coupon | None = None


def find(session: Session, code: str) -> Coupon | None:
    """The coupon with ``code`` as typed (any case, with or without dashes)."""
    return session.scalars(
        select(Coupon)
        .where(Coupon.code == codes.normalize(code))
        .execution_options(populate_existing=True)
    ).one_or_none()


def get_coupon(session: Session, code: str) -> Coupon:
    """The coupon with ``code``, or ``NotFound``."""
    coupon = find(session, code)
    if coupon is None:
        raise NotFound(f"no coupon {code!r}", code=code)
    return coupon


def _issued(coupon: Coupon) -> events.CouponIssued:
    return events.CouponIssued(
        coupon_id=coupon.id,
        code=codes.display(coupon.code),
        customer_id=coupon.customer_id,
        source=coupon.source,
        name=coupon.name,
        kind=coupon.discount_kind,
        amount=coupon.amount,
        percent_bp=coupon.percent_bp,
        expires_at=coupon.expires_at,
    )


def _emit_issued(session: Session, coupon: Coupon) -> None:
    emit(session, _issued(coupon))


def issue(
    session: Session,
    *,
    source: CouponSource,
    name: str,
    discount_kind: str,
    currency: str,
    now: datetime,
    customer_id: uuid.UUID | None = None,
    reward_id: uuid.UUID | None = None,
    amount: int | None = None,
    percent_bp: int | None = None,
    product_sku: str | None = None,
    partner_name: str | None = None,
    max_uses: int | None = 1,
    per_customer_limit: int | None = None,
    min_order_amount: int = 0,
    valid_from: datetime | None = None,
    expires_at: datetime | None = None,
    occasion: str | None = None,
    created_by: str | None = None,
    code: str | None = None,
) -> Coupon:
    """Create a coupon with a fresh unambiguous code (or ``code``); once per ``occasion``."""
    if occasion is not None:
        existing = session.scalar(select(Coupon).where(Coupon.occasion == occasion))
        if existing is not None:
            return existing
    for attempt in range(6):
        coupon = Coupon(
            id=new_id(),
            code=code or codes.generate(8 if attempt < 3 else 10),
            source=str(source),
            name=name,
            customer_id=customer_id,
            reward_id=reward_id,
            discount_kind=discount_kind,
            currency=currency,
            amount=amount,
            percent_bp=percent_bp,
            product_sku=product_sku,
            partner_name=partner_name,
            max_uses=max_uses,
            uses=0,
            per_customer_limit=per_customer_limit,
            min_order_amount=min_order_amount,
            valid_from=valid_from,
            expires_at=expires_at,
            status=CouponStatus.active,
            occasion=occasion,
            created_by=created_by,
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(coupon)
                session.flush()
        except IntegrityError:
            if occasion is not None:
                existing = session.scalar(select(Coupon).where(Coupon.occasion == occasion))
                if existing is not None:
                    return existing
            if code is not None:
                raise Conflict(f"the code {code} is taken", code=code) from None
            continue
        _emit_issued(session, coupon)
        return coupon
    raise Conflict("could not find a free coupon code; retry")  # pragma: no cover


def issue_many(
    session: Session,
    *,
    source: CouponSource,
    name: str,
    discount_kind: str,
    currency: str,
    now: datetime,
    grants: Sequence[tuple[uuid.UUID, str]],
    amount: int | None = None,
    percent_bp: int | None = None,
    expires_at: datetime | None = None,
    created_by: str | None = None,
) -> dict[str, Coupon]:
    """``issue`` of one single-use coupon to each of many customers, once per occasion,
    in a few statements whatever their number: ``grants`` are ``(customer, occasion)``.
    Returns the coupon of every occasion, the one issued before if there was one (as
    ``issue`` does). The coupons are inserted with ``ON CONFLICT DO NOTHING``: a row
    refused because another transaction took its occasion meanwhile is read back, one
    refused for its code (a fresh random code taken) is tried again with a new code."""
    wanted: dict[str, uuid.UUID] = {}
    for customer_id, occasion in grants:
        wanted.setdefault(occasion, customer_id)
    if not wanted:
        return {}
    found = {
        c.occasion: c
        for c in session.scalars(select(Coupon).where(Coupon.occasion.in_(list(wanted))))
        if c.occasion is not None
    }
    missing = [occasion for occasion in wanted if occasion not in found]
    made: list[uuid.UUID] = []
    for attempt in range(6):
        if not missing:
            break
        rows: list[dict[str, Any]] = [
            {
                "id": new_id(),
                "code": codes.generate(8 if attempt < 3 else 10),
                "source": str(source),
                "name": name,
                "customer_id": wanted[occasion],
                "reward_id": None,
                "discount_kind": discount_kind,
                "currency": currency,
                "amount": amount,
                "percent_bp": percent_bp,
                "product_sku": None,
                "partner_name": None,
                "max_uses": 1,
                "uses": 0,
                "per_customer_limit": None,
                "min_order_amount": 0,
                "valid_from": None,
                "expires_at": expires_at,
                "status": CouponStatus.active.value,
                "occasion": occasion,
                "created_by": created_by,
                "created_at": now,
            }
            for occasion in missing
        ]
        inserted = {
            row[0]
            for row in session.execute(
                insert_ignoring_conflicts(session, _COUPONS, index_elements=None).returning(
                    _COUPONS.c.id
                ),
                rows,
            )
        }
        made.extend(inserted)
        refused = [r["occasion"] for r in rows if r["id"] not in inserted]
        if not refused:
            missing = []
            break
        # Taken meanwhile by another transaction (theirs counts), or the code was taken.
        taken = {
            c.occasion: c
            for c in session.scalars(select(Coupon).where(Coupon.occasion.in_(refused)))
            if c.occasion is not None
        }
        found.update(taken)
        missing = [occasion for occasion in refused if occasion not in taken]
    if missing:
        raise Conflict("could not find a free coupon code; retry")  # pragma: no cover
    if made:
        new = list(
            session.scalars(
                select(Coupon)
                .where(Coupon.id.in_(made))
                .order_by(Coupon.id)
                .execution_options(populate_existing=True)
            )
        )
        emit_many(session, [_issued(coupon) for coupon in new])
        found.update((c.occasion, c) for c in new if c.occasion is not None)
    return {occasion: found[occasion] for occasion in wanted}


def issue_for_reward(
    session: Session,
    *,
    settings: Settings,
    reward: Reward,
    customer_id: uuid.UUID,
    source: CouponSource,
    now: datetime,
    occasion: str | None = None,
    created_by: str | None = None,
) -> Coupon:
    """The single-use coupon that delivers ``reward`` to a member."""
    expires_at = None
    if reward.coupon_valid_days:
        expires_at = now + timedelta(days=reward.coupon_valid_days)
    if reward.valid_until is not None and (expires_at is None or reward.valid_until < expires_at):
        expires_at = reward.valid_until
    return issue(
        session,
        source=source,
        name=reward.name,
        discount_kind=reward.kind,
        currency=reward.currency or settings.currency,
        now=now,
        customer_id=customer_id,
        reward_id=reward.id,
        amount=reward.amount,
        percent_bp=reward.percent_bp,
        product_sku=reward.product_sku,
        partner_name=reward.partner_name,
        max_uses=1,
        min_order_amount=reward.min_order_amount,
        expires_at=expires_at,
        occasion=occasion,
        created_by=created_by,
    )


def create_campaign(
    session: Session, *, settings: Settings, data: CouponCreate, by: str | None
) -> Coupon:
    """A code created by staff: a campaign (``SUMMER25``, many uses) or a one-off gift."""
    code = None
    if data.code is not None:
        code = codes.normalize(data.code)
        if not codes.is_valid_custom(code):
            raise Invalid.field(("code",), "use 3 to 32 letters A-Z and digits")
        if find(session, code) is not None:
            raise Conflict(f"the code {code} is taken", code=code)
    expires_at = data.expires_at
    if data.valid_until is not None:  # "valid until this day": to its end, in the shop's zone
        expires_at = end_of_day(data.valid_until, settings.zone)
        problems = dates_problems(data.valid_from, expires_at, "valid_until")
        if problems:
            raise Invalid(problems[0][2], [(loc, msg) for loc, _, msg in problems])
    return issue(
        session,
        source=CouponSource.compensation if data.customer_id else CouponSource.campaign,
        name=data.name,
        discount_kind=data.kind,
        currency=settings.currency,
        now=utcnow(),
        customer_id=data.customer_id,
        amount=data.amount,
        percent_bp=data.percent_bp,
        product_sku=data.product_sku,
        partner_name=data.partner_name,
        max_uses=data.max_uses,
        per_customer_limit=data.per_customer_limit,
        min_order_amount=data.min_order_amount,
        valid_from=data.valid_from,
        expires_at=expires_at,
        created_by=by,
        code=code,
    )


def _product_price(session: Session, sku: str) -> int:
    from wafa.orders import service as orders

    found, _ = orders.list_products(session, q=sku, limit=20)
    for product in found:
        if product.sku == sku:
            return product.price_amount
    return 0


def discount_for(
    session: Session, coupon: Coupon, subtotal: int, lines: Sequence[CartLine] = ()
) -> int:
    """Money off ``subtotal`` (minor units): never more than the subtotal."""
    kind = coupon.discount_kind
    if kind == RewardKind.discount_fixed:
        value = coupon.amount or 0
    elif kind == RewardKind.discount_percent:
        value = apply_rate_bp(subtotal, coupon.percent_bp or 0)
    elif kind == RewardKind.free_product and coupon.product_sku:
        in_cart = [ln.unit_price for ln in lines if ln.sku == coupon.product_sku]
        value = in_cart[0] if in_cart else _product_price(session, coupon.product_sku)
    else:
        value = 0  # a gift or a partner's offer: honoured, no money off
    return max(0, min(value, subtotal))


def _check(
    session: Session,
    coupon: Coupon,
    *,
    customer_id: uuid.UUID | None,
    subtotal: int,
    now: datetime,
    count_uses: bool = True,
) -> str | None:
    if coupon.status != CouponStatus.active:
        return "voided"
    if coupon.valid_from is not None and coupon.valid_from > now:
        return "not_yet_valid"
    if coupon.expires_at is not None and coupon.expires_at <= now:
        return "expired"
    if coupon.max_uses is not None and coupon.uses >= coupon.max_uses:
        return "used_up"
    if coupon.customer_id is not None:
        # A coupon made for one customer is theirs: leaving the customer out does not
        # make it anyone's.
        if customer_id is None:
            return "customer_required"
        if coupon.customer_id != customer_id:
            return "other_customer"
    if coupon.per_customer_limit is not None:
        if customer_id is None:
            return "customer_required"
        if (
            count_uses
            and _customer_uses(session, coupon.id, customer_id) >= coupon.per_customer_limit
        ):
            return "customer_limit"
    if subtotal < coupon.min_order_amount:
        return "minimum_order"
    return None


def _customer_uses(session: Session, coupon_id: uuid.UUID, customer_id: uuid.UUID) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(CouponUse)
            .where(
                CouponUse.coupon_id == coupon_id,
                CouponUse.customer_id == customer_id,
                CouponUse.accepted.is_(True),
            )
        )
        or 0
    )


def validate(
    session: Session,
    *,
    code: str,
    customer_id: uuid.UUID | None,
    subtotal: int,
    lines: Sequence[CartLine] = (),
) -> Validation:
    """Whether ``code`` may be used on a cart of ``subtotal`` now, and how much it takes off."""
    coupon = find(session, code)
    if coupon is None:
        return Validation(False, 0, "not_found")
    reason = _check(session, coupon, customer_id=customer_id, subtotal=subtotal, now=utcnow())
    if reason is not None:
        return Validation(False, 0, reason, coupon)
    return Validation(True, discount_for(session, coupon, subtotal, lines), None, coupon)


class _UsedUp(Exception):
    pass


def use(
    session: Session,
    *,
    code: str,
    order_ref: str,
    customer_id: uuid.UUID | None,
    subtotal: int,
    now: datetime,
    order_id: uuid.UUID | None = None,
    lines: Sequence[CartLine] = (),
    by: str | None = None,
) -> CouponUse:
    """Use a coupon on the order ``order_ref``, once; a repeat returns the first use.

    Raises ``CouponRejected`` (with ``reason``) when it may not be used; nothing is
    written then.
    """
    coupon = find(session, code)
    if coupon is None:
        raise CouponRejected(f"no coupon {code!r}", reason="not_found")
    prior = session.scalar(
        select(CouponUse).where(CouponUse.coupon_id == coupon.id, CouponUse.order_ref == order_ref)
    )
    if prior is not None:
        if not prior.accepted:
            raise CouponRejected(
                f"coupon {codes.display(coupon.code)} was refused for this order: {prior.reject_reason}",
                reason=prior.reject_reason or "used_up",
            )
        return prior
    reason = _check(
        session, coupon, customer_id=customer_id, subtotal=subtotal, now=now, count_uses=False
    )
    if reason is not None:
        raise CouponRejected(
            f"coupon {codes.display(coupon.code)} cannot be used: {reason}", reason=reason
        )
    seq = None
    if customer_id is not None:
        # One count, used both for the limit and as the use's number: the unique
        # (coupon, customer, seq) key then refuses a concurrent use with the same number.
        seq = _customer_uses(session, coupon.id, customer_id) + 1
        if coupon.per_customer_limit is not None and seq > coupon.per_customer_limit:
            raise CouponRejected(
                f"coupon {codes.display(coupon.code)} reached its limit for this customer",
                reason="customer_limit",
            )
    record = CouponUse(
        id=new_id(),
        coupon_id=coupon.id,
        customer_id=customer_id,
        order_ref=order_ref,
        order_id=order_id,
        seq=seq,
        accepted=True,
        discount_amount=discount_for(session, coupon, subtotal, lines),
        used_at=now,
        created_by=by,
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
            moved = rowcount(
                session.execute(
                    update(Coupon)
                    .where(
                        Coupon.id == coupon.id,
                        Coupon.status == CouponStatus.active,
                        or_(Coupon.max_uses.is_(None), Coupon.uses < Coupon.max_uses),
                    )
                    .values(uses=Coupon.uses + 1)
                    .execution_options(synchronize_session=False)
                )
            )
            if moved != 1:
                raise _UsedUp
    except _UsedUp:
        raise CouponRejected(
            f"coupon {codes.display(coupon.code)} has been used up", reason="used_up"
        ) from None
    except IntegrityError:
        again = session.scalar(
            select(CouponUse).where(
                CouponUse.coupon_id == coupon.id, CouponUse.order_ref == order_ref
            )
        )
        if again is not None and again.accepted:
            return again
        raise CouponRejected(
            f"coupon {codes.display(coupon.code)} reached its limit for this customer",
            reason="customer_limit",
        ) from None
    if coupon.source == CouponSource.reward:
        session.execute(
            update(Redemption)
            .where(Redemption.coupon_id == coupon.id, Redemption.status == RedemptionStatus.issued)
            .values(status=RedemptionStatus.used)
            .execution_options(synchronize_session=False)
        )
    return record


def record_order_use(
    session: Session,
    *,
    settings: Settings,
    code: str,
    customer_id: uuid.UUID | None,
    order_id: uuid.UUID,
    subtotal: int,
    now: datetime,
) -> CouponUse | None:
    """Record a code an order carried; a refused code is recorded as refused, never raised.

    The order exists already (the shop took it), so a bad code cannot stop it; the
    refusal is kept for the owner to see.
    """
    order_ref = str(order_id)
    try:
        return use(
            session,
            code=code,
            order_ref=order_ref,
            customer_id=customer_id,
            subtotal=subtotal,
            now=now,
            order_id=order_id,
        )
    except CouponRejected as exc:
        coupon = find(session, code)
        if coupon is None:
            return None
        reason = str(exc.context.get("reason", "used_up"))
        try:
            with session.begin_nested():
                refused = CouponUse(
                    id=new_id(),
                    coupon_id=coupon.id,
                    customer_id=customer_id,
                    order_ref=order_ref,
                    order_id=order_id,
                    seq=None,
                    accepted=False,
                    reject_reason=reason,
                    discount_amount=0,
                    used_at=now,
                )
                session.add(refused)
                session.flush()
        except IntegrityError:
            return None
        return refused


def release_order_uses(session: Session, *, order_id: uuid.UUID, now: datetime) -> int:
    """A cancelled or fully refunded order gives its coupons back; returns how many."""
    released = 0
    for record in list(
        session.scalars(
            select(CouponUse).where(CouponUse.order_id == order_id, CouponUse.accepted.is_(True))
        )
    ):
        record.accepted = False
        record.reject_reason = "order_void"
        record.seq = None
        session.flush()
        session.execute(
            update(Coupon)
            .where(Coupon.id == record.coupon_id, Coupon.uses > 0)
            .values(uses=Coupon.uses - 1)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Redemption)
            .where(
                Redemption.coupon_id == record.coupon_id, Redemption.status == RedemptionStatus.used
            )
            .values(status=RedemptionStatus.issued)
            .execution_options(synchronize_session=False)
        )
        released += 1
    return released


def void(session: Session, *, code: str, reason: str | None, by: str | None) -> Coupon:
    """Stop a coupon from being used; uses already recorded stay."""
    coupon = get_coupon(session, code)
    if coupon.status == CouponStatus.voided:
        return coupon
    if coupon.source == CouponSource.reward:
        raise Conflict(
            "this coupon belongs to a redemption; cancel the redemption to refund its points",
            code=coupon.code,
        )
    session.execute(
        update(Coupon)
        .where(Coupon.id == coupon.id)
        .values(
            status=CouponStatus.voided, voided_at=utcnow(), void_reason=reason or f"voided by {by}"
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(coupon)
    return coupon


def _cursor(value: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(value.bytes).decode().rstrip("=")


def _uncursor(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        raise Invalid.field(("cursor",), "not a cursor returned by this API") from None


def list_coupons(
    session: Session,
    *,
    customer_id: uuid.UUID | None = None,
    source: str | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Coupon], str | None]:
    """A page of coupons, newest first."""
    stmt = select(Coupon)
    if customer_id is not None:
        stmt = stmt.where(Coupon.customer_id == customer_id)
    if source:
        stmt = stmt.where(Coupon.source == source)
    if status:
        stmt = stmt.where(Coupon.status == status)
    if cursor:
        stmt = stmt.where(Coupon.id < _uncursor(cursor))
    rows = list(session.scalars(stmt.order_by(Coupon.id.desc()).limit(limit + 1)))
    nxt = _cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], nxt


def usable_for(session: Session, customer_id: uuid.UUID, *, now: datetime) -> list[Coupon]:
    """The member's own coupons that can be used now (for the POS and the portal)."""
    return list(
        session.scalars(
            select(Coupon)
            .where(
                Coupon.customer_id == customer_id,
                Coupon.status == CouponStatus.active,
                or_(Coupon.max_uses.is_(None), Coupon.uses < Coupon.max_uses),
                or_(Coupon.expires_at.is_(None), Coupon.expires_at > now),
                or_(Coupon.valid_from.is_(None), Coupon.valid_from <= now),
            )
            .order_by(Coupon.expires_at, Coupon.created_at)
        )
    )
