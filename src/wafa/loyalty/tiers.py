"""Tiers: upgrade at once, downgrade only at review, after a grace period.

The qualifying value is the member's points from purchases or their spend (both
net of refunds) within the window: the last N months, or the calendar year of the
business calendar (Gregorian or Jalali) — counting this year so far or all of last
year, whichever is higher, so status earned last year holds through this one.

A tier is held at least ``hold_months``; at its review date a member who no longer
qualifies gets ``grace_days`` to requalify, then moves one tier down
(``one_down``) or straight to the tier they qualify for (``recalculate``). A manual
override is a floor with an optional last day. Every change is recorded with its
reason and sends ``tier.changed``. Reviewing or recalculating twice changes nothing.

About 630 lines: the qualifying value, upgrades, reviews and the batched recalculation
all read the program's tier rules the same way, kept in one module so that they cannot
drift apart.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from wafa.core.calendars import add_months, local_date, start_of_day, year_start
from wafa.core.errors import Invalid
from wafa.core.events import emit
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.loyalty import events, ledger
from wafa.loyalty.models import LoyaltyAccount, Purchase, TierChange
from wafa.loyalty.program import rules_at
from wafa.loyalty.schemas.io import TierMove, TierPreview
from wafa.loyalty.schemas.program import (
    DowngradePolicy,
    ProgramRules,
    TierBasis,
    Tiers,
    TierWindow,
)


def tier_for(tiers: Tiers, value: int) -> str | None:
    """The highest tier whose threshold ``value`` reaches."""
    found = None
    for level in tiers.levels:
        if value >= level.threshold:
            found = level.code
    return found


def rank(tiers: Tiers, code: str | None) -> int:
    """0 for no tier (or a tier that no longer exists), 1 for the lowest, …"""
    for i, level in enumerate(tiers.levels):
        if level.code == code:
            return i + 1
    return 0


def _higher(tiers: Tiers, a: str | None, b: str | None) -> str | None:
    return a if rank(tiers, a) >= rank(tiers, b) else b


def effective_tier(rules: ProgramRules, acct: LoyaltyAccount, *, today: date) -> str | None:
    """The tier that applies today: the held tier or a live override, whichever is higher.

    A member never assessed holds the lowest tier if its threshold is zero.
    """
    tiers = rules.tiers
    if not tiers.enabled or not tiers.levels:
        return None
    held = acct.tier_code if rank(tiers, acct.tier_code) else None
    if held is None and tiers.levels[0].threshold == 0:
        held = tiers.levels[0].code
    override = acct.tier_override
    if (
        override is not None
        and acct.tier_override_until is not None
        and acct.tier_override_until < today
    ):
        override = None
    if not rank(tiers, override):
        override = None
    return _higher(tiers, held, override)


def effective_tier_rank(
    rules: ProgramRules, *, today: date, account: Any = LoyaltyAccount
) -> ColumnElement[int]:
    """:func:`effective_tier` as SQL, for selecting customers by tier: its rank.

    0 is no tier, 1 the lowest, and so on, so that "silver or higher" is a comparison.
    ``account`` is the (possibly outer-joined) ``LoyaltyAccount``: a customer without
    an account reads as an account with nothing, like a new member. With tiers off
    every rank is 0.
    """
    tiers = rules.tiers
    if not tiers.enabled or not tiers.levels:
        return literal(0)
    ranks = {level.code: i + 1 for i, level in enumerate(tiers.levels)}

    def rank_of(column: Any) -> ColumnElement[int]:
        return case(ranks, value=column, else_=0)

    held = rank_of(account.tier_code)
    if tiers.levels[0].threshold == 0:
        held = case((held == 0, 1), else_=held)
    override = case(
        (
            and_(account.tier_override_until.is_not(None), account.tier_override_until < today),
            0,
        ),
        else_=rank_of(account.tier_override),
    )
    return case((held >= override, held), else_=override)


def _window_filter(
    tiers: Tiers, settings: Settings, today: date
) -> tuple[datetime, datetime | None]:
    zone, cal = settings.zone, settings.calendar
    if tiers.window is TierWindow.rolling:
        # The N months that end today: a purchase on this date N months ago is out.
        first = add_months(today, -tiers.window_months, cal) + timedelta(days=1)
        return start_of_day(first, zone), None
    this_year = year_start(today, cal)
    last_year = year_start(this_year - timedelta(days=1), cal)
    return start_of_day(last_year, zone), start_of_day(this_year, zone)


def qualifying_values(
    session: Session,
    settings: Settings,
    tiers: Tiers,
    *,
    today: date,
    customer_ids: Sequence[uuid.UUID] | None = None,
) -> dict[uuid.UUID, int]:
    """The qualifying value of each member (only those with purchases in the window)."""
    column = Purchase.points if tiers.basis is TierBasis.points else Purchase.spend
    since, split = _window_filter(tiers, settings, today)
    value: ColumnElement[Any]
    if split is None:
        value = func.sum(column)
    else:
        this_year = func.sum(case((Purchase.placed_at >= split, column), else_=0))
        last_year = func.sum(case((Purchase.placed_at < split, column), else_=0))
        value = case((this_year > last_year, this_year), else_=last_year)
    stmt = (
        select(Purchase.customer_id, value)
        .where(Purchase.placed_at >= since, Purchase.cancelled.is_(False))
        .group_by(Purchase.customer_id)
    )
    if customer_ids is not None:
        stmt = stmt.where(Purchase.customer_id.in_(list(customer_ids)))
    return {cid: int(v or 0) for cid, v in session.execute(stmt)}


_PURCHASES = cast(Table, Purchase.__table__)
_ONE: dict[tuple[str, str], Any] = {}


def _one_statement(basis: TierBasis, window: TierWindow) -> Any:
    """One member's qualifying value: built once per (basis, window), then parameters only."""
    key = (basis.value, window.value)
    stmt = _ONE.get(key)
    if stmt is None:
        column = _PURCHASES.c.points if basis is TierBasis.points else _PURCHASES.c.spend
        mine = (
            _PURCHASES.c.customer_id == bindparam("b_cid"),
            _PURCHASES.c.placed_at >= bindparam("b_since"),
            _PURCHASES.c.cancelled.is_(False),
        )
        if window is TierWindow.rolling:
            stmt = select(func.coalesce(func.sum(column), 0), literal(0)).where(*mine)
        else:
            split: Any = bindparam("b_split")
            stmt = select(
                func.coalesce(
                    func.sum(case((_PURCHASES.c.placed_at >= split, column), else_=0)), 0
                ),
                func.coalesce(func.sum(case((_PURCHASES.c.placed_at < split, column), else_=0)), 0),
            ).where(*mine)
        _ONE[key] = stmt
    return stmt


def qualifying_value(
    session: Session, settings: Settings, tiers: Tiers, customer_id: uuid.UUID, *, today: date
) -> int:
    """One member's qualifying value today."""
    since, split = _window_filter(tiers, settings, today)
    row = session.execute(
        _one_statement(tiers.basis, tiers.window),
        {"b_cid": customer_id, "b_since": since, "b_split": split},
    ).one()
    return max(int(row[0] or 0), int(row[1] or 0))


def _set_tier(
    session: Session,
    *,
    customer_id: uuid.UUID,
    old: str | None,
    new: str | None,
    reason: str,
    value: int | None,
    now: datetime,
    review_on: date | None,
    by: str | None = None,
    note: str | None = None,
) -> None:
    session.execute(
        update(LoyaltyAccount)
        .where(LoyaltyAccount.customer_id == customer_id)
        .values(tier_code=new, tier_since=now, tier_review_on=review_on, tier_grace_until=None)
        .execution_options(synchronize_session=False)
    )
    _record(
        session,
        customer_id=customer_id,
        old=old,
        new=new,
        reason=reason,
        value=value,
        now=now,
        by=by,
        note=note,
    )


def _record(
    session: Session,
    *,
    customer_id: uuid.UUID,
    old: str | None,
    new: str | None,
    reason: str,
    value: int | None,
    now: datetime,
    by: str | None = None,
    note: str | None = None,
) -> None:
    session.add(
        TierChange(
            customer_id=customer_id,
            from_tier=old,
            to_tier=new,
            reason=reason,
            qualifying_value=value,
            note=note,
            created_by=by,
            created_at=now,
        )
    )
    session.flush()
    emit(
        session,
        events.TierChanged(
            customer_id=customer_id,
            from_tier=old,
            to_tier=new,
            reason=reason,
            qualifying_value=value,
        ),
    )


def upgrade_if_qualified(
    session: Session,
    *,
    settings: Settings,
    rules: ProgramRules,
    customer_id: uuid.UUID,
    now: datetime,
    acct: Any = None,
) -> str | None:
    """Move the member up at once if they now qualify for a higher tier; returns the new tier.

    Requalifying during a grace period ends the grace period. ``acct`` is the
    member's account as read under their lock (read again when not given).
    """
    tiers = rules.tiers
    if not tiers.enabled or not tiers.levels:
        return None
    today = local_date(now, settings.zone)
    if acct is None:
        acct = ledger.account(session, customer_id)
        if acct is None:
            return None
    value = qualifying_value(session, settings, tiers, customer_id, today=today)
    qualified = tier_for(tiers, value)
    current = acct.tier_code if rank(tiers, acct.tier_code) else None
    if rank(tiers, qualified) > rank(tiers, current):
        _set_tier(
            session,
            customer_id=customer_id,
            old=current,
            new=qualified,
            reason="upgrade",
            value=value,
            now=now,
            review_on=add_months(today, tiers.hold_months, settings.calendar),
        )
        return qualified
    if (
        acct.tier_grace_until is not None
        and qualified is not None
        and rank(tiers, qualified) >= rank(tiers, current)
    ):
        session.execute(
            update(LoyaltyAccount)
            .where(LoyaltyAccount.customer_id == customer_id)
            .values(
                tier_grace_until=None,
                tier_review_on=add_months(today, tiers.hold_months, settings.calendar),
            )
            .execution_options(synchronize_session=False)
        )
    return None


def review_member(
    session: Session,
    *,
    settings: Settings,
    rules: ProgramRules,
    acct: LoyaltyAccount,
    today: date,
    now: datetime,
    by: str | None = None,
) -> str | None:
    """The review of one member on ``today``; returns a description of any change."""
    tiers = rules.tiers
    cid = acct.customer_id
    if (
        acct.tier_override is not None
        and acct.tier_override_until is not None
        and acct.tier_override_until < today
    ):
        session.execute(
            update(LoyaltyAccount)
            .where(LoyaltyAccount.customer_id == cid)
            .values(tier_override=None, tier_override_until=None)
            .execution_options(synchronize_session=False)
        )
        if rank(tiers, acct.tier_override) > rank(tiers, acct.tier_code):
            _record(
                session,
                customer_id=cid,
                old=acct.tier_override,
                new=acct.tier_code,
                reason="override_expired",
                value=None,
                now=now,
                by=by,
            )
    if not tiers.enabled or not tiers.levels:
        if acct.tier_review_on is not None:
            session.execute(
                update(LoyaltyAccount)
                .where(LoyaltyAccount.customer_id == cid)
                .values(tier_review_on=None, tier_grace_until=None)
                .execution_options(synchronize_session=False)
            )
        return None
    if acct.tier_review_on is None or acct.tier_review_on > today:
        return None
    value = qualifying_value(session, settings, tiers, cid, today=today)
    qualified = tier_for(tiers, value)
    current = acct.tier_code if rank(tiers, acct.tier_code) else None
    hold_until = add_months(today, tiers.hold_months, settings.calendar)
    if rank(tiers, qualified) >= rank(tiers, current):
        if rank(tiers, qualified) > rank(tiers, current):
            _set_tier(
                session,
                customer_id=cid,
                old=current,
                new=qualified,
                reason="upgrade",
                value=value,
                now=now,
                review_on=hold_until,
                by=by,
            )
            return f"up to {qualified}"
        session.execute(
            update(LoyaltyAccount)
            .where(LoyaltyAccount.customer_id == cid)
            .values(tier_review_on=hold_until if current else None, tier_grace_until=None)
            .execution_options(synchronize_session=False)
        )
        return None
    if tiers.grace_days and acct.tier_grace_until is None:
        grace = today + timedelta(days=tiers.grace_days)
        session.execute(
            update(LoyaltyAccount)
            .where(LoyaltyAccount.customer_id == cid)
            .values(tier_grace_until=grace, tier_review_on=grace)
            .execution_options(synchronize_session=False)
        )
        return f"grace until {grace.isoformat()}"
    if tiers.downgrade is DowngradePolicy.one_down:
        index = rank(tiers, current) - 2
        one_down = tiers.levels[index].code if index >= 0 else None
        new = _higher(tiers, one_down, qualified)
    else:
        new = qualified
    _set_tier(
        session,
        customer_id=cid,
        old=current,
        new=new,
        reason="downgrade",
        value=value,
        now=now,
        review_on=hold_until if new else None,
        by=by,
    )
    return f"down to {new or 'no tier'}"


def review_batch(
    session: Session, *, settings: Settings, day: date, after: uuid.UUID | None, limit: int = 500
) -> tuple[int, uuid.UUID | None]:
    """Review members due on or before ``day`` (one batch, in id order); returns (n, last id)."""
    now = utcnow()
    rules = rules_at(session, settings, now).rules
    stmt = (
        select(LoyaltyAccount)
        .where(
            or_(
                LoyaltyAccount.tier_review_on <= day,
                LoyaltyAccount.tier_override_until < day,
            )
        )
        .order_by(LoyaltyAccount.customer_id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    if after is not None:
        stmt = stmt.where(LoyaltyAccount.customer_id > after)
    accounts = list(session.scalars(stmt))
    if not accounts:
        return 0, None
    ledger.lock_accounts(session, [a.customer_id for a in accounts])
    for acct in accounts:
        session.refresh(acct)
        review_member(session, settings=settings, rules=rules, acct=acct, today=day, now=now)
    return len(accounts), accounts[-1].customer_id


def set_override(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    tier: str | None,
    until: date | None,
    reason: str,
    by: str | None,
) -> LoyaltyAccount:
    """Keep a member at ``tier`` or above (until ``until``, or for good); ``None`` removes it."""
    now = utcnow()
    rules = rules_at(session, settings, now).rules
    if tier is not None and not rules.tier(tier):
        raise Invalid.field(
            ("tier",), f"no tier {tier!r}; tiers are {[t.code for t in rules.tiers.levels]}"
        )
    today = local_date(now, settings.zone)
    if until is not None and until < today:
        raise Invalid.field(("until",), "the override would already be over")
    ledger.lock_account(session, customer_id, zone=settings.zone, now=now)
    acct = ledger.account(session, customer_id)
    assert acct is not None
    before = effective_tier(rules, acct, today=today)
    session.execute(
        update(LoyaltyAccount)
        .where(LoyaltyAccount.customer_id == customer_id)
        .values(tier_override=tier, tier_override_until=until if tier else None)
        .execution_options(synchronize_session=False)
    )
    acct = ledger.account(session, customer_id)
    assert acct is not None
    after = effective_tier(rules, acct, today=today)
    _record(
        session,
        customer_id=customer_id,
        old=before,
        new=after,
        reason="override" if tier else "override_removed",
        value=None,
        now=now,
        by=by,
        note=reason + (f" (until {until.isoformat()})" if until else ""),
    )
    return acct


def recalculate(
    session: Session,
    *,
    settings: Settings,
    customer_ids: Sequence[uuid.UUID] | None = None,
    by: str | None = None,
) -> int:
    """Upgrade everyone who qualifies and review everyone due; returns how many changed.

    Idempotent: a second run finds nothing to do.
    """
    now = utcnow()
    today = local_date(now, settings.zone)
    rules = rules_at(session, settings, now).rules
    stmt = select(LoyaltyAccount.customer_id).order_by(LoyaltyAccount.customer_id)
    if customer_ids is not None:
        stmt = stmt.where(LoyaltyAccount.customer_id.in_(list(customer_ids)))
    changed = 0
    for cid in list(session.scalars(stmt)):
        ledger.lock_account(session, cid, zone=settings.zone, now=now)
        if upgrade_if_qualified(session, settings=settings, rules=rules, customer_id=cid, now=now):
            changed += 1
            continue
        acct = ledger.account(session, cid)
        if acct is not None and review_member(
            session, settings=settings, rules=rules, acct=acct, today=today, now=now, by=by
        ):
            changed += 1
    return changed


#: Members whose accounts one transaction of ``recalculate_in_batches`` locks.
RECALCULATE_BATCH = 200


def recalculate_in_batches(
    factory: Callable[[], Session],
    *,
    settings: Settings,
    by: str | None = None,
    batch: int = RECALCULATE_BATCH,
) -> int:
    """``recalculate`` every member, ``batch`` accounts per transaction, in id order.

    One transaction over every member held every account's row lock until the end
    (tens of seconds on a large store) and deadlocked with order accrual, which locks
    a member and then, for a referral, another. Short transactions, each locking its
    accounts in ascending id order (as every other writer of several accounts does),
    keep each wait short and can never form a cycle with one another. Idempotent, so a
    run stopped halfway is finished by the next.
    """
    changed = 0
    after: uuid.UUID | None = None
    while True:
        with factory() as session, session.begin():
            stmt = select(LoyaltyAccount.customer_id).order_by(LoyaltyAccount.customer_id)
            if after is not None:
                stmt = stmt.where(LoyaltyAccount.customer_id > after)
            ids = list(session.scalars(stmt.limit(batch)))
            if not ids:
                return changed
            changed += recalculate(session, settings=settings, customer_ids=ids, by=by)
        after = ids[-1]


def preview(
    session: Session, *, settings: Settings, proposed: Tiers, limit: int = 200
) -> TierPreview:
    """Who would change tier if ``proposed`` were saved (nothing is written).

    Compares each member's current tier with the tier their qualifying value earns
    under the proposal. Saving applies upgrades at once and downgrades at review.
    """
    now = utcnow()
    today = local_date(now, settings.zone)
    rules = rules_at(session, settings, now).rules
    values = qualifying_values(session, settings, proposed, today=today)
    rows = session.execute(
        select(LoyaltyAccount.customer_id, LoyaltyAccount.tier_code, Customer.name)
        .join(Customer, Customer.id == LoyaltyAccount.customer_id)
        .where(Customer.merged_into_id.is_(None), Customer.erased_at.is_(None))
        .order_by(LoyaltyAccount.customer_id)
    ).all()
    members = ups = downs = 0
    by_tier: dict[str, int] = {}
    moves: list[TierMove] = []
    base = (
        rules.tiers.levels[0].code
        if rules.tiers.levels and rules.tiers.levels[0].threshold == 0
        else None
    )
    for cid, code, name in rows:
        members += 1
        value = values.get(cid, 0)
        current = (code if rules.tier(code) else None) or base
        if not rules.tiers.enabled:
            current = None
        new = tier_for(proposed, value) if proposed.enabled else None
        by_tier[new or ""] = by_tier.get(new or "", 0) + 1
        if current == new:
            continue
        # Up or down by what the tier asks for: its threshold in each definition.
        old_level, new_level = (
            rules.tier(current),
            next((t for t in proposed.levels if t.code == new), None),
        )
        up = new_level is not None and (
            old_level is None
            or (rank(proposed, current) and rank(proposed, new) > rank(proposed, current))
            or (not rank(proposed, current) and new_level.threshold > old_level.threshold)
        )
        ups += up
        downs += not up
        if len(moves) < limit:
            moves.append(
                TierMove(
                    customer_id=cid,
                    name=name,
                    from_tier=current,
                    to_tier=new,
                    qualifying_value=value,
                )
            )
    return TierPreview(
        members=members,
        unchanged=members - ups - downs,
        upgrades=ups,
        downgrades=downs,
        by_tier=by_tier,
        moves=moves,
    )


def history(session: Session, customer_id: uuid.UUID, *, limit: int = 100) -> list[TierChange]:
    """The member's tier changes, newest first."""
    return list(
        session.scalars(
            select(TierChange)
            .where(TierChange.customer_id == customer_id)
            .order_by(TierChange.created_at.desc(), TierChange.id.desc())
            .limit(limit)
        )
    )


def counts(session: Session) -> dict[str, int]:
    """Members per held tier code ("" for none)."""
    return {
        (code or ""): int(n)
        for code, n in session.execute(
            select(LoyaltyAccount.tier_code, func.count()).group_by(LoyaltyAccount.tier_code)
        )
    }
