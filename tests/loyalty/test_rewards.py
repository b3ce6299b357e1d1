from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import consistent, events_of, member, set_rules
from wafa.core.settings import CalendarKind, Settings
from wafa.core.time import utcnow
from wafa.loyalty import codes, coupons, pos, rewards, service
from wafa.loyalty.ledger import InsufficientPoints
from wafa.loyalty.models import Coupon, PointsLot, Redemption, RedemptionStatus, Reward
from wafa.loyalty.rewards import OutOfStock, RedemptionUsed, RewardUnavailable
from wafa.loyalty.schemas.io import RewardCreate, RewardUpdate


def _reward(session: Session, settings: Settings, **kw: Any) -> Reward:
    values: dict[str, Any] = {
        "name": "Free cake",
        "kind": "discount_fixed",
        "cost_points": 100,
        "amount": 700,
    }
    values.update(kw)
    return rewards.create_reward(
        session, settings=settings, data=RewardCreate.model_validate(values)
    )


def _rich(session: Session, settings: Settings, points: int = 300, **kw: Any) -> Any:
    c = member(session, **kw)
    service.adjust(
        session, settings=settings, customer_id=c.id, points=points, reason="seed", by="t"
    )
    return c


class TestRedeem:
    def test_spends_points_and_issues_a_single_use_coupon(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = _rich(session, settings)
        reward = _reward(session, settings, coupon_valid_days=30)
        red = service.redeem_reward(
            session, settings=settings, customer_id=c.id, reward_id=reward.id, by="cashier"
        )
        assert (red.points, red.status, red.reward_name) == (100, "issued", "Free cake")
        assert (
            red.coupon_code is not None and len(red.coupon_code) == 9 and red.coupon_code[4] == "-"
        )
        assert set(red.coupon_code.replace("-", "")) <= set(codes.ALPHABET)
        assert red.coupon_expires_at == utcnow() + timedelta(days=30)
        assert service.status(session, settings=settings, customer_id=c.id).available == 200
        [event] = events_of(session, "reward.redeemed", c.id)
        assert event.payload["coupon_code"] == red.coupon_code
        assert len(events_of(session, "coupon.issued", c.id)) == 1
        consistent(session, c.id)

    def test_short_balance_raises_and_leaves_stock_alone(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = _rich(session, settings, points=99)
        reward = _reward(session, settings, stock=3)
        with pytest.raises(InsufficientPoints):
            rewards.redeem(
                session, settings=settings, customer_id=c.id, reward_id=reward.id, by="t"
            )
        session.refresh(reward)
        assert (reward.stock, reward.redeemed_count) == (3, 0)
        assert session.scalar(select(Coupon.id)) is None

    def test_pending_points_cannot_be_spent(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        from tests.loyalty.helpers import deliver, place

        set_rules(session)
        c = member(session)
        place(session, c, lines=[{"sku": "A", "name": "a", "quantity": 1, "unit_price": 20_000}])
        deliver(session, settings)
        reward = _reward(session, settings)
        with pytest.raises(InsufficientPoints):
            rewards.redeem(
                session, settings=settings, customer_id=c.id, reward_id=reward.id, by="t"
            )
        clock.advance(days=14)
        rewards.redeem(session, settings=settings, customer_id=c.id, reward_id=reward.id, by="t")
        assert service.status(session, settings=settings, customer_id=c.id).available == 100

    def test_out_of_stock(self, session: Session, settings: Settings, clock: FrozenClock) -> None:
        c = _rich(session, settings)
        reward = _reward(session, settings, stock=1)
        rewards.redeem(session, settings=settings, customer_id=c.id, reward_id=reward.id, by="t")
        with pytest.raises(OutOfStock):
            rewards.redeem(
                session, settings=settings, customer_id=c.id, reward_id=reward.id, by="t"
            )
        assert service.status(session, settings=settings, customer_id=c.id).available == 200

    def test_outside_its_validity(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = _rich(session, settings)
        reward = _reward(session, settings, valid_from=(utcnow() + timedelta(days=1)).isoformat())
        with pytest.raises(RewardUnavailable) as exc:
            rewards.redeem(
                session, settings=settings, customer_id=c.id, reward_id=reward.id, by="t"
            )
        assert exc.value.context["reason"] == "not_yet_valid"

    def test_tier_only_reward(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(
            session,
            tiers={
                "enabled": True,
                "basis": "spend",
                "levels": [{"code": "gold", "name": "Gold", "threshold": 1000}],
            },
        )
        c = _rich(session, settings)
        reward = _reward(session, settings, min_tier="gold")
        with pytest.raises(RewardUnavailable):
            rewards.redeem(
                session, settings=settings, customer_id=c.id, reward_id=reward.id, by="t"
            )
        service.override_tier(
            session,
            settings=settings,
            customer_id=c.id,
            tier="gold",
            until=None,
            reason="vip",
            by="o",
        )
        rewards.redeem(session, settings=settings, customer_id=c.id, reward_id=reward.id, by="t")

    def test_unknown_tier_is_refused_when_the_reward_is_made(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        from wafa.core.errors import Invalid

        with pytest.raises(Invalid) as exc:
            _reward(session, settings, min_tier="diamond")
        assert exc.value.errors[0][0] == ("min_tier",)

    def test_partner_offer_is_a_coupon_for_the_neighbour(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = _rich(session, settings)
        reward = _reward(
            session, settings, kind="partner_offer", amount=None, partner_name="Golden Bakery"
        )
        red = service.redeem_reward(
            session, settings=settings, customer_id=c.id, reward_id=reward.id, by="t"
        )
        coupon = coupons.get_coupon(session, red.coupon_code or "")
        assert (coupon.discount_kind, coupon.partner_name) == ("partner_offer", "Golden Bakery")


class TestCancelRedemption:
    def test_gives_the_points_back_with_their_expiry(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, expiry={"policy": "fixed", "months": 3})
        c = _rich(session, settings)
        reward = _reward(session, settings, stock=5)
        red = service.redeem_reward(
            session, settings=settings, customer_id=c.id, reward_id=reward.id, by="t"
        )
        clock.advance(days=10)
        back = service.cancel_redemption(
            session, settings=settings, redemption_id=red.id, by="manager"
        )
        assert back.status == "cancelled"
        assert service.status(session, settings=settings, customer_id=c.id).available == 300
        expiries = set(
            session.scalars(select(PointsLot.expires_at).where(PointsLot.customer_id == c.id))
        )
        assert expiries == {datetime(2026, 6, 15, tzinfo=UTC)}
        session.refresh(reward)
        assert (reward.stock, reward.redeemed_count) == (5, 0)
        assert (
            coupons.validate(
                session, code=red.coupon_code or "", customer_id=c.id, subtotal=1000
            ).reason
            == "voided"
        )
        again = service.cancel_redemption(
            session, settings=settings, redemption_id=red.id, by="manager"
        )
        assert again.status == "cancelled"
        assert service.status(session, settings=settings, customer_id=c.id).available == 300
        consistent(session, c.id)

    def test_a_used_redemption_cannot_be_cancelled(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        c = _rich(session, settings)
        reward = _reward(session, settings)
        red = service.redeem_reward(
            session, settings=settings, customer_id=c.id, reward_id=reward.id, by="t"
        )
        coupons.use(
            session,
            code=red.coupon_code or "",
            order_ref="till-1",
            customer_id=c.id,
            subtotal=1500,
            now=utcnow(),
        )
        assert session.get(Redemption, red.id).status == RedemptionStatus.used  # type: ignore[union-attr]
        with pytest.raises(RedemptionUsed):
            rewards.cancel(session, settings=settings, redemption_id=red.id, by="t")
        assert service.status(session, settings=settings, customer_id=c.id).available == 200


class TestCatalogue:
    def test_active_only_lists_what_can_be_redeemed_now(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        cheap = _reward(session, settings, name="Cookie", cost_points=20)
        _reward(session, settings, name="Gone", stock=0)
        _reward(session, settings, name="Off", active=False)
        _reward(
            session, settings, name="Later", valid_from=(utcnow() + timedelta(days=2)).isoformat()
        )
        assert [r.id for r in rewards.list_rewards(session, active_only=True)] == [cheap.id]
        assert len(rewards.list_rewards(session)) == 4

    def test_update_changes_only_the_fields_given(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        reward = _reward(session, settings)
        rewards.update_reward(
            session, settings=settings, reward_id=reward.id, data=RewardUpdate(cost_points=150)
        )
        assert (reward.cost_points, reward.amount, reward.name) == (150, 700, "Free cake")


class TestFreeRewardsAreLimited:
    """A new member with no points once took six free coupons in six clicks."""

    def _free(self, session: Session, settings: Settings, **kw: Any) -> Reward:
        values: dict[str, Any] = {"name": "Welcome croissant", "kind": "gift", "cost_points": 0}
        return rewards.create_reward(
            session, settings=settings, data=RewardCreate.model_validate(values | kw)
        )

    def _redeem(self, session: Session, settings: Settings, c: Any, reward: Reward) -> Any:
        return service.redeem_reward(
            session, settings=settings, customer_id=c.id, reward_id=reward.id, by="t"
        )

    def test_a_free_catalogue_reward_needs_a_limit(self) -> None:
        with pytest.raises(ValidationError) as caught:
            RewardCreate(name="Free", kind="gift", cost_points=0)
        assert [e["loc"] for e in caught.value.errors()] == [("limit_per_customer",)]
        RewardCreate(name="Free", kind="gift", cost_points=0, limit_per_customer=1)
        RewardCreate(name="Free", kind="gift", cost_points=0, in_catalogue=False)

    def test_the_programs_own_gift_is_not_redeemable_nor_offered(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        gift = self._free(session, settings, in_catalogue=False)
        c = member(session)
        with pytest.raises(RewardUnavailable) as caught:
            self._redeem(session, settings, c, gift)
        assert caught.value.context["reason"] == "not_in_catalogue"
        assert session.scalars(select(Redemption)).all() == []
        offered = pos.summary(session, settings=settings, customer_id=c.id).rewards
        assert gift.id not in [r.id for r in offered]

    def test_once_a_month_per_customer_and_a_cancellation_gives_the_place_back(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        clock.set(datetime(2026, 3, 30, 12, 0, tzinfo=UTC))
        treat = self._free(session, settings, limit_per_customer=1, limit_period="month")
        c, other = member(session), member(session)
        first = self._redeem(session, settings, c, treat)
        for _ in range(5):
            with pytest.raises(RewardUnavailable) as caught:
                self._redeem(session, settings, c, treat)
            assert caught.value.context["reason"] == "limit"
        assert len(session.scalars(select(Redemption)).all()) == 1
        assert treat.id not in [
            r.id for r in pos.summary(session, settings=settings, customer_id=c.id).rewards
        ]
        self._redeem(session, settings, other, treat)  # a limit per customer, not in all
        service.cancel_redemption(session, settings=settings, redemption_id=first.id, by="t")
        again = self._redeem(session, settings, c, treat)
        with pytest.raises(RewardUnavailable):
            self._redeem(session, settings, c, treat)
        clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))  # a new month
        april = self._redeem(session, settings, c, treat)
        assert {again.id, april.id} <= {r.id for r in session.scalars(select(Redemption))}

    def test_the_month_is_the_shops_jalali_month_in_its_zone(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        tehran = settings.model_copy(
            update={"timezone": "Asia/Tehran", "calendar": CalendarKind.jalali}
        )
        set_rules(session)
        treat = self._free(session, tehran, limit_per_customer=1, limit_period="month")
        c = member(session)
        # 20 March 2026 20:00 UTC is already 1 Farvardin 1405 (Nowruz) in Tehran: a new
        # Jalali month begins, though it is still March in Gregorian and in UTC.
        clock.set(datetime(2026, 3, 20, 19, 0, tzinfo=UTC))  # 29 Esfand, 22:30 in Tehran
        self._redeem(session, tehran, c, treat)
        clock.set(datetime(2026, 3, 20, 21, 0, tzinfo=UTC))  # 1 Farvardin, 00:30
        self._redeem(session, tehran, c, treat)
        clock.set(datetime(2026, 3, 25, 9, 0, tzinfo=UTC))
        with pytest.raises(RewardUnavailable):
            self._redeem(session, tehran, c, treat)

    def test_a_limit_on_an_existing_reward_counts_from_then(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        treat = _reward(session, settings, cost_points=10)
        c = _rich(session, settings)
        self._redeem(session, settings, c, treat)
        rewards.update_reward(
            session,
            settings=settings,
            reward_id=treat.id,
            data=RewardUpdate(limit_per_customer=1, limit_period="year"),
        )
        assert treat.limit_period == "year"
        self._redeem(session, settings, c, treat)
        with pytest.raises(RewardUnavailable):
            self._redeem(session, settings, c, treat)
