"""The loyalty service: what the API, the dashboard, the POS and the CLI call.

Each function takes a session and keyword arguments, keeps the rules of the
program, and never commits (the caller's unit of work does). The ledger rules
live in ``ledger``; orders in ``accrual``; the catalogue in ``rewards``; codes in
``coupons``; the rest in their own modules. This module gathers the member-level
views (status, ledger, adjustments, program settings, liability, personal data).

About 620 lines: the facade every face calls; each function is short and hands the rule
to its module.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from wafa.core.calendars import add_months, local_date
from wafa.core.errors import Invalid, NotFound
from wafa.core.ids import new_id
from wafa.core.money import apply_rate_bp
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.loyalty import coupons, ledger, program, rewards, stamps, streaks, texts, tiers
from wafa.loyalty.ledger import InsufficientPoints, LotSpec
from wafa.loyalty.models import (
    Badge,
    BirthdayGrant,
    Coupon,
    CouponSource,
    CouponStatus,
    CouponUse,
    EntryKind,
    LoyaltyAccount,
    PointsEntry,
    PointsLot,
    ProgramVersion,
    Redemption,
    Referral,
    TierChange,
)
from wafa.loyalty.program import expiry_for
from wafa.loyalty.schemas.io import (
    CartLine,
    CouponValidation,
    ExpiringPoints,
    Liability,
    LoyaltyStatus,
    ProgramRead,
    RedemptionRead,
    ReleasingPoints,
    StampInfo,
    TierInfo,
    TierLevelRead,
    TierPreview,
    TiersRead,
)
from wafa.loyalty.schemas.program import ExpiryPolicy, ProgramRules, Tiers

__all__ = ["InsufficientPoints"]

EXPIRING_HORIZON = timedelta(days=90)


# --------------------------------------------------------------------------- program


def get_program(session: Session, *, settings: Settings) -> ProgramRead:
    """The rules in force now (the defaults until the owner saves a version)."""
    current = program.rules_at(session, settings)
    return ProgramRead(
        version=current.version, effective_from=current.effective_from, rules=current.rules
    )


def update_program(
    session: Session,
    *,
    settings: Settings,
    rules: ProgramRules,
    by: str | None,
    effective_from: datetime | None = None,
    note: str | None = None,
) -> ProgramRead:
    """Save new rules as the next version, applying from now (or a later instant) on.

    Nothing already awarded changes. Rewards named by the rules must exist.
    """
    for loc, reward_id in (
        (("rules", "birthday", "reward_id"), rules.birthday.reward_id),
        (("rules", "referral", "referee_reward_id"), rules.referral.referee_reward_id),
        (("rules", "referral", "referrer_reward_id"), rules.referral.referrer_reward_id),
    ):
        if reward_id is not None:
            try:
                rewards.get_reward(session, reward_id)
            except NotFound:
                raise Invalid.field(loc, f"no reward {reward_id}") from None
    version = program.save_rules(
        session, rules=rules, by=by, effective_from=effective_from, note=note
    )
    # New tier rules apply from now on: upgrades at once for a small store; a big one
    # gets them from the daily "retier" job (in batches), downgrades at each review.
    small = (session.scalar(select(func.count()).select_from(LoyaltyAccount)) or 0) <= 5000
    if version.effective_from <= utcnow() and rules.tiers.enabled and small:
        tiers.recalculate(session, settings=settings, by=by)
    return ProgramRead(version=version.version, effective_from=version.effective_from, rules=rules)


def program_versions(session: Session) -> list[ProgramVersion]:
    """Every saved version of the rules, newest first."""
    return program.list_versions(session)


def preview_tiers(session: Session, *, settings: Settings, proposed: Tiers) -> TierPreview:
    """Who would change tier under ``proposed`` tier rules (nothing is saved)."""
    return tiers.preview(session, settings=settings, proposed=proposed)


# --------------------------------------------------------------------------- status


def _expiring(
    settings: Settings,
    rules: ProgramRules,
    acct: LoyaltyAccount | None,
    lapsing: list[tuple[date, int]],
) -> list[ExpiringPoints]:
    """What expires when: the whole balance at the inactivity deadline, or the lots
    lapsing soon (``lapsing``: per local day, from ``ledger.outlook``)."""
    if acct is None:
        return []
    if rules.expiry.policy is ExpiryPolicy.inactivity:
        total = acct.available + acct.pending
        if total <= 0:
            return []
        since = acct.last_purchase_on or acct.joined_on
        return [
            ExpiringPoints(
                points=total, on=add_months(since, rules.expiry.months, settings.calendar)
            )
        ]
    return [ExpiringPoints(points=points, on=day) for day, points in lapsing]


def status(session: Session, *, settings: Settings, customer_id: uuid.UUID) -> LoyaltyStatus:
    """A member's balance, tier, what expires when, stamps, streak and badges.

    ``available`` and ``pending`` count, as of now, lots whose pending period ended
    even if the release job has not run yet. A merged record answers for the
    surviving one.
    """
    customer = customers.get_live_customer(session, customer_id)
    now = utcnow()
    today = local_date(now, settings.zone)
    rules = program.rules_at(session, settings, now).rules
    acct = ledger.account(session, customer.id)
    # One read of the open lots: due, releasing and expiring (as ``balance_of``,
    # ``releasing`` and ``expiring`` would read them, in three statements more).
    lots = (
        ledger.outlook(
            session, customer.id, zone=settings.zone, now=now, until=now + EXPIRING_HORIZON
        )
        if acct is not None
        else ledger.Outlook(due=0, releasing=[], expiring=[])
    )
    available = acct.available + lots.due if acct is not None else 0
    pending = acct.pending - lots.due if acct is not None else 0
    tier_code = tiers.effective_tier(rules, acct, today=today) if acct else None
    if (
        acct is None
        and rules.tiers.enabled
        and rules.tiers.levels
        and rules.tiers.levels[0].threshold == 0
    ):
        tier_code = rules.tiers.levels[0].code
    info = None
    level = rules.tier(tier_code)
    if level is not None:
        value = tiers.qualifying_value(session, settings, rules.tiers, customer.id, today=today)
        above = [t for t in rules.tiers.levels if t.threshold > level.threshold]
        info = TierInfo(
            code=level.code,
            name=level.name,
            flags=list(level.flags),
            earn_multiplier_bp=level.earn_multiplier_bp,
            since=acct.tier_since if acct else None,
            review_on=acct.tier_review_on if acct else None,
            override_until=acct.tier_override_until if acct and acct.tier_override else None,
            next_tier=above[0].code if above else None,
            to_next=max(0, above[0].threshold - value) if above else None,
            qualifying_value=value,
            basis=rules.tiers.basis.value,
        )
    return LoyaltyStatus(
        customer_id=customer.id,
        available=available,
        pending=pending,
        releasing=[ReleasingPoints(points=points, on=day) for day, points in lots.releasing],
        lifetime=acct.lifetime if acct else 0,
        owed=acct.carried if acct else 0,
        tier=tier_code,
        tier_info=info,
        expiring=_expiring(settings, rules, acct, lots.expiring),
        stamps=[StampInfo.model_validate(s) for s in stamps.progress_of(session, customer.id)],
        streak=acct.streak_current if acct else 0,
        best_streak=acct.streak_best if acct else 0,
        visits=acct.visits if acct else 0,
        badges=[b.code for b in streaks.badges_of(session, customer.id)],
        referral_code=acct.referral_code if acct else None,
        value=apply_rate_bp(max(available, 0), rules.point_value_bp),
        currency=settings.currency,
    )


def _cursor(entry: PointsEntry) -> str:
    return base64.urlsafe_b64encode(entry.id.bytes).decode().rstrip("=")


def ledger_page(
    session: Session, *, customer_id: uuid.UUID, limit: int = 50, cursor: str | None = None
) -> tuple[list[PointsEntry], str | None]:
    """The member's ledger, newest first, with why each entry happened (``reason``, ``rule``)."""
    customer = customers.get_live_customer(session, customer_id)
    ids = [customer.id, *_merged_ids(session, customer.id)]
    stmt = select(PointsEntry).where(PointsEntry.customer_id.in_(ids))
    if cursor:
        try:
            after = uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (ValueError, TypeError):
            raise Invalid.field(("cursor",), "not a cursor returned by this API") from None
        stmt = stmt.where(PointsEntry.id < after)
    rows = list(session.scalars(stmt.order_by(PointsEntry.id.desc()).limit(limit + 1)))
    nxt = _cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], nxt


def ledger_balances(
    session: Session, *, customer_id: uuid.UUID, entries: list[PointsEntry], now: datetime
) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, datetime]]:
    """For a page of the ledger (newest first): the balance just after each entry, and when
    the points of each entry still pending become spendable."""
    if not entries:
        return {}, {}
    ids = [customer_id, *_merged_ids(session, customer_id)]
    running = ledger.balance_through(session, ids, entries[-1].id)
    balances: dict[uuid.UUID, int] = {}
    for entry in reversed(entries):
        if balances:  # the oldest entry's balance already counts it
            running += entry.points
        balances[entry.id] = running
    return balances, ledger.spendable_from(session, [e.id for e in entries], now=now)


def _merged_ids(session: Session, customer_id: uuid.UUID) -> list[uuid.UUID]:
    from wafa.customers.models import Customer

    found: list[uuid.UUID] = []
    frontier = [customer_id]
    while frontier:
        more = list(
            session.scalars(select(Customer.id).where(Customer.merged_into_id.in_(frontier)))
        )
        found += more
        frontier = more
    return found


# --------------------------------------------------------------------------- adjustments


def adjust(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    points: int,
    reason: str,
    by: str | None,
    expires_at: datetime | None = None,
    occasion: str | None = None,
) -> PointsEntry:
    """A staff adjustment: added points are available at once; removed points never overdraw.

    The entry keeps the reason, who and when. With ``occasion`` (a complaint's
    compensation) the adjustment is booked once: a repeat returns the first entry.
    """
    if not reason or not reason.strip():
        raise Invalid.field(("reason",), "say why the points change")
    if points == 0:
        raise Invalid.field(("points",), "must not be zero")
    now = utcnow()
    customer = customers.get_live_customer(session, customer_id)
    rules = program.rules_at(session, settings, now).rules
    if occasion is not None:
        booked = session.scalar(
            select(PointsEntry).where(
                PointsEntry.customer_id == customer.id,
                PointsEntry.reason == "adjustment",
                PointsEntry.occasion == occasion,
            )
        )
        if booked is not None:
            return booked
    occasion = occasion or str(new_id())
    with session.begin_nested():
        ledger.lock_account(session, customer.id, zone=settings.zone, now=now)
        ledger.release_due(session, customer.id, now=now)
        if points > 0:
            if expires_at is not None and expires_at <= now:
                raise Invalid.field(("expires_at",), "must be in the future")
            entry_id = ledger.credit(
                session,
                customer_id=customer.id,
                kind=EntryKind.adjust,
                reason="adjustment",
                occasion=occasion,
                lots=[LotSpec(points, now, expires_at or expiry_for(rules, now, settings))],
                now=now,
                note=reason.strip(),
                created_by=by,
            )
        else:
            entry_id = ledger.spend(
                session,
                customer_id=customer.id,
                points=-points,
                kind=EntryKind.adjust,
                reason="adjustment",
                occasion=occasion,
                now=now,
                note=reason.strip(),
                created_by=by,
            )
    if entry_id is None:  # booked by a concurrent request with the same occasion
        entry = session.scalar(
            select(PointsEntry).where(
                PointsEntry.customer_id == customer.id,
                PointsEntry.reason == "adjustment",
                PointsEntry.occasion == occasion,
            )
        )
    else:
        entry = session.get(PointsEntry, entry_id)
    assert entry is not None
    return entry


# --------------------------------------------------------------------------- liability


def liability(session: Session, *, settings: Settings) -> Liability:
    """Outstanding points valued in money (the program's point value), for the accountant.

    Negative balances (refunds of spent points) reduce what is owed; pending points
    are shown apart because they may still be refunded away.
    """
    now = utcnow()
    rules = program.rules_at(session, settings, now).rules
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(LoyaltyAccount.available), 0),
            func.coalesce(func.sum(LoyaltyAccount.pending), 0),
        ).where(
            LoyaltyAccount.closed_at.is_(None),
            or_(LoyaltyAccount.available != 0, LoyaltyAccount.pending != 0),
        )
    ).one()
    members, available, pending = int(row[0]), int(row[1]), int(row[2])
    expiring = session.scalar(
        select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(
            PointsLot.remaining > 0,
            PointsLot.expires_at.is_not(None),
            PointsLot.expires_at <= now + timedelta(days=30),
        )
    )
    unused = session.scalar(
        select(func.count())
        .select_from(Coupon)
        .where(
            Coupon.source == CouponSource.reward,
            Coupon.status == CouponStatus.active,
            Coupon.uses == 0,
            or_(Coupon.expires_at.is_(None), Coupon.expires_at > now),
        )
    )
    bp = rules.point_value_bp
    return Liability(
        as_of=now,
        currency=settings.currency,
        point_value_bp=bp,
        members=members,
        available_points=available,
        pending_points=pending,
        outstanding_points=available + pending,
        available_value=apply_rate_bp(available, bp),
        pending_value=apply_rate_bp(pending, bp),
        outstanding_value=apply_rate_bp(available + pending, bp),
        expiring_30_days=int(expiring or 0),
        unused_reward_coupons=int(unused or 0),
    )


# --------------------------------------------------------------------------- personal data


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def personal_data(session: Session, customer_id: uuid.UUID) -> dict[str, Any]:
    """Everything loyalty holds on one person (for the GDPR export)."""
    acct = ledger.account(session, customer_id)
    entries = session.scalars(
        select(PointsEntry)
        .where(PointsEntry.customer_id == customer_id)
        .order_by(PointsEntry.created_at, PointsEntry.id)
    ).all()
    coupons_ = session.scalars(select(Coupon).where(Coupon.customer_id == customer_id)).all()
    redemptions = session.scalars(
        select(Redemption).where(Redemption.customer_id == customer_id)
    ).all()
    referrals = session.scalars(
        select(Referral).where(
            or_(Referral.referrer_id == customer_id, Referral.referee_id == customer_id)
        )
    ).all()
    return {
        "account": None
        if acct is None
        else {
            "available": acct.available,
            "pending": acct.pending,
            "lifetime": acct.lifetime,
            "owed": acct.carried,
            "tier": acct.tier_code,
            "tier_since": _iso(acct.tier_since),
            "tier_override": acct.tier_override,
            "joined_on": _iso(acct.joined_on),
            "last_purchase_on": _iso(acct.last_purchase_on),
            "visits": acct.visits,
            "streak": acct.streak_current,
            "best_streak": acct.streak_best,
            "leaderboard_opt_in": acct.leaderboard_opt_in,
            "referral_code": acct.referral_code,
        },
        "ledger": [
            {
                "at": _iso(e.created_at),
                "kind": e.kind,
                "points": e.points,
                "reason": e.reason,
                "rule": e.rule,
                "order_id": str(e.order_id) if e.order_id else None,
                "note": e.note,
            }
            for e in entries
        ],
        "coupons": [
            {
                "code": c.code,
                "name": c.name,
                "source": c.source,
                "uses": c.uses,
                "status": c.status,
                "expires_at": _iso(c.expires_at),
            }
            for c in coupons_
        ],
        "redemptions": [
            {"id": str(r.id), "points": r.points, "status": r.status, "at": _iso(r.created_at)}
            for r in redemptions
        ],
        "referrals": [
            {
                "role": "referrer" if r.referrer_id == customer_id else "friend",
                "status": r.status,
                "at": _iso(r.created_at),
            }
            for r in referrals
        ],
        "badges": [
            {"code": b.code, "name": b.name, "earned_at": _iso(b.earned_at)}
            for b in session.scalars(select(Badge).where(Badge.customer_id == customer_id))
        ],
        "tier_history": [
            {"from": t.from_tier, "to": t.to_tier, "reason": t.reason, "at": _iso(t.created_at)}
            for t in session.scalars(
                select(TierChange).where(TierChange.customer_id == customer_id)
            )
        ],
        "birthday_rewards": [
            {"calendar": g.calendar, "year": g.year, "on": _iso(g.granted_on)}
            for g in session.scalars(
                select(BirthdayGrant).where(BirthdayGrant.customer_id == customer_id)
            )
        ],
    }


def kinds_summary(session: Session, customer_id: uuid.UUID) -> dict[str, int]:
    """Points by entry kind for a member (earned, spent, expired, adjusted, reversed)."""
    return {
        kind: int(total)
        for kind, total in session.execute(
            select(PointsEntry.kind, func.sum(PointsEntry.points))
            .where(PointsEntry.customer_id == customer_id)
            .group_by(PointsEntry.kind)
        )
    }


# --------------------------------------------------------------------------- facades for the entry layers


def tiers_overview(session: Session, *, settings: Settings) -> TiersRead:
    """The tier definitions in force and how many members hold each."""
    rules = program.rules_at(session, settings).rules
    held = tiers.counts(session)
    return TiersRead(
        enabled=rules.tiers.enabled,
        basis=rules.tiers.basis,
        window=rules.tiers.window,
        levels=[
            TierLevelRead(
                code=t.code,
                name=t.name,
                threshold=t.threshold,
                earn_multiplier_bp=t.earn_multiplier_bp,
                flags=list(t.flags),
                members=held.get(t.code, 0),
            )
            for t in rules.tiers.levels
        ],
        untiered=sum(n for code, n in held.items() if not rules.tier(code)),
    )


def override_tier(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    tier: str | None,
    until: date | None,
    reason: str,
    by: str | None,
) -> LoyaltyStatus:
    """Keep a member at ``tier`` or above until ``until`` (a floor); returns the new status."""
    customer = customers.get_live_customer(session, customer_id)
    tiers.set_override(
        session,
        settings=settings,
        customer_id=customer.id,
        tier=tier,
        until=until,
        reason=reason,
        by=by,
    )
    return status(session, settings=settings, customer_id=customer.id)


def redeem_reward(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    reward_id: uuid.UUID,
    by: str | None,
) -> RedemptionRead:
    """Spend points on a reward; the coupon code comes back. Never overdraws (409 otherwise)."""
    redemption = rewards.redeem(
        session, settings=settings, customer_id=customer_id, reward_id=reward_id, by=by
    )
    return rewards.read(session, redemption)


def cancel_redemption(
    session: Session, *, settings: Settings, redemption_id: uuid.UUID, by: str | None
) -> RedemptionRead:
    """Cancel an unused redemption; its points come back with their expiry dates."""
    return rewards.read(
        session, rewards.cancel(session, settings=settings, redemption_id=redemption_id, by=by)
    )


def customer_redemptions(session: Session, *, customer_id: uuid.UUID) -> list[RedemptionRead]:
    """A member's redemptions with their coupon codes, newest first."""
    customer = customers.get_live_customer(session, customer_id)
    return [rewards.read(session, r) for r in rewards.list_redemptions(session, customer.id)]


def validate_coupon(
    session: Session,
    *,
    code: str,
    customer_id: uuid.UUID | None,
    subtotal: int,
    lines: Sequence[CartLine] = (),
) -> CouponValidation:
    """Whether a code can be used on a cart, how much it takes off, and why not."""
    if customer_id is not None:
        customer_id = customers.get_live_customer(session, customer_id).id
    result = coupons.validate(
        session, code=code, customer_id=customer_id, subtotal=subtotal, lines=lines
    )
    return CouponValidation(
        valid=result.valid,
        discount=result.discount,
        reason=result.reason,
        message=texts.coupon_reason(result.reason),
    )


def use_coupon(
    session: Session,
    *,
    code: str,
    order_ref: str,
    customer_id: uuid.UUID | None,
    subtotal: int,
    lines: Sequence[CartLine] = (),
    by: str | None = None,
) -> CouponUse:
    """Use a coupon at the counter for the till's order ``order_ref``: recorded once.

    A repeat with the same reference returns the first use; a refusal is a 409
    ``coupon-rejected`` problem carrying ``reason``.
    """
    if customer_id is not None:
        customer_id = customers.get_live_customer(session, customer_id).id
    return coupons.use(
        session,
        code=code,
        order_ref=order_ref,
        customer_id=customer_id,
        subtotal=subtotal,
        now=utcnow(),
        lines=lines,
        by=by,
    )
