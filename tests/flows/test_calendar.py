"""Flows entered by the calendar: a Jalali birthday on its own day in two years, and a
daily condition (a segment rule) with its re-entry cooldown."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import jdatetime
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.flows.helpers import enrolments, flow, messages, no_limits, template
from tests.messaging.helpers import subscriber
from wafa.core.settings import Settings
from wafa.flows import jobs
from wafa.flows.service import get_flow
from wafa.loyalty.birthday import is_birthday


def _birthday_flow(session: Session) -> None:
    template(session, "t.bday", "Happy birthday {{ customer.first_name }}")
    no_limits(session)
    flow(
        session,
        "birthday",
        [
            {"key": "at", "type": "wait", "minutes": 1, "at": "10:00"},
            {"key": "wish", "type": "send", "template": "t.bday"},
        ],
        trigger={"type": "date", "rule": "birthday"},
    )


def test_a_jalali_birthday_on_its_gregorian_day_in_two_years(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    _birthday_flow(session)
    birthday = get_flow(session, "birthday")
    # Born on 1 Farvardin (Nowruz): 20 March 2024 (1403), 21 March 2025 (1404).
    nowruz = subscriber(session, birthday={"day": 1, "month": 1, "calendar": "jalali"})
    march_21 = subscriber(session, birthday={"day": 21, "month": 3})
    expected = {1403: date(2024, 3, 20), 1404: date(2025, 3, 21)}
    for jalali_year, day in expected.items():
        assert jdatetime.date(jalali_year, 1, 1).togregorian() == day
        clock.set(datetime(day.year, day.month, day.day, 0, 5, tzinfo=UTC))
        jobs.run_day(session_factory, settings, day - timedelta(days=1))
        jobs.run_day(session_factory, settings, day)
        jobs.run_day(session_factory, settings, day)  # a day run twice enters nobody twice
        clock.set(datetime(day.year, day.month, day.day, 10, 1, tzinfo=UTC))
        jobs.run_due(session_factory, settings)
    ways = {(e.customer_id, e.occasion): e for e in enrolments(session, birthday)}
    assert set(ways) == {
        (nowruz.id, "birthday:jalali:1403"),
        (nowruz.id, "birthday:jalali:1404"),
        (march_21.id, "birthday:gregorian:2025"),  # 2024's 21 March was not run
    }
    assert {e.entered_at.date() for (c, _), e in ways.items() if c == nowruz.id} == set(
        expected.values()
    )
    assert all(e.status == "done" for e in ways.values())
    assert len(messages(session, birthday, nowruz.id)) == 2


def test_daily_condition_with_cooldown(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    template(session, "t.miss", "We miss you")
    no_limits(session)
    miss = flow(
        session,
        "win_back",
        [{"key": "miss", "type": "send", "template": "t.miss"}],
        trigger={
            "type": "daily",
            "rules": {"all": [{"field": "tags", "op": "in", "value": ["lapsed"]}]},
        },
        cooldown_days=30,
    )
    lapsed = subscriber(session, tags=["lapsed"])
    subscriber(session)
    today = clock.now.date()
    assert jobs.run_day(session_factory, settings, today)["entered"] == 1
    clock.advance(days=1)
    assert jobs.run_day(session_factory, settings, clock.now.date())["entered"] == 0
    clock.advance(days=30)
    assert jobs.run_day(session_factory, settings, clock.now.date())["entered"] == 1
    assert {m.customer_id for m in messages(session, miss)} == {lapsed.id}
    assert len(messages(session, miss)) == 2
    assert jobs.due_days(session_factory, settings, clock.now) == [
        clock.now.date().fromordinal(clock.now.date().toordinal() - 2),
        clock.now.date().fromordinal(clock.now.date().toordinal() - 1),
    ]


def test_reward_within_reach_once_per_reward(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    from wafa.flows import presets, service
    from wafa.loyalty import rewards
    from wafa.loyalty import service as loyalty
    from wafa.loyalty.schemas.io import RewardCreate

    no_limits(session)
    presets.ensure_presets(session)
    reach = service.set_enabled(session, key="reward_within_reach", enabled=True, by="test")
    reach.holdout_percent = 0  # a 10 % holdout would keep the message one run in ten
    coffee = rewards.create_reward(
        session,
        settings=settings,
        data=RewardCreate(name="Free coffee", kind="gift", cost_points=100),
    )
    cake = rewards.create_reward(
        session, settings=settings, data=RewardCreate(name="Cake", kind="gift", cost_points=300)
    )
    rich = subscriber(session)
    poor = subscriber(session)
    loyalty.adjust(session, settings=settings, customer_id=rich.id, points=150, reason="t", by="t")
    loyalty.adjust(session, settings=settings, customer_id=poor.id, points=50, reason="t", by="t")
    day = clock.now.date()
    assert jobs.run_day(session_factory, settings, day)["entered"] == 1
    clock.advance(days=1)
    jobs.run_due(session_factory, settings)  # the message goes at 11:00 the next morning
    assert jobs.run_day(session_factory, settings, day + timedelta(days=1))["entered"] == 0
    loyalty.adjust(session, settings=settings, customer_id=rich.id, points=200, reason="t", by="t")
    assert jobs.run_day(session_factory, settings, day + timedelta(days=2))["entered"] == 1
    ways = sorted(enrolments(session, reach), key=lambda e: e.entered_at)
    assert [e.occasion for e in ways] == [f"reward:{coffee.id}", f"reward:{cake.id}"]
    assert {e.customer_id for e in ways} == {rich.id}
    assert ways[0].context["reward"]["name"] == "Free coffee"
    assert ways[0].status == "done" and len(messages(session, reach, rich.id)) == 1


def test_the_day_narrowed_in_sql_finds_whom_is_birthday_finds(session: Session) -> None:
    """``jobs._birthdays`` narrows the day in SQL: on every day of two years (a leap year
    in each calendar among them) it finds exactly the customers ``is_birthday`` says,
    month ends included (29 February on the 28th in other years, 30 Esfand on the 29th)."""
    born = [
        (29, 2, "gregorian"),
        (28, 2, "gregorian"),
        (31, 12, "gregorian"),
        (30, 4, "gregorian"),
        (1, 3, "gregorian"),
        (30, 12, "jalali"),
        (29, 12, "jalali"),
        (31, 6, "jalali"),
        (30, 7, "jalali"),
        (1, 1, "jalali"),
    ]
    people = [
        create_customer(session, birthday={"day": d, "month": m, "calendar": c}) for d, m, c in born
    ]
    session.flush()
    day = date(2027, 1, 1)
    while day < date(2029, 1, 1):
        expected = {c.id for c in people if is_birthday(c, day)}
        found = jobs._birthdays(session, day)
        assert {cid for cid, _ in found} == expected, day
        day += timedelta(days=1)
    # 29 February: the 28th in 2027, the 29th (only) in 2028.
    leap = people[0].id
    assert leap in {cid for cid, _ in jobs._birthdays(session, date(2027, 2, 28))}
    assert leap not in {cid for cid, _ in jobs._birthdays(session, date(2028, 2, 28))}
    assert leap in {cid for cid, _ in jobs._birthdays(session, date(2028, 2, 29))}
