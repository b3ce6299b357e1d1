"""Streaks, badges and the opt-in leaderboard.

A streak counts consecutive weeks (or months) of the business calendar with a
purchase; it breaks when a whole period passes without one. Badges are rules over
visits, categories tried, days of membership, the best streak and spend; each is
awarded once and sends ``badge.earned``. The monthly leaderboard lists only members
who opted in, by first name and initial.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from wafa.core.calendars import (
    add_months,
    local_date,
    month_key,
    month_start,
    start_of_day,
    week_start,
)
from wafa.core.db import insert_new, rowcount
from wafa.core.events import emit
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.loyalty import events, ledger
from wafa.loyalty.models import Badge, LoyaltyAccount, PointsEntry, Purchase
from wafa.loyalty.schemas.io import Leaderboard, LeaderboardRow
from wafa.loyalty.schemas.program import BadgeKind, BadgeRule, ProgramRules, StreakPeriod

_EPOCH = date(1970, 1, 5)  # a Monday


def period_of(day: date, rules: ProgramRules, settings: Settings) -> int:
    """A number for the streak period containing ``day``; consecutive periods differ by 1."""
    if rules.streaks.period is StreakPeriod.month:
        return month_key(day, settings.calendar)
    return (week_start(day, rules.streaks.week_starts_on) - _EPOCH).days // 7


def advance(
    rules: ProgramRules,
    settings: Settings,
    *,
    current: int,
    best: int,
    last: int | None,
    placed_on: date,
) -> tuple[int, int, int] | None:
    """The streak after a purchase on ``placed_on``: (current, best, period).

    ``None`` when the purchase is older than the last counted period (an order
    arriving late): then the streak is rebuilt from the purchases.
    """
    period = period_of(placed_on, rules, settings)
    if last is not None and period < last:
        return None
    if last == period:
        return current, best, period
    grown = current + 1 if last is not None and period == last + 1 and current else 1
    return grown, max(best, grown), period


def on_purchase(
    session: Session,
    *,
    settings: Settings,
    rules: ProgramRules,
    customer_id: uuid.UUID,
    placed_on: date,
) -> None:
    """Extend (or start) the member's streak with a purchase on ``placed_on``."""
    if not rules.streaks.enabled:
        return
    acct = ledger.account(session, customer_id)
    if acct is None:
        return
    step = advance(
        rules,
        settings,
        current=acct.streak_current,
        best=acct.streak_best,
        last=acct.streak_period,
        placed_on=placed_on,
    )
    if step is None:
        recompute(session, settings=settings, rules=rules, customer_id=customer_id, now=utcnow())
        return
    session.execute(
        update(LoyaltyAccount)
        .where(LoyaltyAccount.customer_id == customer_id)
        .values(streak_current=step[0], streak_best=step[1], streak_period=step[2])
        .execution_options(synchronize_session=False)
    )


def recompute(
    session: Session,
    *,
    settings: Settings,
    rules: ProgramRules,
    customer_id: uuid.UUID,
    now: datetime,
) -> None:
    """Rebuild the streak from the member's purchases (after an out-of-order or void purchase)."""
    days = session.scalars(
        select(Purchase.placed_on)
        .where(Purchase.customer_id == customer_id, Purchase.cancelled.is_(False))
        .distinct()
    ).all()
    periods = sorted({period_of(d, rules, settings) for d in days})
    best = run = 0
    previous: int | None = None
    for p in periods:
        run = run + 1 if previous is not None and p == previous + 1 else 1
        best = max(best, run)
        previous = p
    today_period = period_of(local_date(now, settings.zone), rules, settings)
    current = run if previous is not None and previous >= today_period - 1 else 0
    session.execute(
        update(LoyaltyAccount)
        .where(LoyaltyAccount.customer_id == customer_id)
        .values(streak_current=current, streak_best=best, streak_period=previous)
        .execution_options(synchronize_session=False)
    )


def break_streaks(session: Session, *, settings: Settings, rules: ProgramRules, day: date) -> int:
    """End the streaks of members who let a whole period pass without buying; returns how many."""
    if not rules.streaks.enabled:
        return 0
    current = period_of(day, rules, settings)
    return rowcount(
        session.execute(
            update(LoyaltyAccount)
            .where(LoyaltyAccount.streak_current > 0, LoyaltyAccount.streak_period < current - 1)
            .values(streak_current=0)
            .execution_options(synchronize_session=False)
        )
    )


def _award(session: Session, customer_id: uuid.UUID, code: str, name: str, now: datetime) -> bool:
    if not insert_new(
        session,
        Badge,
        index_elements=["customer_id", "code"],
        values={"customer_id": customer_id, "code": code, "name": name, "earned_at": now},
    ):
        return False
    emit(session, events.BadgeEarned(customer_id=customer_id, badge=code, name=name))
    return True


def due_badges(
    rules: ProgramRules,
    *,
    have: Sequence[str],
    visits: int,
    best_streak: int,
    member_days: int,
    categories: int,
    spend: int,
) -> list[BadgeRule]:
    """The badges the member has not got and now deserves (no query: all from the account)."""
    metrics = {
        BadgeKind.visits: visits,
        BadgeKind.streak: best_streak,
        BadgeKind.member_days: member_days,
        BadgeKind.categories: categories,
        BadgeKind.spend: spend,
    }
    return [b for b in rules.badges if b.code not in have and metrics[b.kind] >= b.threshold]


def award_badges(
    session: Session,
    *,
    customer_id: uuid.UUID,
    badges: Sequence[BadgeRule],
    have: Sequence[str],
    now: datetime,
) -> list[str]:
    """Record ``badges`` (once each, ``badge.earned`` for each new one); returns the new codes.

    The account's ``badge_codes`` is brought up to date.
    """
    new = [b.code for b in badges if _award(session, customer_id, b.code, b.name, now)]
    if badges:
        session.execute(
            update(LoyaltyAccount)
            .where(LoyaltyAccount.customer_id == customer_id)
            .values(badge_codes=sorted({*have, *(b.code for b in badges)}))
            .execution_options(synchronize_session=False)
        )
    return new


def check_badges(
    session: Session,
    *,
    settings: Settings,
    rules: ProgramRules,
    customer_id: uuid.UUID,
    now: datetime,
) -> list[str]:
    """Award every badge the member now deserves; returns the new badge codes."""
    acct = ledger.account(session, customer_id)
    if acct is None or not rules.badges:
        return []
    have = list(acct.badge_codes or [])
    due = due_badges(
        rules,
        have=have,
        visits=acct.visits,
        best_streak=acct.streak_best,
        member_days=(local_date(now, settings.zone) - acct.joined_on).days,
        categories=len(acct.categories or []),
        spend=acct.spend,
    )
    return award_badges(session, customer_id=customer_id, badges=due, have=have, now=now)


def membership_badges_batch(
    session: Session,
    *,
    settings: Settings,
    rules: ProgramRules,
    day: date,
    after: uuid.UUID | None = None,
    limit: int = 1000,
    catch_up: int = 7,
) -> tuple[int, uuid.UUID | None]:
    """Award "N days a member" badges to members whose N-th day of membership is ``day``
    (or up to ``catch_up`` days before, after downtime); one batch.

    Only the members at the anniversary are read, not everyone; a member who was
    already past it when the rule appeared gets the badge with their next purchase.
    """
    now = utcnow()
    done = 0
    for badge in (b for b in rules.badges if b.kind is BadgeKind.member_days):
        newest = day - timedelta(days=badge.threshold)
        held = (
            select(Badge.customer_id)
            .where(Badge.customer_id == LoyaltyAccount.customer_id, Badge.code == badge.code)
            .exists()
        )
        rows = session.execute(
            select(LoyaltyAccount.customer_id, LoyaltyAccount.badge_codes)
            .where(
                LoyaltyAccount.joined_on.between(newest - timedelta(days=catch_up), newest),
                LoyaltyAccount.closed_at.is_(None),
                ~held,
            )
            .order_by(LoyaltyAccount.customer_id)
            .limit(limit - done)
        ).all()
        for cid, have in rows:
            award_badges(session, customer_id=cid, badges=[badge], have=list(have or []), now=now)
        done += len(rows)
        if done >= limit:
            break
    return done, None


def badges_of(session: Session, customer_id: uuid.UUID) -> list[Badge]:
    """The member's badges, oldest first."""
    return list(
        session.scalars(
            select(Badge).where(Badge.customer_id == customer_id).order_by(Badge.earned_at)
        )
    )


def set_opt_in(
    session: Session, *, settings: Settings, customer_id: uuid.UUID, opt_in: bool
) -> None:
    """The member chooses to appear on the leaderboard (or not); an unknown customer is 404."""
    customers.get_live_customer(session, customer_id)
    ledger.ensure_account(session, customer_id, zone=settings.zone, now=utcnow())
    session.execute(
        update(LoyaltyAccount)
        .where(LoyaltyAccount.customer_id == customer_id)
        .values(leaderboard_opt_in=opt_in)
        .execution_options(synchronize_session=False)
    )


def display_name(name: str | None) -> str:
    """First name and the initial of the last: "Sara Karimi" → "Sara K."; no name → "—"."""
    parts = (name or "").split()
    if not parts:
        return "—"
    if len(parts) == 1:
        return parts[0]
    return f"{parts[0]} {parts[-1][0]}."


def leaderboard(
    session: Session,
    *,
    settings: Settings,
    rules: ProgramRules,
    month: date | None = None,
    staff: bool = False,
) -> Leaderboard:
    """Points earned in a month of the business calendar by members who opted in."""
    zone, cal = settings.zone, settings.calendar
    day = month or local_date(utcnow(), zone)
    first = month_start(day, cal)
    start = start_of_day(first, zone)
    end = start_of_day(add_months(first, 1, cal), zone)
    earned = func.sum(PointsEntry.points)
    rows = session.execute(
        select(PointsEntry.customer_id, Customer.name, earned.label("points"))
        .join(LoyaltyAccount, LoyaltyAccount.customer_id == PointsEntry.customer_id)
        .join(Customer, Customer.id == PointsEntry.customer_id)
        .where(
            LoyaltyAccount.leaderboard_opt_in.is_(True),
            Customer.erased_at.is_(None),
            Customer.merged_into_id.is_(None),
            PointsEntry.created_at >= start,
            PointsEntry.created_at < end,
            PointsEntry.reason.in_(("order", "refund", "cancel", "bonus", "birthday", "referral")),
        )
        .group_by(PointsEntry.customer_id, Customer.name)
        .having(earned > 0)
        .order_by(earned.desc(), PointsEntry.customer_id)
        .limit(rules.leaderboard.size)
    ).all()
    from wafa.core.calendars import ymd

    y, m, _ = ymd(first, cal)
    return Leaderboard(
        month=f"{y:04d}-{m:02d}",
        rows=[
            LeaderboardRow(
                rank=i + 1,
                name=display_name(name),
                points=int(points),
                customer_id=cid if staff else None,
            )
            for i, (cid, name, points) in enumerate(rows)
        ],
    )
