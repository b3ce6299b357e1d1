"""Stamp cards, streaks, badges and the leaderboard."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import deliver, events_of, member, place, refund, set_rules
from wafa.core.settings import CalendarKind, Settings
from wafa.loyalty import coupons, rewards, service, stamps, streaks
from wafa.loyalty.models import Coupon, CouponStatus
from wafa.loyalty.schemas.io import RewardCreate, StampCardCreate

COFFEE = {
    "sku": "COF-1",
    "name": "Flat white",
    "quantity": 1,
    "unit_price": 450,
    "category": "coffee",
}


def _card(session: Session, settings: Settings, **kw: Any) -> Any:
    free = rewards.create_reward(
        session,
        settings=settings,
        data=RewardCreate(
            name="Free coffee",
            kind="free_product",
            cost_points=0,
            product_sku="COF-1",
            in_catalogue=False,
        ),
    )
    values: dict[str, Any] = {
        "name": "10th coffee free",
        "stamps_required": 3,
        "categories": ["coffee"],
        "reward_id": free.id,
    }
    values.update(kw)
    return stamps.create_card(session, data=StampCardCreate.model_validate(values))


def _stamps(session: Session, settings: Settings, cid: Any) -> tuple[int, int]:
    [info] = service.status(session, settings=settings, customer_id=cid).stamps
    return info.stamps, info.completed


class TestStampCards:
    def test_per_visit_completion_issues_the_reward_and_carries_over(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        _card(session, settings)
        c = member(session)
        for _ in range(4):
            place(session, c, lines=[{**COFFEE, "quantity": 2}])
        deliver(session, settings)
        assert _stamps(session, settings, c.id) == (1, 1)
        coupon = session.scalars(select(Coupon).where(Coupon.customer_id == c.id)).one()
        assert (coupon.source, coupon.product_sku) == ("stamp_card", "COF-1")

    def test_per_item_stamps_carry_across_cards(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        _card(session, settings, per="item")
        c = member(session)
        place(session, c, lines=[{**COFFEE, "quantity": 7}])
        deliver(session, settings)
        assert _stamps(session, settings, c.id) == (1, 2)
        assert len(coupons.usable_for(session, c.id, now=datetime(2026, 3, 15, tzinfo=UTC))) == 2

    def test_a_refund_takes_the_stamp_back_and_voids_an_unused_reward(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        _card(session, settings)
        c = member(session)
        orders_ = [place(session, c, lines=[COFFEE]) for _ in range(3)]
        deliver(session, settings)
        assert _stamps(session, settings, c.id) == (0, 1)
        refund(session, orders_[2])
        deliver(session, settings)
        assert _stamps(session, settings, c.id) == (2, 0)
        coupon = session.scalars(select(Coupon).where(Coupon.customer_id == c.id)).one()
        assert coupon.status == CouponStatus.voided

    def test_refund_after_the_reward_was_used_owes_the_stamp(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        _card(session, settings)
        c = member(session)
        orders_ = [place(session, c, lines=[COFFEE]) for _ in range(3)]
        deliver(session, settings)
        coupon = session.scalars(select(Coupon).where(Coupon.customer_id == c.id)).one()
        coupons.use(
            session,
            code=coupon.code,
            order_ref="till",
            customer_id=c.id,
            subtotal=450,
            now=clock.now,
        )
        refund(session, orders_[0])
        deliver(session, settings)
        assert _stamps(session, settings, c.id) == (-1, 1)
        place(session, c, lines=[COFFEE])
        deliver(session, settings)
        assert _stamps(session, settings, c.id) == (0, 1)

    def test_imported_history_earns_no_stamps_by_default(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        from wafa.loyalty import accrual

        set_rules(session)
        _card(session, settings)
        c = member(session)
        o = place(session, c, lines=[COFFEE])
        accrual.accrue_order(session, settings=settings, order_id=o.id, imported=True)
        assert _stamps(session, settings, c.id) == (0, 0)


class TestStreaks:
    def test_consecutive_weeks_count_and_the_best_is_kept(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        for day in (2, 9, 10, 16, 30):
            clock.set(datetime(2026, 3, day, 12, tzinfo=UTC))
            place(session, c)
            deliver(session, settings)
        status = service.status(session, settings=settings, customer_id=c.id)
        assert (status.streak, status.best_streak) == (1, 3)

    def test_months_of_the_jalali_calendar(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        jalali = settings.model_copy(
            update={"calendar": CalendarKind.jalali, "timezone": "Asia/Tehran"}
        )
        set_rules(session, streaks={"period": "month"})
        c = member(session)
        # 20 Feb (Esfand 1404), 20 Mar (29 Esfand), 21 Mar (1 Farvardin 1405): two Jalali months.
        for when in (
            datetime(2026, 2, 20, 9, tzinfo=UTC),
            datetime(2026, 3, 20, 9, tzinfo=UTC),
            datetime(2026, 3, 21, 9, tzinfo=UTC),
        ):
            clock.set(when)
            place(session, c)
            deliver(session, jalali)
        assert service.status(session, settings=jalali, customer_id=c.id).streak == 2

    def test_an_order_from_the_past_rebuilds_the_streak(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        place(session, c, placed_at=datetime(2026, 3, 15, 9, tzinfo=UTC))
        place(session, c, placed_at=datetime(2026, 3, 1, 9, tzinfo=UTC))
        place(session, c, placed_at=datetime(2026, 3, 8, 9, tzinfo=UTC))
        deliver(session, settings)
        status = service.status(session, settings=settings, customer_id=c.id)
        assert (status.streak, status.best_streak) == (3, 3)


class TestBadges:
    def test_badges_by_rules_once_each(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(
            session,
            badges=[
                {"code": "regular", "name": "3 visits", "kind": "visits", "threshold": 3},
                {"code": "explorer", "name": "2 categories", "kind": "categories", "threshold": 2},
            ],
        )
        c = member(session)
        place(session, c, lines=[COFFEE])
        place(
            session,
            c,
            lines=[
                {"sku": "CAK", "name": "Cake", "quantity": 1, "unit_price": 600, "category": "cake"}
            ],
        )
        place(session, c, lines=[COFFEE])
        place(session, c, lines=[COFFEE])
        deliver(session, settings)
        assert [b.code for b in streaks.badges_of(session, c.id)] == ["explorer", "regular"]
        assert sorted(e.payload["badge"] for e in events_of(session, "badge.earned", c.id)) == [
            "explorer",
            "regular",
        ]

    def test_one_year_a_member(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        rules = set_rules(
            session,
            badges=[
                {"code": "one-year", "name": "1 year", "kind": "member_days", "threshold": 365}
            ],
        )
        c = member(session)
        place(session, c)
        deliver(session, settings)
        _n, _ = streaks.membership_badges_batch(
            session, settings=settings, rules=rules, day=date(2027, 3, 14), after=None
        )
        assert streaks.badges_of(session, c.id) == []
        streaks.membership_badges_batch(
            session, settings=settings, rules=rules, day=date(2027, 3, 15), after=None
        )
        streaks.membership_badges_batch(
            session, settings=settings, rules=rules, day=date(2027, 3, 16), after=None
        )
        assert [b.code for b in streaks.badges_of(session, c.id)] == ["one-year"]
        assert len(events_of(session, "badge.earned", c.id)) == 1


class TestLeaderboard:
    def test_only_members_who_opted_in_by_first_name_and_initial(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        rules = set_rules(session, pending_days=0)
        sara = member(session, name="Sara Karimi")
        ali = member(session, name="علی رضایی")
        hidden = member(session, name="Private Person")
        for c, amount in ((sara, 3000), (ali, 5000), (hidden, 9000)):
            place(
                session, c, lines=[{"sku": "X", "name": "x", "quantity": 1, "unit_price": amount}]
            )
        deliver(session, settings)
        streaks.set_opt_in(session, settings=settings, customer_id=sara.id, opt_in=True)
        streaks.set_opt_in(session, settings=settings, customer_id=ali.id, opt_in=True)
        board = streaks.leaderboard(session, settings=settings, rules=rules)
        assert board.month == "2026-03"
        assert [(r.rank, r.name, r.points) for r in board.rows] == [
            (1, "علی ر.", 50),
            (2, "Sara K.", 30),
        ]
        assert all(r.customer_id is None for r in board.rows)
        april = streaks.leaderboard(session, settings=settings, rules=rules, month=date(2026, 4, 1))
        assert april.rows == []
