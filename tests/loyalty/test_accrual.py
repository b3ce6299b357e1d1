from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import (
    at,
    consistent,
    deliver,
    events_of,
    member,
    place,
    refund,
    replay,
    set_rules,
)
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import accrual, coupons, ledger, rewards, service
from wafa.loyalty.models import PointsEntry, Purchase
from wafa.loyalty.schemas.io import CouponCreate, RewardCreate
from wafa.orders import service as orders
from wafa.orders.models import OrderStatus
from wafa.orders.schemas import OrderStatusUpdate

COFFEE = {
    "sku": "COF-1",
    "name": "Flat white",
    "quantity": 2,
    "unit_price": 500,
    "category": "coffee",
}
CAKE = {"sku": "CAK-1", "name": "Cheesecake", "quantity": 1, "unit_price": 800, "category": "cake"}
BEANS = {
    "sku": "BEA-1",
    "name": "Beans 1kg",
    "quantity": 1,
    "unit_price": 3000,
    "category": "retail",
}


def _rules_of(session: Session, order_id: object) -> dict[str | None, int]:
    return dict(
        session.execute(
            select(PointsEntry.rule, PointsEntry.points).where(
                PointsEntry.order_id == order_id, PointsEntry.kind == "earn"
            )
        ).all()
    )


def _balance(session: Session, settings: Settings, cid: object) -> tuple[int, int]:
    s = service.status(session, settings=settings, customer_id=cid)  # type: ignore[arg-type]
    return s.available, s.pending


class TestAccrueOrder:
    def test_base_points_name_their_rule_and_version(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        o = place(session, c, lines=[COFFEE, CAKE])
        deliver(session, settings)
        entry = session.scalars(select(PointsEntry).where(PointsEntry.order_id == o.id)).one()
        assert (entry.kind, entry.points, entry.rule, entry.rule_version) == ("earn", 18, "base", 1)
        assert _balance(session, settings, c.id) == (0, 18)
        consistent(session, c.id)

    def test_rate_rounds_toward_zero_once_per_order(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        place(session, c, lines=[{"sku": "A", "name": "a", "quantity": 3, "unit_price": 199}])
        deliver(session, settings)
        assert _balance(session, settings, c.id) == (0, 5)

    def test_excluded_category_shipping_and_tax_earn_nothing(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, earning={"rate_bp": 100, "excluded_categories": ["retail"]})
        c = member(session)
        place(session, c, lines=[COFFEE, BEANS], shipping=500, tax=300)
        deliver(session, settings)
        assert _balance(session, settings, c.id) == (0, 10)

    def test_shipping_counts_when_the_program_says_so(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, earning={"rate_bp": 100, "include_shipping": True})
        c = member(session)
        place(session, c, lines=[COFFEE], shipping=500)
        deliver(session, settings)
        assert _balance(session, settings, c.id) == (0, 15)

    def test_order_discount_reduces_the_points(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        place(session, c, lines=[COFFEE], discount=400)
        deliver(session, settings)
        assert _balance(session, settings, c.id) == (0, 6)

    def test_category_multiplier_earns_extra_under_its_own_rule(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(
            session,
            multipliers=[{"name": "cake-week", "multiplier_bp": 30000, "categories": ["cake"]}],
        )
        c = member(session)
        o = place(session, c, lines=[COFFEE, CAKE])
        deliver(session, settings)
        assert _rules_of(session, o.id) == {"base": 18, "promo:cake-week": 16}

    def test_date_range_multiplier_applies_only_inside_its_days(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(
            session,
            multipliers=[
                {
                    "name": "double",
                    "multiplier_bp": 20000,
                    "starts_on": "2026-03-16",
                    "ends_on": "2026-03-22",
                }
            ],
        )
        c = member(session)
        before = place(session, c, lines=[COFFEE])
        clock.advance(days=1)
        inside = place(session, c, lines=[COFFEE])
        clock.advance(days=7)
        after = place(session, c, lines=[COFFEE])
        deliver(session, settings)
        assert _rules_of(session, before.id) == {"base": 10}
        assert _rules_of(session, inside.id) == {"base": 10, "promo:double": 10}
        assert _rules_of(session, after.id) == {"base": 10}

    def test_first_order_bonus_once(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, bonuses={"first_order": 50})
        c = member(session)
        first = place(session, c)
        second = place(session, c)
        deliver(session, settings)
        assert _rules_of(session, first.id) == {"base": 10, "bonus:first_order": 50}
        assert _rules_of(session, second.id) == {"base": 10}

    def test_points_are_spendable_after_the_pending_period(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, pending_days=7)
        c = member(session)
        place(session, c)
        deliver(session, settings)
        clock.advance(days=7)
        assert _balance(session, settings, c.id) == (10, 0)

    def test_emits_points_earned(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        o = place(session, c)
        deliver(session, settings)
        [event] = events_of(session, "points.earned", c.id)
        assert event.payload["points"] == 10
        assert event.payload["order_id"] == str(o.id)
        assert event.payload["rules"] == {"base": 10}

    def test_guest_order_earns_nothing(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        o = place(session, None)
        deliver(session, settings)
        assert session.get(Purchase, o.id) is None

    def test_disabled_program_counts_the_visit_but_awards_nothing(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, enabled=False)
        c = member(session)
        place(session, c)
        deliver(session, settings)
        assert _balance(session, settings, c.id) == (0, 0)
        assert service.status(session, settings=settings, customer_id=c.id).visits == 1


class TestExactlyOnce:
    def test_replaying_order_placed_changes_nothing(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        place(session, c)
        deliver(session, settings)
        [event] = events_of(session, "order.placed")
        for _ in range(3):
            replay(session, settings, event)
        assert _balance(session, settings, c.id) == (0, 10)
        assert len(events_of(session, "points.earned", c.id)) == 1
        consistent(session, c.id)

    def test_sync_then_async_accrues_once(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        o = place(session, c)
        first = accrual.accrue_order(session, settings=settings, order_id=o.id)
        assert first is not None and first.total == 10
        deliver(session, settings)
        assert accrual.accrue_order(session, settings=settings, order_id=o.id) is None
        assert _balance(session, settings, c.id) == (0, 10)

    def test_creating_the_same_order_again_earns_nothing_more(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        o = place(session, c, external_id="till-77")
        place(session, c, external_id="till-77")
        deliver(session, settings)
        assert accrual.earned_by_order(session, o.id) == 10


class TestProgramVersions:
    def test_a_change_applies_from_now_and_never_rewrites_the_past(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        old = place(session, c)
        deliver(session, settings)
        clock.advance(hours=1)
        set_rules(session, earning={"rate_bp": 500})
        new = place(session, c)
        deliver(session, settings)
        assert accrual.earned_by_order(session, old.id) == 10
        assert accrual.earned_by_order(session, new.id) == 50

    def test_a_late_order_is_judged_by_the_rules_of_its_time(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        placed = utcnow()
        clock.advance(hours=2)
        set_rules(session, earning={"rate_bp": 500})
        late = place(session, c, placed_at=placed + timedelta(minutes=30))
        deliver(session, settings)
        assert accrual.earned_by_order(session, late.id) == 10


class TestImportedHistory:
    def test_imported_orders_earn_no_points_by_default_but_count_visits(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        o = place(session, c, placed_at=at(2025, 6, 1))
        accrual.accrue_order(session, settings=settings, order_id=o.id, imported=True)
        assert _balance(session, settings, c.id) == (0, 0)
        status = service.status(session, settings=settings, customer_id=c.id)
        assert status.visits == 1
        purchase = session.get(Purchase, o.id)
        assert purchase is not None and purchase.imported

    def test_imported_orders_earn_when_the_program_says_so(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, imported_history={"award_points": True})
        c = member(session)
        o = place(session, c, placed_at=at(2025, 6, 1))
        accrual.accrue_order(session, settings=settings, order_id=o.id, imported=True)
        assert _balance(session, settings, c.id) == (10, 0)

    def test_imported_history_is_dated_at_its_orders_not_the_import_day(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        # The demo store's ledger lines were all dated the day it was built.
        set_rules(session, imported_history={"award_points": True})
        c = member(session)
        o = place(session, c, placed_at=at(2025, 6, 1))
        accrual.accrue_order(session, settings=settings, order_id=o.id, imported=True)
        entry = session.scalars(select(PointsEntry).where(PointsEntry.order_id == o.id)).one()
        assert entry.created_at == o.placed_at
        live = place(session, c)
        accrual.accrue_order(session, settings=settings, order_id=live.id)
        booked = session.scalars(select(PointsEntry).where(PointsEntry.order_id == live.id)).one()
        assert booked.created_at == utcnow()  # a live order is booked when it is accrued


class TestRefunds:
    def test_partial_refund_takes_back_in_proportion_to_the_lines(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        o = place(session, c, lines=[COFFEE, CAKE])
        deliver(session, settings)
        refund(session, o, lines=[{"sku": "CAK-1", "quantity": 1}])
        deliver(session, settings)
        assert _balance(session, settings, c.id) == (0, 10)
        reversal = session.scalars(select(PointsEntry).where(PointsEntry.kind == "reverse")).one()
        assert (reversal.points, reversal.rule, reversal.reason) == (-8, "base", "refund")
        consistent(session, c.id)

    def test_refunding_everything_takes_back_everything_including_bonuses(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(
            session,
            bonuses={"first_order": 50},
            multipliers=[{"name": "x3", "multiplier_bp": 30000}],
        )
        c = member(session)
        o = place(session, c, lines=[COFFEE, CAKE], shipping=300)
        deliver(session, settings)
        refund(session, o, lines=[{"sku": "CAK-1", "quantity": 1}])
        refund(session, o, lines=[{"sku": "COF-1", "quantity": 2}])
        deliver(session, settings)
        assert accrual.earned_by_order(session, o.id) == 0
        assert _balance(session, settings, c.id) == (0, 0)
        consistent(session, c.id)

    def test_refunds_handled_in_any_order_or_twice_take_back_the_same(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        o = place(session, c, lines=[{**COFFEE, "quantity": 4}])
        deliver(session, settings)
        refund(session, o, lines=[{"sku": "COF-1", "quantity": 1}])
        refund(session, o, lines=[{"sku": "COF-1", "quantity": 2}])
        events = events_of(session, "order.refunded")
        for event in reversed(events):
            replay(session, settings, event)
        for event in events:
            replay(session, settings, event)
        deliver(session, settings)
        assert accrual.earned_by_order(session, o.id) == 5
        consistent(session, c.id)

    def test_amount_only_refund_scales_the_points(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        o = place(
            session, c, lines=[{"sku": "A", "name": "a", "quantity": 1, "unit_price": 10_000}]
        )
        deliver(session, settings)
        refund(session, o, amount=2500)
        deliver(session, settings)
        assert accrual.earned_by_order(session, o.id) == 75

    def test_refund_before_accrual_earns_only_what_is_left(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        o = place(session, c, lines=[COFFEE, CAKE])
        refund(session, o, lines=[{"sku": "CAK-1", "quantity": 1}])
        deliver(session, settings)
        assert accrual.earned_by_order(session, o.id) == 10
        consistent(session, c.id)

    def test_cancelled_order_takes_everything_back(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        o = place(session, c)
        deliver(session, settings)
        orders.update_order_status(
            session, order_id=o.id, data=OrderStatusUpdate(status=OrderStatus.cancelled)
        )
        deliver(session, settings)
        assert accrual.earned_by_order(session, o.id) == 0
        status = service.status(session, settings=settings, customer_id=c.id)
        assert (status.available, status.pending, status.visits) == (0, 0, 0)
        consistent(session, c.id)


class TestRefundOfSpentPoints:
    def _spent(
        self, session: Session, settings: Settings, clock: FrozenClock, policy: str
    ) -> tuple[object, object]:
        set_rules(session, pending_days=0, refund_policy=policy)
        c = member(session)
        o = place(
            session, c, lines=[{"sku": "A", "name": "a", "quantity": 1, "unit_price": 10_000}]
        )
        deliver(session, settings)
        reward = rewards.create_reward(
            session, settings=settings, data=RewardCreate(name="Mug", kind="gift", cost_points=80)
        )
        rewards.redeem(session, settings=settings, customer_id=c.id, reward_id=reward.id, by="test")
        refund(session, o)
        deliver(session, settings)
        return c.id, o.id

    def test_negative_balance(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        cid, _ = self._spent(session, settings, clock, "negative_balance")
        s = service.status(session, settings=settings, customer_id=cid)  # type: ignore[arg-type]
        assert (s.available, s.owed) == (-80, 0)
        consistent(session, cid)  # type: ignore[arg-type]

    def test_future_earnings(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        cid, _ = self._spent(session, settings, clock, "future_earnings")
        s = service.status(session, settings=settings, customer_id=cid)  # type: ignore[arg-type]
        assert (s.available, s.owed) == (0, 80)
        c = session.get(Purchase, _)
        assert c is not None
        consistent(session, cid)  # type: ignore[arg-type]

    def test_forfeit(self, session: Session, settings: Settings, clock: FrozenClock) -> None:
        cid, _ = self._spent(session, settings, clock, "forfeit")
        s = service.status(session, settings=settings, customer_id=cid)  # type: ignore[arg-type]
        assert (s.available, s.owed) == (0, 0)
        entry = session.scalars(select(PointsEntry).where(PointsEntry.kind == "reverse")).one()
        assert (entry.points, entry.forgiven) == (-20, 80)
        consistent(session, cid)  # type: ignore[arg-type]


class TestCouponsOnOrders:
    def test_a_code_on_an_order_is_used_once(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        coupon = coupons.create_campaign(
            session, settings=settings, data=CouponCreate(name="Welcome", amount=300), by="test"
        )
        c = member(session)
        place(session, c, coupon_codes=[coupon.code])
        deliver(session, settings)
        [event] = events_of(session, "order.placed")
        replay(session, settings, event)
        found = coupons.get_coupon(session, coupon.code)
        assert found.uses == 1
        other = place(session, member(session), coupon_codes=[coupon.code])
        deliver(session, settings)
        assert coupons.get_coupon(session, coupon.code).uses == 1
        assert accrual.earned_by_order(session, other.id) == 10

    def test_cancelling_the_order_gives_the_coupon_back(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        coupon = coupons.create_campaign(
            session, settings=settings, data=CouponCreate(name="W", amount=300), by="t"
        )
        c = member(session)
        o = place(session, c, coupon_codes=[coupon.code])
        deliver(session, settings)
        orders.update_order_status(
            session, order_id=o.id, data=OrderStatusUpdate(status=OrderStatus.cancelled)
        )
        deliver(session, settings)
        assert coupons.get_coupon(session, coupon.code).uses == 0


class TestLedgerBalance:
    def test_balance_row_equals_ledger_after_a_busy_day(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, pending_days=1)
        c = member(session)
        a = place(session, c, lines=[COFFEE, CAKE])
        place(session, c, lines=[BEANS])
        deliver(session, settings)
        clock.advance(days=2)
        ledger.release_due(session, c.id, now=utcnow())
        refund(session, a, lines=[{"sku": "COF-1", "quantity": 1}])
        deliver(session, settings)
        consistent(session, c.id)
