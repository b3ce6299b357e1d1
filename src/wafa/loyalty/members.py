"""What happens to a member when customers merge or a customer is erased; fixed bonuses."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wafa.core.db import insert_ignoring_conflicts
from wafa.core.errors import NotFound
from wafa.core.events import emit
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers import records as customer_records
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.loyalty import events, ledger, referrals, stamps, streaks, tiers
from wafa.loyalty.accrual import current_rules
from wafa.loyalty.ledger import LotSpec
from wafa.loyalty.models import (
    Badge,
    BirthdayGrant,
    BounceBackGrant,
    Coupon,
    CouponStatus,
    CouponUse,
    EntryKind,
    LoyaltyAccount,
    PointsEntry,
    Purchase,
    Redemption,
)
from wafa.loyalty.program import expiry_for, rules_at
from wafa.loyalty.surprise import service as surprise

BONUSES = ("signup", "profile_completed", "survey_answered")


def merge_members(
    session: Session,
    *,
    settings: Settings,
    winner_id: uuid.UUID,
    loser_id: uuid.UUID,
    merge_id: str,
) -> bool:
    """Move the loser's points, lots, stamps, coupons, purchases and history to the winner.

    Every points movement is a ledger entry on both sides (``merge_out`` and
    ``merge_in``, lots keeping their release and expiry instants). The winner keeps
    the higher tier and the older membership. Done once: the loser's account is
    closed by it, and a closed account is never merged again.
    """
    now = utcnow()
    ledger.ensure_account(session, loser_id, zone=settings.zone, now=now)
    ledger.ensure_account(session, winner_id, zone=settings.zone, now=now)
    ledger.lock_accounts(session, [winner_id, loser_id])
    for cid in sorted([winner_id, loser_id]):
        ledger.lock_account(session, cid, zone=settings.zone, now=now)
    loser = ledger.account(session, loser_id)
    winner = ledger.account(session, winner_id)
    assert loser is not None
    assert winner is not None
    if loser.closed_at is not None:
        return False
    ledger.release_due(session, loser_id, now=now)
    ledger.release_due(session, winner_id, now=now)
    ledger.transfer_all(
        session, loser_id=loser_id, winner_id=winner_id, occasion=f"merge:{merge_id}", now=now
    )
    for model in (Purchase, Coupon, CouponUse, Redemption, BounceBackGrant):
        session.execute(
            update(model)
            .where(model.customer_id == loser_id)
            .values(customer_id=winner_id)
            .execution_options(synchronize_session=False)
        )
    stamps.move_to(
        session,
        settings=settings,
        loser_id=loser_id,
        winner_id=winner_id,
        merge_id=merge_id,
        now=now,
    )
    referrals.move_to(session, loser_id=loser_id, winner_id=winner_id)
    surprise.move_to(session, loser_id=loser_id, winner_id=winner_id)
    for badge in list(session.scalars(select(Badge).where(Badge.customer_id == loser_id))):
        session.execute(
            insert_ignoring_conflicts(
                session, Badge, index_elements=["customer_id", "code"]
            ).values(
                customer_id=winner_id, code=badge.code, name=badge.name, earned_at=badge.earned_at
            )
        )
    for grant in list(
        session.scalars(select(BirthdayGrant).where(BirthdayGrant.customer_id == loser_id))
    ):
        session.execute(
            insert_ignoring_conflicts(
                session, BirthdayGrant, index_elements=["customer_id", "calendar", "year"]
            ).values(
                customer_id=winner_id,
                calendar=grant.calendar,
                year=grant.year,
                granted_on=grant.granted_on,
                points=0,
                granted_at=grant.granted_at,
            )
        )
    rules = rules_at(session, settings, now).rules
    code = winner.referral_code
    if code is None and loser.referral_code is not None:
        code = loser.referral_code
        session.execute(
            update(LoyaltyAccount)
            .where(LoyaltyAccount.customer_id == loser_id)
            .values(referral_code=None)
            .execution_options(synchronize_session=False)
        )
    higher = tiers._higher(rules.tiers, winner.tier_code, loser.tier_code)
    override = tiers._higher(rules.tiers, winner.tier_override, loser.tier_override)
    session.execute(
        update(LoyaltyAccount)
        .where(LoyaltyAccount.customer_id == winner_id)
        .values(
            visits=winner.visits + loser.visits,
            spend=winner.spend + loser.spend,
            categories=sorted({*(winner.categories or []), *(loser.categories or [])}),
            badge_codes=sorted({*(winner.badge_codes or []), *(loser.badge_codes or [])}),
            joined_on=min(winner.joined_on, loser.joined_on),
            last_purchase_on=max(
                (d for d in (winner.last_purchase_on, loser.last_purchase_on) if d is not None),
                default=None,
            ),
            leaderboard_opt_in=winner.leaderboard_opt_in or loser.leaderboard_opt_in,
            referral_code=code,
            tier_code=higher,
            tier_review_on=winner.tier_review_on
            if higher == winner.tier_code
            else loser.tier_review_on,
            tier_override=override,
            tier_override_until=(
                winner.tier_override_until
                if override == winner.tier_override
                else loser.tier_override_until
            ),
        )
        .execution_options(synchronize_session=False)
    )
    if higher != winner.tier_code:
        tiers._record(
            session,
            customer_id=winner_id,
            old=winner.tier_code,
            new=higher,
            reason="merge",
            value=None,
            now=now,
        )
    session.execute(
        update(LoyaltyAccount)
        .where(LoyaltyAccount.customer_id == loser_id)
        .values(
            closed_at=now, leaderboard_opt_in=False, tier_review_on=None, tier_override_until=None
        )
        .execution_options(synchronize_session=False)
    )
    streaks.recompute(session, settings=settings, rules=rules, customer_id=winner_id, now=now)
    tiers.upgrade_if_qualified(
        session, settings=settings, rules=rules, customer_id=winner_id, now=now
    )
    return True


def erase_member(session: Session, *, settings: Settings, customer_id: uuid.UUID) -> None:
    """A customer was erased: their points lapse, their coupons stop working, codes go.

    The ledger's amounts stay (anonymous, for the books); nothing personal is kept
    in loyalty beyond the customer id of the anonymous shell: the staff's free-text
    notes on its entries (and on those of records merged into it) are blanked. That is
    the one change an entry ever gets; its points, reason and occasion stay.
    """
    now = utcnow()
    session.execute(
        update(PointsEntry)
        .where(
            PointsEntry.customer_id.in_(
                [customer_id, *customer_records.merged_records(session, customer_id)]
            ),
            PointsEntry.note.is_not(None),
        )
        .values(note=None)
        .execution_options(synchronize_session=False)
    )
    ledger.lock_account(session, customer_id, zone=settings.zone, now=now)
    ledger.release_due(session, customer_id, now=now)
    acct = ledger.account(session, customer_id)
    assert acct is not None
    if acct.closed_at is not None:
        return
    lots = ledger.open_lots(session, customer_id)
    ledger.debit_lots(
        session,
        customer_id=customer_id,
        lots=lots,
        kind=EntryKind.expire,
        reason="erased",
        occasion="erased",
        now=now,
        carried=-acct.carried,
    )
    session.execute(
        update(Coupon)
        .where(Coupon.customer_id == customer_id, Coupon.status == CouponStatus.active)
        .values(status=CouponStatus.voided, voided_at=now, void_reason="customer erased")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(LoyaltyAccount)
        .where(LoyaltyAccount.customer_id == customer_id)
        .values(
            referral_code=None,
            leaderboard_opt_in=False,
            closed_at=now,
            tier_review_on=None,
            tier_override=None,
            tier_override_until=None,
        )
        .execution_options(synchronize_session=False)
    )


def award_bonus(
    session: Session, *, settings: Settings, customer_id: uuid.UUID, bonus: str, occasion: str
) -> int:
    """Give a fixed bonus of the program (``signup``, ``profile_completed``, ``survey_answered``)
    once per occasion; returns the points given (0 if none or given before).

    The hook for other domains: the feedback issue calls it with
    ``bonus="survey_answered", occasion=<response id>``.
    """
    if bonus not in BONUSES:
        raise ValueError(f"unknown bonus {bonus!r}; one of {BONUSES}")
    now = utcnow()
    rules = rules_at(session, settings, now).rules
    points = int(getattr(rules.bonuses, bonus))
    if not rules.enabled or points <= 0:
        return 0
    try:
        cid = customers.get_live_customer(session, customer_id).id
    except NotFound:  # an erased or unknown customer earns nothing
        return 0
    ledger.lock_account(session, cid, zone=settings.zone, now=now)
    entry = ledger.credit(
        session,
        customer_id=cid,
        kind=EntryKind.earn,
        reason="bonus",
        occasion=f"{bonus}:{occasion}",
        lots=[LotSpec(points, now, expiry_for(rules, now, settings))],
        now=now,
        rule=f"bonus:{bonus}",
        rule_version=None,
    )
    if entry is None:
        return 0
    emit(
        session,
        events.PointsEarned(
            customer_id=cid, points=points, reason="bonus", rules={f"bonus:{bonus}": points}
        ),
    )
    return points


def profile_complete(customer: Customer) -> bool:
    """Name, email, phone and birthday are all on file."""
    return bool(customer.name and customer.email and customer.phone and customer.birth_month)


def on_customer_created(
    session: Session, *, settings: Settings, customer_id: uuid.UUID, source: str | None
) -> None:
    """A new customer joins: the sign-up bonus (not for imported records) and the profile bonus."""
    bonuses = current_rules(session, settings).bonuses
    if not (bonuses.signup or bonuses.profile_completed):
        return
    customer = session.get(Customer, customer_id)
    if customer is None or not customer.is_active:
        return
    origin = (source or customer.source or "").lower()
    if "import" not in origin:
        award_bonus(
            session, settings=settings, customer_id=customer_id, bonus="signup", occasion="signup"
        )
    if profile_complete(customer):
        award_bonus(
            session,
            settings=settings,
            customer_id=customer_id,
            bonus="profile_completed",
            occasion="profile",
        )


def on_customer_updated(session: Session, *, settings: Settings, customer_id: uuid.UUID) -> None:
    """A profile that just became complete earns the profile bonus (once)."""
    if not current_rules(session, settings).bonuses.profile_completed:
        return
    customer = session.get(Customer, customer_id)
    if customer is not None and customer.is_active and profile_complete(customer):
        award_bonus(
            session,
            settings=settings,
            customer_id=customer_id,
            bonus="profile_completed",
            occasion="profile",
        )
