"""Partner businesses: the record, the codes in both directions, checking and using a code
at the partner's counter, and the customers a partner's codes bring here.

The rules, stated once:

* A partner's **offer codes** are loyalty coupons of kind ``partner_offer``: issued in a
  batch from the partner's page (``partner_codes``, direction ``offer``) or by members
  spending points on the catalogue reward linked to the partner (``Partner.reward_id``).
  Only these are known on the partner's page: any other code, another partner's included,
  is "not found" there.
* A code is **used at the partner once**: the coupon is the primary key of
  ``partner_redemptions`` (claimed with ``INSERT … ON CONFLICT DO NOTHING``, so of any
  number of simultaneous taps one wins) and the coupon's own use goes through
  ``wafa.loyalty.coupons.use`` (a guarded ``UPDATE … WHERE uses < max_uses``) in the same
  savepoint: a code used at the shop is refused at the partner and the other way round.
  A refused use writes nothing.
* **Checks are rate-limited**: a code that is not the partner's counts as a miss, per
  partner and per address; past ``MISSES`` misses in ``WINDOW`` every check is refused
  until the window moves on, so codes cannot be guessed from a partner's page. Checks of
  real codes never count.
* **Reciprocal codes** are coupons the partner hands out, good here. When an order
  carries one (the API, the point of sale, a shop webhook), the customer is attributed
  to the partner if it is their first order (``partner_referrals``: one partner per
  customer, the first).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from wafa.core.calendars import add_months, end_of_day, from_ymd, local_date, start_of_day, ymd
from wafa.core.contacts import ContactError, normalize_email
from wafa.core.db import insert_new
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import codes, coupons, rewards
from wafa.loyalty.models import Coupon, CouponSource, CouponStatus, CouponUse, RewardKind
from wafa.orders import service as orders
from wafa.partners.models import (
    Direction,
    Partner,
    PartnerCode,
    PartnerMiss,
    PartnerRedemption,
    PartnerReferral,
    PartnerSession,
)
from wafa.partners.schemas import CodesIssue, PartnerCreate, PartnerUpdate, StatementRead

WINDOW = timedelta(minutes=15)
MISSES = 20  # codes not found per partner (and per address) per window


class PartnerNameTaken(Conflict):
    code = "partner-name-taken"


# ----------------------------------------------------------------------------- the record


def _email(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return normalize_email(value)
    except ContactError:
        raise Invalid.field(("email",), "not an email address") from None


def _check_reward(session: Session, reward_id: uuid.UUID | None) -> None:
    if reward_id is None:
        return
    try:
        reward = rewards.get_reward(session, reward_id)
    except NotFound:
        raise Invalid.field(("reward_id",), "no such reward") from None
    if reward.kind != RewardKind.partner_offer:
        raise Invalid.field(("reward_id",), "the reward must be a partner offer")
    taken = session.scalar(select(Partner.id).where(Partner.reward_id == reward_id))
    if taken is not None:
        raise Invalid.field(("reward_id",), "this reward belongs to another partner")


def create_partner(session: Session, *, settings: Settings, data: PartnerCreate) -> Partner:
    """A new partner; names are unique (a second one with the same name is a ``Conflict``)."""
    if session.scalar(select(Partner.id).where(Partner.name == data.name)) is not None:
        raise PartnerNameTaken(f"a partner named {data.name!r} exists", field="name")
    _check_reward(session, data.reward_id)
    partner = Partner(
        id=new_id(),
        name=data.name,
        contact_name=data.contact_name or None,
        phone=data.phone or None,
        email=_email(data.email),
        offer=data.offer,
        offer_value_amount=data.offer_value,
        currency=settings.currency,
        reward_id=data.reward_id,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(partner)
            session.flush()
    except IntegrityError:
        raise PartnerNameTaken(f"a partner named {data.name!r} exists", field="name") from None
    return partner


def get_partner(session: Session, partner_id: uuid.UUID) -> Partner:
    """The partner, or ``NotFound``."""
    partner = session.get(Partner, partner_id)
    if partner is None:
        raise NotFound("no such partner", partner_id=str(partner_id))
    return partner


def list_partners(session: Session, *, archived: bool = False) -> list[Partner]:
    """Partners by name (the archived ones only when asked)."""
    stmt = select(Partner).order_by(Partner.name)
    if not archived:
        stmt = stmt.where(Partner.archived_at.is_(None))
    return list(session.scalars(stmt))


def update_partner(session: Session, *, partner_id: uuid.UUID, data: PartnerUpdate) -> Partner:
    """Change the fields given; a new name must be free."""
    partner = get_partner(session, partner_id)
    given = data.model_dump(exclude_unset=True)
    renamed = "name" in given and given["name"] not in (None, partner.name)
    if renamed and session.scalar(select(Partner.id).where(Partner.name == given["name"])):
        raise PartnerNameTaken(f"a partner named {given['name']!r} exists", field="name")
    if "reward_id" in given and given["reward_id"] != partner.reward_id:
        _check_reward(session, given["reward_id"])
    if "email" in given:
        given["email"] = _email(given["email"])
    if "offer_value" in given:
        value = given.pop("offer_value")
        if value is not None:
            partner.offer_value_amount = value
    for name, value in given.items():
        if name in ("name", "offer"):
            if value is not None:
                setattr(partner, name, value)
        else:
            setattr(partner, name, value or None)
    session.flush()
    return partner


def archive_partner(session: Session, *, partner_id: uuid.UUID) -> Partner:
    """Stop the partnership: its links stop opening and its sessions end; history stays."""
    partner = get_partner(session, partner_id)
    if partner.archived_at is None:
        partner.archived_at = utcnow()
    from wafa.partners import access

    access.revoke_links(session, partner_id=partner.id)
    session.flush()
    return partner


# ----------------------------------------------------------------------------- codes


def issue_codes(
    session: Session, *, settings: Settings, partner_id: uuid.UUID, data: CodesIssue, by: str
) -> list[Coupon]:
    """A batch of single-use codes for the partner, valid to the end of the local day
    ``valid_days`` from today (the business's zone)."""
    partner = get_partner(session, partner_id)
    if partner.archived_at is not None:
        raise Conflict("this partner is archived", partner_id=str(partner.id))
    now = utcnow()
    expires_at = end_of_day(
        local_date(now, settings.zone) + timedelta(days=data.valid_days), settings.zone
    )
    if data.direction == Direction.offer:
        kind, amount, percent = str(RewardKind.partner_offer), None, None
        name = partner.offer[:200]
    else:
        if data.kind is None:
            raise Invalid.field(("kind",), "say what the code gives here")
        kind, amount, percent = data.kind, None, None
        if data.kind == "discount_fixed":
            if data.amount is None:
                raise Invalid.field(("amount",), "money off needs its amount")
            amount = data.amount
        elif data.kind == "discount_percent":
            if data.percent_bp is None:
                raise Invalid.field(("percent_bp",), "a percentage needs its value")
            percent = data.percent_bp
        name = f"{partner.name}"[:200]
    issued: list[Coupon] = []
    for _ in range(data.count):
        coupon = coupons.issue(
            session,
            source=CouponSource.campaign,
            name=name,
            discount_kind=kind,
            currency=settings.currency,
            now=now,
            customer_id=data.customer_id if data.direction == Direction.offer else None,
            amount=amount,
            percent_bp=percent,
            partner_name=partner.name,
            max_uses=1,
            expires_at=expires_at,
            created_by=by,
        )
        session.add(
            PartnerCode(
                coupon_id=coupon.id,
                partner_id=partner.id,
                direction=str(data.direction),
                issued_at=now,
            )
        )
        issued.append(coupon)
    session.flush()
    return issued


def list_codes(
    session: Session, *, partner_id: uuid.UUID, direction: str | None = None, limit: int = 200
) -> list[tuple[Coupon, str]]:
    """The partner's issued codes with their direction, newest first."""
    stmt = (
        select(Coupon, PartnerCode.direction)
        .join(PartnerCode, PartnerCode.coupon_id == Coupon.id)
        .where(PartnerCode.partner_id == partner_id)
        .order_by(PartnerCode.issued_at.desc(), Coupon.code)
        .limit(limit)
    )
    if direction:
        stmt = stmt.where(PartnerCode.direction == direction)
    return [(c, d) for c, d in session.execute(stmt)]


def _offer_codes(partner: Partner) -> ColumnElement[bool]:
    """Coupons the partner honours: its issued offer codes and its catalogue reward's."""
    issued = Coupon.id.in_(
        select(PartnerCode.coupon_id).where(
            PartnerCode.partner_id == partner.id, PartnerCode.direction == Direction.offer
        )
    )
    if partner.reward_id is None:
        return issued
    return or_(
        issued,
        and_(
            Coupon.reward_id == partner.reward_id,
            Coupon.discount_kind == RewardKind.partner_offer,
        ),
    )


def _partner_coupon(session: Session, partner: Partner, code: str) -> Coupon | None:
    normal = codes.normalize(code)
    if not normal or len(normal) > 32:
        return None
    return session.scalars(
        select(Coupon)
        .where(Coupon.code == normal, _offer_codes(partner))
        .execution_options(populate_existing=True)
    ).one_or_none()


# ----------------------------------------------------------------------------- at the counter


@dataclass(frozen=True)
class Check:
    """A code as the partner's page sees it.

    ``status``: ``valid``, ``used`` (here or at the shop), ``expired``, ``not_yet_valid``,
    ``voided``, ``not_found``, ``limited`` (too many unknown codes: wait), and after a use
    ``redeemed`` (this tap marked it used).
    """

    status: str
    code: str
    offer: str | None = None
    expires_at: datetime | None = None
    used_at: datetime | None = None


def _miss_keys(partner_id: uuid.UUID, ip: str) -> tuple[str, str]:
    address = hashlib.sha256(f"partner-ip:{ip}".encode()).hexdigest()[:40]
    return f"p:{partner_id}", f"ip:{address}"


def _limited(session: Session, keys: Sequence[str], now: datetime) -> bool:
    for key in keys:
        misses = session.scalar(
            select(func.count())
            .select_from(PartnerMiss)
            .where(PartnerMiss.key == key, PartnerMiss.at > now - WINDOW)
        )
        if int(misses or 0) >= MISSES:
            return True
    return False


def _miss(session: Session, keys: Sequence[str], now: datetime) -> None:
    session.add_all(PartnerMiss(id=new_id(), key=key, at=now) for key in keys)
    session.flush()


def _status(session: Session, partner: Partner, coupon: Coupon, now: datetime) -> Check:
    shown = codes.display(coupon.code)
    used = session.get(PartnerRedemption, coupon.id, populate_existing=True)
    offer = coupon.name
    if used is not None:
        return Check("used", shown, offer, coupon.expires_at, used.used_at)
    if coupon.status != CouponStatus.active:
        return Check("voided", shown, offer, coupon.expires_at)
    if coupon.max_uses is not None and coupon.uses >= coupon.max_uses:
        return Check("used", shown, offer, coupon.expires_at)
    if coupon.valid_from is not None and coupon.valid_from > now:
        return Check("not_yet_valid", shown, offer, coupon.expires_at)
    if coupon.expires_at is not None and coupon.expires_at <= now:
        return Check("expired", shown, offer, coupon.expires_at)
    return Check("valid", shown, offer, coupon.expires_at)


def _find_for_partner(
    session: Session, partner: Partner, code: str, ip: str, now: datetime
) -> Coupon | Check:
    keys = _miss_keys(partner.id, ip)
    if _limited(session, keys, now):
        return Check("limited", code[:40])
    coupon = _partner_coupon(session, partner, code)
    if coupon is None:
        _miss(session, keys, now)
        return Check("not_found", codes.normalize(code)[:40])
    return coupon


def check_code(session: Session, *, partner_id: uuid.UUID, code: str, ip: str) -> Check:
    """Whether ``code`` is good at this partner now, and what for. A code that is not this
    partner's is ``not_found`` and counts as a miss (committed with the answer)."""
    partner = get_partner(session, partner_id)
    now = utcnow()
    found = _find_for_partner(session, partner, code, ip, now)
    if isinstance(found, Check):
        return found
    return _status(session, partner, found, now)


def use_code(session: Session, *, partner_id: uuid.UUID, code: str, ip: str) -> Check:
    """Mark ``code`` used at the partner: ``redeemed`` for the one tap that wins, the
    code's state for every other (``used`` with when, ``expired``, ...). Nothing is written
    unless it is ``redeemed`` (a miss is counted)."""
    partner = get_partner(session, partner_id)
    now = utcnow()
    found = _find_for_partner(session, partner, code, ip, now)
    if isinstance(found, Check):
        return found
    coupon = found
    state = _status(session, partner, coupon, now)
    if state.status != "valid":
        return state
    try:
        with session.begin_nested():
            claimed = insert_new(
                session,
                PartnerRedemption,
                index_elements=["coupon_id"],
                values={
                    "coupon_id": coupon.id,
                    "partner_id": partner.id,
                    "used_at": now,
                    "value_amount": partner.offer_value_amount,
                    "currency": partner.currency,
                },
            )
            if not claimed:
                raise _Taken
            coupons.use(
                session,
                code=coupon.code,
                order_ref=f"partner:{partner.id}",
                customer_id=coupon.customer_id,
                subtotal=coupon.min_order_amount,
                now=now,
                by=f"partner:{partner.name}"[:200],
            )
    except _Taken:
        return _status(session, partner, coupon, now)
    except coupons.CouponRejected as refused:
        reason = str(refused.context.get("reason", "used_up"))
        status = {"used_up": "used", "customer_limit": "used"}.get(reason, reason)
        if status not in ("used", "expired", "not_yet_valid", "voided"):
            status = "used"
        return Check(status, codes.display(coupon.code), coupon.name, coupon.expires_at)
    return Check("redeemed", codes.display(coupon.code), coupon.name, coupon.expires_at, now)


class _Taken(Exception):
    pass


def recent_uses(session: Session, *, partner_id: uuid.UUID, limit: int = 10) -> list[Check]:
    """The partner's latest uses, for its page (codes and offers only: no customer data)."""
    rows = session.execute(
        select(Coupon.code, Coupon.name, PartnerRedemption.used_at)
        .join(PartnerRedemption, PartnerRedemption.coupon_id == Coupon.id)
        .where(PartnerRedemption.partner_id == partner_id)
        .order_by(PartnerRedemption.used_at.desc())
        .limit(limit)
    )
    return [Check("used", codes.display(c), n, None, at) for c, n, at in rows]


def prune(session: Session) -> dict[str, int]:
    """Forget misses that no longer count and partner sessions that ended or expired."""
    now = utcnow()
    misses = session.execute(
        delete(PartnerMiss)
        .where(PartnerMiss.at < now - WINDOW)
        .execution_options(synchronize_session=False)
    )
    sessions = session.execute(
        delete(PartnerSession)
        .where(or_(PartnerSession.expires_at < now, PartnerSession.ended_at < now))
        .execution_options(synchronize_session=False)
    )
    return {
        "partner_misses": int(getattr(misses, "rowcount", 0) or 0),
        "partner_sessions": int(getattr(sessions, "rowcount", 0) or 0),
    }


# ----------------------------------------------------------------------------- referrals


def attribute_order(session: Session, *, order_id: uuid.UUID) -> PartnerReferral | None:
    """An order carrying a partner's reciprocal code: its customer, on their first order,
    is attributed to that partner (once; the first partner keeps them)."""
    order = orders.get_order(session, order_id)
    if order.customer_id is None or not order.coupon_codes:
        return None
    normal = [codes.normalize(c) for c in order.coupon_codes if isinstance(c, str)]
    found = session.execute(
        select(Coupon.id, PartnerCode.partner_id)
        .join(PartnerCode, PartnerCode.coupon_id == Coupon.id)
        .where(Coupon.code.in_(normal), PartnerCode.direction == Direction.reciprocal)
        .order_by(Coupon.code)
        .limit(1)
    ).first()
    if found is None:
        return None
    coupon_id, partner_id = found
    earlier = [o for o in orders.customer_orders(session, order.customer_id) if o.id != order.id]
    if any(o.placed_at <= order.placed_at for o in earlier):
        return None  # not a new customer: the code is counted as used, nobody is attributed
    insert_new(
        session,
        PartnerReferral,
        index_elements=["customer_id"],
        values={
            "customer_id": order.customer_id,
            "partner_id": partner_id,
            "coupon_id": coupon_id,
            "order_id": order.id,
            "order_amount": order.total_amount,
            "currency": order.currency,
            "at": order.placed_at,
        },
    )
    return session.get(PartnerReferral, order.customer_id)


def referral_of(session: Session, customer_id: uuid.UUID) -> tuple[PartnerReferral, str] | None:
    """The partner that brought ``customer_id`` (with its name), if one did."""
    row = session.execute(
        select(PartnerReferral, Partner.name)
        .join(Partner, Partner.id == PartnerReferral.partner_id)
        .where(PartnerReferral.customer_id == customer_id)
    ).first()
    return None if row is None else (row[0], row[1])


def export_customer(session: Session, customer_id: uuid.UUID) -> dict[str, object]:
    """A person's export: the partner that brought them, if one did."""
    found = referral_of(session, customer_id)
    if found is None:
        return {}
    referral, name = found
    return {"brought_by_partner": {"name": name, "at": referral.at.isoformat()}}


def forget_customer(session: Session, settings: Settings, customer_id: uuid.UUID) -> None:
    """Erasure: the partner attribution goes (the partner's counts lose one)."""
    session.execute(delete(PartnerReferral).where(PartnerReferral.customer_id == customer_id))


# ----------------------------------------------------------------------------- statement


def month_bounds(settings: Settings, year: int, month: int) -> tuple[datetime, datetime]:
    """The instants a month of the business calendar spans, in its zone: [start, end)."""
    if not 1 <= month <= 12:
        raise Invalid.field(("month",), "a month is 1 to 12")
    try:
        first = from_ymd(year, month, 1, settings.calendar)
    except ValueError:
        raise Invalid.field(("year",), "not a year of the business calendar") from None
    after = add_months(first, 1, settings.calendar)
    return start_of_day(first, settings.zone), start_of_day(after, settings.zone)


def current_month(settings: Settings, now: datetime | None = None) -> tuple[int, int]:
    """This month in the business calendar: ``(year, month)``."""
    y, m, _ = ymd(local_date(now or utcnow(), settings.zone), settings.calendar)
    return y, m


def statement(
    session: Session, *, settings: Settings, partner_id: uuid.UUID, year: int, month: int
) -> StatementRead:
    """The month's figures for one partner, in the business calendar and zone.

    Offer codes issued (batches and the catalogue reward's coupons), redeemed at the
    partner and their value (the partner's offer value at the time of each use);
    reciprocal codes issued and used here with the money they took off; the new customers
    they brought and what those first orders came to.
    """
    partner = get_partner(session, partner_id)
    start, end = month_bounds(settings, year, month)

    def count(stmt: object) -> int:
        return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]

    def issued(direction: str) -> int:
        return count(
            select(func.count())
            .select_from(PartnerCode)
            .where(
                PartnerCode.partner_id == partner.id,
                PartnerCode.direction == direction,
                PartnerCode.issued_at >= start,
                PartnerCode.issued_at < end,
            )
        )

    offer_issued = issued(Direction.offer)
    if partner.reward_id is not None:
        offer_issued += count(
            select(func.count())
            .select_from(Coupon)
            .where(
                Coupon.reward_id == partner.reward_id,
                Coupon.discount_kind == RewardKind.partner_offer,
                Coupon.created_at >= start,
                Coupon.created_at < end,
            )
        )
    redeemed = session.execute(
        select(func.count(), func.coalesce(func.sum(PartnerRedemption.value_amount), 0)).where(
            PartnerRedemption.partner_id == partner.id,
            PartnerRedemption.used_at >= start,
            PartnerRedemption.used_at < end,
        )
    ).one()
    used = session.execute(
        select(func.count(), func.coalesce(func.sum(CouponUse.discount_amount), 0))
        .join(PartnerCode, PartnerCode.coupon_id == CouponUse.coupon_id)
        .where(
            PartnerCode.partner_id == partner.id,
            PartnerCode.direction == Direction.reciprocal,
            CouponUse.accepted.is_(True),
            CouponUse.used_at >= start,
            CouponUse.used_at < end,
        )
    ).one()
    brought = session.execute(
        select(func.count(), func.coalesce(func.sum(PartnerReferral.order_amount), 0)).where(
            PartnerReferral.partner_id == partner.id,
            PartnerReferral.at >= start,
            PartnerReferral.at < end,
        )
    ).one()
    return StatementRead(
        partner_id=partner.id,
        calendar=str(settings.calendar),
        year=year,
        month=month,
        starts_at=start,
        ends_at=end,
        currency=partner.currency,
        offer_codes_issued=offer_issued,
        offer_codes_redeemed=int(redeemed[0]),
        offer_value=int(redeemed[1]),
        reciprocal_codes_issued=issued(Direction.reciprocal),
        reciprocal_codes_used=int(used[0]),
        reciprocal_discount=int(used[1]),
        new_customers=int(brought[0]),
        new_customer_revenue=int(brought[1]),
    )
