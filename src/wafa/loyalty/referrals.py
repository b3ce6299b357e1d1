"""Referrals: a code and a link per member; both sides rewarded, fraud held for review.

The friend (referee) is rewarded on their first purchase. The referrer is rewarded
once that purchase is past its pending period (so a purchase made to be refunded
pays nobody). Fraud checks hold the rewards in a review queue instead of paying:

* ``same_contact`` — the friend shares the referrer's email, phone or address;
* ``not_new`` — the friend's record is older than the program allows, or they had
  bought before the referral;
* ``too_many`` — the referrer brought more friends in the period than allowed;
* ``refunded`` — the qualifying purchase was refunded or cancelled.

A reviewer approves (pays what is unpaid) or rejects. Payments are ledger entries
with unique occasions, so nothing is ever paid twice.

About 530 lines: a referral's whole lifecycle (code, attribution, review, rewards) in
one place.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wafa.core.db import rowcount
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.events import emit
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.loyalty import codes, coupons, events, ledger
from wafa.loyalty.ledger import LotSpec
from wafa.loyalty.models import (
    CouponSource,
    EntryKind,
    LoyaltyAccount,
    PointsEntry,
    Purchase,
    Referral,
    ReferralStatus,
    Reward,
)
from wafa.loyalty.orderfacts import OrderFacts
from wafa.loyalty.program import expiry_for, rules_at
from wafa.loyalty.schemas.io import ReferralInfo, ReferralStats
from wafa.loyalty.schemas.program import ProgramRules


class AlreadyReferred(Conflict):
    code = "already-referred"


def referral_code(session: Session, *, settings: Settings, customer_id: uuid.UUID) -> str:
    """The member's referral code, made on first request (unambiguous alphabet, unique)."""
    now = utcnow()
    ledger.ensure_account(session, customer_id, zone=settings.zone, now=now)
    existing = session.scalar(
        select(LoyaltyAccount.referral_code).where(LoyaltyAccount.customer_id == customer_id)
    )
    if existing:
        return existing
    for _ in range(8):
        code = codes.generate(7)
        try:
            with session.begin_nested():
                moved = rowcount(
                    session.execute(
                        update(LoyaltyAccount)
                        .where(
                            LoyaltyAccount.customer_id == customer_id,
                            LoyaltyAccount.referral_code.is_(None),
                        )
                        .values(referral_code=code)
                        .execution_options(synchronize_session=False)
                    )
                )
        except IntegrityError:
            continue
        if moved == 1:
            return code
        found = session.scalar(
            select(LoyaltyAccount.referral_code).where(LoyaltyAccount.customer_id == customer_id)
        )
        if found:
            return found
    raise Conflict("could not find a free referral code; retry")  # pragma: no cover


def referral_link(rules: ProgramRules, code: str) -> str:
    """The link a member shares: the program's ``link_base`` + code, or the portal's /r/ page."""
    base = rules.referral.link_base
    return f"{base}{code}" if base else f"/r/{code}"


def _referrer_for(session: Session, code: str) -> uuid.UUID:
    normalized = codes.normalize(code)
    owner = session.scalar(
        select(LoyaltyAccount.customer_id).where(LoyaltyAccount.referral_code == normalized)
    )
    if owner is None:
        raise Invalid.field(("code",), f"no member has the referral code {code!r}")
    try:
        return customers.get_live_customer(session, owner).id
    except NotFound:
        raise Invalid.field(("code",), "this referral code is no longer in use") from None


def _same_contact(a: Customer, b: Customer) -> bool:
    def addr(c: Customer) -> str | None:
        return " ".join(c.address.casefold().split()) if c.address else None

    return bool(
        (a.email and a.email == b.email)
        or (a.phone and a.phone == b.phone)
        or (addr(a) and addr(a) == addr(b))
    )


def apply_code(
    session: Session,
    *,
    settings: Settings,
    referee_id: uuid.UUID,
    code: str,
    now: datetime | None = None,
    with_order: uuid.UUID | None = None,
) -> Referral:
    """Record that ``referee`` came through ``code``; a friend can be referred only once.

    ``with_order``: the code came on this order, which does not make the friend
    an existing customer.
    """
    now = now or utcnow()
    rules = rules_at(session, settings, now).rules
    if not rules.referral.enabled:
        raise Conflict("the referral program is switched off", code="referrals-off")
    referee = customers.get_live_customer(session, referee_id)
    referrer_id = _referrer_for(session, code)
    if referrer_id == referee.id:
        raise Invalid.field(("code",), "members cannot refer themselves")
    existing = session.scalar(select(Referral).where(Referral.referee_id == referee.id))
    if existing is not None:
        if existing.referrer_id == referrer_id:
            return existing
        raise AlreadyReferred(
            f"customer {referee.id} was already referred", referral_id=existing.id
        )
    referrer = customers.get_live_customer(session, referrer_id)
    flags: list[str] = []
    if _same_contact(referrer, referee):
        flags.append("same_contact")
    bought = select(func.count()).select_from(Purchase).where(Purchase.customer_id == referee.id)
    if with_order is not None:
        bought = bought.where(Purchase.order_id != with_order)
    too_old = referee.created_at < now - timedelta(days=rules.referral.new_customer_days)
    if too_old or session.scalar(bought):
        flags.append("not_new")
    referral = Referral(
        id=new_id(),
        referrer_id=referrer_id,
        referee_id=referee.id,
        code=codes.normalize(code),
        status=ReferralStatus.pending,
        flags=flags,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(referral)
            session.flush()
    except IntegrityError:
        raise AlreadyReferred(f"customer {referee.id} was already referred") from None
    return referral


def apply_code_quietly(
    session: Session,
    *,
    settings: Settings,
    referee_id: uuid.UUID,
    code: str,
    now: datetime,
    with_order: uuid.UUID | None = None,
) -> Referral | None:
    """``apply_code`` for a code an order carried: a bad code is ignored, not an error."""
    try:
        with session.begin_nested():
            return apply_code(
                session,
                settings=settings,
                referee_id=referee_id,
                code=code,
                now=now,
                with_order=with_order,
            )
    except (Invalid, Conflict, NotFound):
        return None


def _pay(
    session: Session,
    *,
    settings: Settings,
    referral: Referral,
    side: str,
    points: int,
    reward_id: uuid.UUID | None,
    now: datetime,
) -> int:
    customer_id = referral.referee_id if side == "referee" else referral.referrer_id
    try:
        customer_id = customers.get_live_customer(session, customer_id).id
    except NotFound:
        return 0
    ledger.lock_account(session, customer_id, zone=settings.zone, now=now)
    paid = 0
    if points:
        entry = ledger.credit(
            session,
            customer_id=customer_id,
            kind=EntryKind.earn,
            reason="referral",
            occasion=f"referral:{referral.id}:{side}",
            lots=[LotSpec(points, now, _expiry(session, settings, now))],
            now=now,
            rule=f"referral:{side}",
        )
        paid = points if entry else 0
    reward = session.get(Reward, reward_id) if reward_id else None
    if reward is not None:
        coupons.issue_for_reward(
            session,
            settings=settings,
            reward=reward,
            customer_id=customer_id,
            source=CouponSource.referral,
            occasion=f"referral:{referral.id}:{side}",
            now=now,
        )
    emit(
        session,
        events.ReferralRewarded(
            referral_id=referral.id,
            customer_id=customer_id,
            side=side,
            points=paid,
            reward_id=reward_id,
            friend_id=referral.referee_id if side == "referrer" else referral.referrer_id,
        ),
    )
    return paid


def _expiry(session: Session, settings: Settings, now: datetime) -> datetime | None:
    return expiry_for(rules_at(session, settings, now).rules, now, settings)


def _pay_referee(
    session: Session, settings: Settings, rules: ProgramRules, referral: Referral, now: datetime
) -> None:
    if referral.referee_rewarded_at is not None:
        return
    _pay(
        session,
        settings=settings,
        referral=referral,
        side="referee",
        points=rules.referral.referee_points,
        reward_id=rules.referral.referee_reward_id,
        now=now,
    )
    referral.referee_rewarded_at = now


def _pay_referrer(
    session: Session, settings: Settings, rules: ProgramRules, referral: Referral, now: datetime
) -> None:
    if referral.referrer_rewarded_at is not None:
        return
    referral.referrer_points = _pay(
        session,
        settings=settings,
        referral=referral,
        side="referrer",
        points=rules.referral.referrer_points,
        reward_id=rules.referral.referrer_reward_id,
        now=now,
    )
    referral.referrer_rewarded_at = now


def on_purchase(
    session: Session,
    *,
    settings: Settings,
    rules: ProgramRules,
    referee_id: uuid.UUID,
    order: OrderFacts,
    now: datetime,
) -> None:
    """The friend bought: on their first purchase, check for fraud, then welcome them."""
    referral = session.scalar(
        select(Referral).where(
            Referral.referee_id == referee_id, Referral.status == ReferralStatus.pending
        )
    )
    if referral is None or not rules.referral.enabled:
        return
    earlier = session.scalar(
        select(func.count())
        .select_from(Purchase)
        .where(
            Purchase.customer_id == referee_id,
            Purchase.order_id != order.id,
            Purchase.placed_at < order.placed_at,
            Purchase.cancelled.is_(False),
        )
    )
    flags = list(referral.flags or [])
    if earlier and "not_new" not in flags:
        flags.append("not_new")
    window = now - timedelta(days=rules.referral.period_days)
    recent = session.scalar(
        select(func.count())
        .select_from(Referral)
        .where(
            Referral.referrer_id == referral.referrer_id,
            Referral.created_at >= window,
            Referral.status != ReferralStatus.rejected,
        )
    )
    if (recent or 0) > rules.referral.max_per_period and "too_many" not in flags:
        flags.append("too_many")
    referral.flags = flags
    referral.first_order_id = order.id
    referral.qualifies_at = order.placed_at + timedelta(days=rules.pending_days)
    if flags:
        referral.status = ReferralStatus.review
    else:
        referral.status = ReferralStatus.qualified
        _pay_referee(session, settings, rules, referral, now)
    session.flush()


def on_void_purchase(session: Session, *, referee_id: uuid.UUID, order_id: uuid.UUID) -> None:
    """The qualifying purchase was refunded or cancelled: hold what is not yet paid."""
    referral = session.scalar(
        select(Referral).where(
            Referral.referee_id == referee_id, Referral.first_order_id == order_id
        )
    )
    if referral is None or referral.status in (ReferralStatus.rewarded, ReferralStatus.rejected):
        return
    if "refunded" not in (referral.flags or []):
        referral.flags = [*(referral.flags or []), "refunded"]
    referral.status = ReferralStatus.review
    session.flush()


def pay_due_batch(session: Session, *, settings: Settings, now: datetime, limit: int = 200) -> int:
    """Reward referrers whose friend's first purchase is past its pending period."""
    rules = rules_at(session, settings, now).rules
    due = list(
        session.scalars(
            select(Referral)
            .where(Referral.status == ReferralStatus.qualified, Referral.qualifies_at <= now)
            .order_by(Referral.qualifies_at, Referral.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for referral in due:
        purchase = (
            session.get(Purchase, referral.first_order_id) if referral.first_order_id else None
        )
        if purchase is None or purchase.cancelled:
            referral.flags = [*(referral.flags or []), "refunded"]
            referral.status = ReferralStatus.review
            continue
        _pay_referrer(session, settings, rules, referral, now)
        referral.status = ReferralStatus.rewarded
    session.flush()
    return len(due)


def get_referral(session: Session, referral_id: uuid.UUID) -> Referral:
    """The referral with ``referral_id``."""
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise NotFound(f"referral {referral_id} not found", referral_id=referral_id)
    return referral


def approve(
    session: Session,
    *,
    settings: Settings,
    referral_id: uuid.UUID,
    by: str,
    note: str | None = None,
) -> Referral:
    """A reviewer clears a held referral: whatever is unpaid is paid now, to both sides."""
    now = utcnow()
    referral = get_referral(session, referral_id)
    if referral.status == ReferralStatus.rewarded:
        return referral
    if referral.status not in (ReferralStatus.review, ReferralStatus.qualified):
        raise Conflict(f"a {referral.status} referral cannot be approved", status=referral.status)
    if referral.first_order_id is None:
        raise Conflict("the friend has not bought yet; nothing to approve", status=referral.status)
    rules = rules_at(session, settings, now).rules
    _pay_referee(session, settings, rules, referral, now)
    _pay_referrer(session, settings, rules, referral, now)
    referral.status = ReferralStatus.rewarded
    referral.reviewed_by = by
    referral.reviewed_at = now
    referral.review_note = note
    session.flush()
    return referral


def reject(
    session: Session, *, referral_id: uuid.UUID, by: str, note: str | None = None
) -> Referral:
    """A reviewer refuses a held referral: nothing more is paid."""
    referral = get_referral(session, referral_id)
    if referral.status == ReferralStatus.rejected:
        return referral
    if referral.status == ReferralStatus.rewarded:
        raise Conflict("this referral was rewarded already", status=referral.status)
    referral.status = ReferralStatus.rejected
    referral.reviewed_by = by
    referral.reviewed_at = utcnow()
    referral.review_note = note
    session.flush()
    return referral


def list_referrals(
    session: Session,
    *,
    status: str | None = None,
    customer_id: uuid.UUID | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Referral], str | None]:
    """A page of referrals, newest first (``status="review"`` is the review queue)."""
    stmt = select(Referral)
    if status:
        stmt = stmt.where(Referral.status == status)
    if customer_id is not None:
        stmt = stmt.where(
            (Referral.referrer_id == customer_id) | (Referral.referee_id == customer_id)
        )
    if cursor:
        try:
            after = uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (ValueError, TypeError):
            raise Invalid.field(("cursor",), "not a cursor returned by this API") from None
        stmt = stmt.where(Referral.id < after)
    rows = list(session.scalars(stmt.order_by(Referral.id.desc()).limit(limit + 1)))
    nxt = (
        base64.urlsafe_b64encode(rows[limit - 1].id.bytes).decode().rstrip("=")
        if len(rows) > limit
        else None
    )
    return rows[:limit], nxt


def stats(session: Session, customer_id: uuid.UUID) -> ReferralStats:
    """How a member's referrals went."""
    by_status = {
        status: int(n)
        for status, n in session.execute(
            select(Referral.status, func.count())
            .where(Referral.referrer_id == customer_id)
            .group_by(Referral.status)
        )
    }
    earned = session.scalar(
        select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
            PointsEntry.customer_id == customer_id,
            PointsEntry.reason == "referral",
            PointsEntry.rule == "referral:referrer",
        )
    )
    return ReferralStats(
        invited=sum(by_status.values()),
        pending=by_status.get(ReferralStatus.pending, 0),
        qualified=by_status.get(ReferralStatus.qualified, 0),
        review=by_status.get(ReferralStatus.review, 0),
        rewarded=by_status.get(ReferralStatus.rewarded, 0),
        rejected=by_status.get(ReferralStatus.rejected, 0),
        points_earned=int(earned or 0),
    )


def info(session: Session, *, settings: Settings, customer_id: uuid.UUID) -> ReferralInfo:
    """The member's code, link, who referred them, and their statistics."""
    customer = customers.get_live_customer(session, customer_id)
    code = referral_code(session, settings=settings, customer_id=customer.id)
    rules = rules_at(session, settings).rules
    referred_by = session.scalar(
        select(Referral.referrer_id).where(Referral.referee_id == customer.id)
    )
    return ReferralInfo(
        customer_id=customer.id,
        code=code,
        link=referral_link(rules, code),
        referred_by=referred_by,
        stats=stats(session, customer.id),
    )


def move_to(session: Session, *, loser_id: uuid.UUID, winner_id: uuid.UUID) -> None:
    """A merge: the loser's referrals (as referrer, and as friend if the winner has none) move."""
    session.execute(
        update(Referral)
        .where(Referral.referrer_id == loser_id, Referral.referee_id != winner_id)
        .values(referrer_id=winner_id)
        .execution_options(synchronize_session=False)
    )
    has_own = session.scalar(select(Referral.id).where(Referral.referee_id == winner_id))
    if has_own is None:
        session.execute(
            update(Referral)
            .where(Referral.referee_id == loser_id, Referral.referrer_id != winner_id)
            .values(referee_id=winner_id)
            .execution_options(synchronize_session=False)
        )
