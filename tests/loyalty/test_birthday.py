from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import events_of, member, set_rules
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerUpdate
from wafa.loyalty import birthday, jobs, rewards, service
from wafa.loyalty.models import BirthdayGrant, Coupon
from wafa.loyalty.schemas.io import RewardCreate


def _with_birthday(
    session: Session, day: int, month: int, calendar: str = "gregorian", **kw: Any
) -> Any:
    return member(session, birthday={"day": day, "month": month, "calendar": calendar}, **kw)


def _run(session: Session, settings: Settings, day: date) -> int:
    total, after = 0, None
    while True:
        n, after = birthday.grant_batch(session, settings=settings, day=day, after=after)
        if not n:
            return total
        total += n


def _points(session: Session, settings: Settings, cid: Any) -> int:
    return service.status(session, settings=settings, customer_id=cid).available


class TestBirthdayOnTheDay:
    def _program(self, session: Session, **birthday_rule: Any) -> None:
        set_rules(
            session, birthday={"enabled": True, "points": 100, "cooloff_days": 30, **birthday_rule}
        )

    def test_granted_on_the_day_once(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2026, 1, 1, 9, tzinfo=UTC))
        self._program(session)
        c = _with_birthday(session, 20, 4)
        clock.set(datetime(2026, 4, 20, 9, tzinfo=UTC))
        _run(session, settings, date(2026, 4, 19))
        assert _points(session, settings, c.id) == 0
        _run(session, settings, date(2026, 4, 20))
        _run(session, settings, date(2026, 4, 20))
        assert _points(session, settings, c.id) == 100
        [event] = events_of(session, "birthday.reward_granted", c.id)
        assert event.payload["year"] == 2026

    def test_once_per_year_even_when_the_birthday_changes(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2026, 1, 1, 9, tzinfo=UTC))
        self._program(session, cooloff_days=0)
        c = _with_birthday(session, 20, 4)
        clock.set(datetime(2026, 4, 20, 9, tzinfo=UTC))
        _run(session, settings, date(2026, 4, 20))
        customers.update_customer(
            session,
            customer_id=c.id,
            data=CustomerUpdate.model_validate({"birthday": {"day": 1, "month": 6}}),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        clock.set(datetime(2026, 6, 1, 9, tzinfo=UTC))
        _run(session, settings, date(2026, 6, 1))
        assert _points(session, settings, c.id) == 100
        clock.set(datetime(2027, 6, 1, 9, tzinfo=UTC))
        _run(session, settings, date(2027, 6, 1))
        assert _points(session, settings, c.id) == 200

    def test_a_birthday_entered_during_the_cooloff_earns_nothing_this_year(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        self._program(session)
        clock.set(datetime(2026, 4, 10, 9, tzinfo=UTC))
        c = _with_birthday(session, 20, 4)
        clock.set(datetime(2026, 4, 20, 9, tzinfo=UTC))
        _run(session, settings, date(2026, 4, 20))
        assert _points(session, settings, c.id) == 0
        assert (
            session.scalar(select(BirthdayGrant).where(BirthdayGrant.customer_id == c.id)) is None
        )

    def test_29_february_is_celebrated_on_28_february_in_other_years(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2025, 1, 1, 9, tzinfo=UTC))
        self._program(session)
        c = _with_birthday(session, 29, 2)
        clock.set(datetime(2027, 2, 28, 9, tzinfo=UTC))
        _run(session, settings, date(2027, 2, 28))
        assert _points(session, settings, c.id) == 100
        clock.set(datetime(2028, 2, 28, 9, tzinfo=UTC))
        _run(session, settings, date(2028, 2, 28))
        assert _points(session, settings, c.id) == 100
        _run(session, settings, date(2028, 2, 29))
        assert _points(session, settings, c.id) == 200

    def test_a_jalali_birthday_follows_the_jalali_calendar(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2025, 6, 1, 9, tzinfo=UTC))
        self._program(session)
        nowruz = _with_birthday(session, 1, 1, "jalali")
        clock.set(datetime(2026, 3, 21, 9, tzinfo=UTC))
        _run(session, settings, date(2026, 3, 20))
        assert _points(session, settings, nowruz.id) == 0
        _run(session, settings, date(2026, 3, 21))
        assert _points(session, settings, nowruz.id) == 100
        grant = session.scalars(
            select(BirthdayGrant).where(BirthdayGrant.customer_id == nowruz.id)
        ).one()
        assert (grant.calendar, grant.year) == ("jalali", 1405)

    def test_30_esfand_falls_on_29_esfand_outside_jalali_leap_years(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2025, 6, 1, 9, tzinfo=UTC))
        self._program(session)
        c = _with_birthday(session, 30, 12, "jalali")
        clock.set(datetime(2026, 3, 20, 9, tzinfo=UTC))
        _run(session, settings, date(2026, 3, 20))  # 29 Esfand 1404, the year's last day
        assert _points(session, settings, c.id) == 100

    def test_the_day_begins_in_the_business_timezone(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2026, 1, 1, 9, tzinfo=UTC))
        self._program(session)
        _with_birthday(session, 10, 5)
        tokyo = settings.model_copy(update={"timezone": "Asia/Tokyo"})
        la = settings.model_copy(update={"timezone": "America/Los_Angeles"})
        # 16:00 UTC on 9 May is already 10 May in Tokyo, still 9 May in Los Angeles.
        now = datetime(2026, 5, 9, 16, tzinfo=UTC)
        assert jobs.days_due(session, tokyo, now=now) == [date(2026, 5, 10)]
        assert jobs.days_due(session, la, now=now) == [date(2026, 5, 9)]


class TestBirthdayMonth:
    def test_granted_on_the_first_day_of_the_birthday_month(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2026, 1, 1, 9, tzinfo=UTC))
        set_rules(session, birthday={"enabled": True, "mode": "month", "points": 50})
        c = _with_birthday(session, 25, 7)
        clock.set(datetime(2026, 7, 1, 9, tzinfo=UTC))
        _run(session, settings, date(2026, 6, 30))
        assert _points(session, settings, c.id) == 0
        _run(session, settings, date(2026, 7, 1))
        _run(session, settings, date(2026, 7, 2))
        assert _points(session, settings, c.id) == 50

    def test_the_reward_waits_for_the_end_of_the_cooloff_within_the_month(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(
            session, birthday={"enabled": True, "mode": "month", "points": 50, "cooloff_days": 10}
        )
        clock.set(datetime(2026, 6, 25, 9, tzinfo=UTC))
        c = _with_birthday(session, 25, 7)
        clock.set(datetime(2026, 7, 1, 9, tzinfo=UTC))
        _run(session, settings, date(2026, 7, 1))
        assert _points(session, settings, c.id) == 0
        clock.set(datetime(2026, 7, 5, 9, tzinfo=UTC))
        _run(session, settings, date(2026, 7, 5))
        assert _points(session, settings, c.id) == 50


class TestBirthdayCoupon:
    def test_a_reward_coupon_comes_with_the_points(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2026, 1, 1, 9, tzinfo=UTC))
        cake = rewards.create_reward(
            session,
            settings=settings,
            data=RewardCreate(
                name="Birthday cake",
                kind="free_product",
                cost_points=0,
                product_sku="CAK-1",
                coupon_valid_days=14,
                in_catalogue=False,
            ),
        )
        set_rules(session, birthday={"enabled": True, "points": 10, "reward_id": str(cake.id)})
        c = _with_birthday(session, 3, 3)
        clock.set(datetime(2026, 3, 3, 9, tzinfo=UTC))
        _run(session, settings, date(2026, 3, 3))
        coupon = session.scalars(select(Coupon).where(Coupon.customer_id == c.id)).one()
        assert (coupon.source, coupon.name, coupon.max_uses) == ("birthday", "Birthday cake", 1)
        assert coupon.expires_at == datetime(2026, 3, 17, 9, tzinfo=UTC)
        [event] = events_of(session, "birthday.reward_granted", c.id)
        assert event.payload["coupon_code"] == coupon.code
