"""Birthday rewards: on the day or in the month, once a year, in the birthday's own calendar.

The daily job runs for a local date of the business (its timezone). A birthday is
written in its own calendar (``Customer.birth_calendar``): a Jalali birthday falls
on a different Gregorian day each year, and its "year" is the Jalali year. A day
the year lacks (29 February, 30 Esfand) is celebrated on the month's last day
(``calendars.anniversary``). A birthday entered or changed less than
``cooloff_days`` ago earns nothing (against gaming); in "month" mode the reward
comes later in the month once the cool-off is over. ``loyalty_birthday_grants``
has one row per (customer, calendar, year): a second grant is impossible.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from wafa.core.calendars import anniversary, days_in_month, local_date, ymd
from wafa.core.db import insert_new
from wafa.core.events import emit
from wafa.core.settings import CalendarKind, Settings
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.loyalty import coupons, events, ledger
from wafa.loyalty.ledger import LotSpec
from wafa.loyalty.models import BirthdayGrant, CouponSource, EntryKind, Reward
from wafa.loyalty.program import expiry_for, rules_at
from wafa.loyalty.schemas.program import BirthdayMode, ProgramRules

_CALENDAR: ColumnElement[str] = func.coalesce(Customer.birth_calendar, CalendarKind.gregorian.value)


def occasion_for(
    month: int, day: int, kind: CalendarKind, on: date, mode: BirthdayMode
) -> int | None:
    """The birthday year (in ``kind``) that local day ``on`` celebrates, or ``None``."""
    y, m, _d = ymd(on, kind)
    if m != month:
        return None
    if mode is BirthdayMode.month:
        return y
    return y if anniversary(month, day, y, kind) == on else None


def _candidates(rules: ProgramRules, on: date) -> list[ColumnElement[bool]]:
    """SQL conditions for customers whose birthday ``on`` celebrates, per calendar."""
    clauses: list[ColumnElement[bool]] = []
    for kind in CalendarKind:
        y, m, d = ymd(on, kind)
        cond = and_(_CALENDAR.in_([kind.value]), Customer.birth_month == m)
        if rules.birthday.mode is BirthdayMode.day:
            last = days_in_month(y, m, kind)
            day_cond = Customer.birth_day == d
            if d == last:
                day_cond = Customer.birth_day >= d
            cond = and_(cond, day_cond)
        clauses.append(cond)
    return clauses


def _year_of(customer_calendar: str | None, on: date) -> tuple[CalendarKind, int]:
    kind = CalendarKind(customer_calendar or CalendarKind.gregorian)
    return kind, ymd(on, kind)[0]


def grant_batch(
    session: Session, *, settings: Settings, day: date, after: uuid.UUID | None, limit: int = 500
) -> tuple[int, uuid.UUID | None]:
    """Grant the birthday rewards due on local ``day``; one batch in id order.

    Returns (customers looked at, last id); (0, None) when the day is done.
    """
    now = utcnow()
    rules = rules_at(session, settings, now).rules
    if not rules.birthday.enabled or not (rules.birthday.points or rules.birthday.reward_id):
        return 0, None
    stmt = (
        select(
            Customer.id,
            Customer.birth_month,
            Customer.birth_day,
            Customer.birth_calendar,
            Customer.birthday_set_at,
        )
        .where(
            Customer.merged_into_id.is_(None),
            Customer.erased_at.is_(None),
            Customer.birth_month.is_not(None),
            or_(*_candidates(rules, day)),
        )
        .order_by(Customer.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(Customer.id > after)
    rows = session.execute(stmt).all()
    if not rows:
        return 0, None
    cooloff = timedelta(days=rules.birthday.cooloff_days)
    for cid, month, bday, calendar, set_at in rows:
        if month is None or bday is None:
            continue
        kind, year = _year_of(calendar, day)
        if occasion_for(month, bday, kind, day, rules.birthday.mode) is None:
            continue
        if set_at is not None and local_date(set_at, settings.zone) > day - cooloff:
            continue
        grant(
            session,
            settings=settings,
            rules=rules,
            customer_id=cid,
            kind=kind,
            year=year,
            day=day,
            now=now,
        )
    return len(rows), rows[-1][0]


def grant(
    session: Session,
    *,
    settings: Settings,
    rules: ProgramRules,
    customer_id: uuid.UUID,
    kind: CalendarKind,
    year: int,
    day: date,
    now: datetime,
) -> bool:
    """Give the birthday reward for ``year`` of ``kind``; ``False`` if it was given already."""
    if not insert_new(
        session,
        BirthdayGrant,
        index_elements=["customer_id", "calendar", "year"],
        values={
            "customer_id": customer_id,
            "calendar": kind.value,
            "year": year,
            "granted_on": day,
            "points": rules.birthday.points,
            "granted_at": now,
        },
    ):
        return False
    ledger.lock_account(session, customer_id, zone=settings.zone, now=now)
    if rules.birthday.points:
        ledger.credit(
            session,
            customer_id=customer_id,
            kind=EntryKind.earn,
            reason="birthday",
            occasion=f"birthday:{kind.value}:{year}",
            lots=[LotSpec(rules.birthday.points, now, expiry_for(rules, now, settings))],
            now=now,
            rule="birthday",
        )
    code = None
    reward = session.get(Reward, rules.birthday.reward_id) if rules.birthday.reward_id else None
    if reward is not None:
        coupon = coupons.issue_for_reward(
            session,
            settings=settings,
            reward=reward,
            customer_id=customer_id,
            source=CouponSource.birthday,
            occasion=f"birthday:{customer_id}:{kind.value}:{year}",
            now=now,
        )
        code = coupon.code
        session.execute(
            update(BirthdayGrant)
            .where(
                BirthdayGrant.customer_id == customer_id,
                BirthdayGrant.calendar == kind.value,
                BirthdayGrant.year == year,
            )
            .values(coupon_id=coupon.id)
            .execution_options(synchronize_session=False)
        )
    emit(
        session,
        events.BirthdayRewardGranted(
            customer_id=customer_id,
            calendar=kind.value,
            year=year,
            on=day,
            points=rules.birthday.points,
            coupon_code=code,
        ),
    )
    return True


def is_birthday(customer: Customer, on: date) -> bool:
    """Whether local day ``on`` is the customer's birthday (29 February: the 28th in other years)."""
    if customer.birth_month is None or customer.birth_day is None:
        return False
    kind = CalendarKind(customer.birth_calendar or CalendarKind.gregorian)
    return (
        occasion_for(customer.birth_month, customer.birth_day, kind, on, BirthdayMode.day)
        is not None
    )
