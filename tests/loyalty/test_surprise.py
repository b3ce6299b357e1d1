"""Surprise rules: milestones, chance and segments; once per occasion; a month's budget."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import deliver, events_of, member, place, set_rules
from wafa.core.errors import Invalid
from wafa.core.settings import Settings
from wafa.loyalty import accrual, rewards, service
from wafa.loyalty.models import (
    Coupon,
    LoyaltyAccount,
    PointsEntry,
    SurpriseBudget,
    SurpriseGrant,
    SurpriseTrigger,
)
from wafa.loyalty.schemas.io import RewardCreate
from wafa.loyalty.surprise import service as surprise
from wafa.loyalty.surprise.schemas import SurpriseRuleCreate, SurpriseRuleUpdate
from wafa.orders import service as orders
from wafa.orders.schemas import LocationCreate, ProductCreate


def rule(session: Session, settings: Settings, **values: Any) -> Any:
    values.setdefault("name", "A little thank-you")
    values.setdefault("trigger", "nth_order")
    if "reward_id" not in values:
        values.setdefault("points", 100)
    return surprise.create_rule(
        session, settings=settings, data=SurpriseRuleCreate.model_validate(values), by="owner"
    )


def grants(session: Session, **where: Any) -> list[SurpriseGrant]:
    stmt = select(SurpriseGrant).order_by(SurpriseGrant.granted_at)
    for key, value in where.items():
        stmt = stmt.where(getattr(SurpriseGrant, key) == value)
    return list(session.scalars(stmt))


def pastry(session: Session, settings: Settings) -> Any:
    orders.create_product(
        session,
        data=ProductCreate(sku="PAS-1", name="Pastry", price=350),
        default_currency=settings.currency,
    )
    return rewards.create_reward(
        session,
        settings=settings,
        data=RewardCreate(
            name="A free pastry",
            kind="free_product",
            cost_points=0,
            product_sku="PAS-1",
            in_catalogue=False,
        ),
    )


class TestNthOrder:
    def test_the_third_order_gives_once_and_the_ledger_names_the_rule(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        r = rule(session, settings, count=3, points=150)
        c = member(session)
        for _ in range(4):
            place(session, c, placed_at=clock.now)
            deliver(session, settings)
        (g,) = grants(session)
        assert (g.customer_id, g.occasion, g.points) == (c.id, "orders:3", 150)
        entry = session.scalars(
            select(PointsEntry).where(
                PointsEntry.customer_id == c.id, PointsEntry.reason == "surprise"
            )
        ).one()
        assert entry.points == 150 and entry.rule == f"surprise:{r.id}"
        assert entry.details == {"surprise_rule": r.name, "grant_id": str(g.id)}
        (event,) = events_of(session, "loyalty.surprise_granted", c.id)
        assert event.payload["points"] == 150 and event.payload["rule"] == r.name

    def test_a_second_accrual_of_the_same_order_grants_nothing_more(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        rule(session, settings, count=1)
        c = member(session)
        order = place(session, c, placed_at=clock.now)
        accrual.accrue_order(session, settings=settings, order_id=order.id)
        accrual.accrue_order(session, settings=settings, order_id=order.id)
        deliver(session, settings)
        assert len(grants(session)) == 1

    def test_imported_history_surprises_nobody(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        rule(session, settings, count=1)
        c = member(session)
        order = place(session, c, placed_at=clock.now)
        accrual.accrue_order(session, settings=settings, order_id=order.id, imported=True)
        assert grants(session) == []
        # The imported order still counts: the next live order is the 2nd, not the 1st.
        place(session, c, placed_at=clock.now)
        deliver(session, settings)
        assert grants(session) == []

    def test_a_paused_rule_gives_nothing(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        r = rule(session, settings, count=1)
        surprise.update_rule(
            session, settings=settings, rule_id=r.id, data=SurpriseRuleUpdate(status="paused")
        )
        place(session, member(session), placed_at=clock.now)
        deliver(session, settings)
        assert grants(session) == []

    def test_an_order_under_the_minimum_does_not_qualify(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        rule(session, settings, count=1, min_order_amount=5000)
        place(session, member(session), placed_at=clock.now)  # 1000
        deliver(session, settings)
        assert grants(session) == []


class TestRewards:
    def test_a_free_product_is_a_surprise_coupon_costed_at_the_products_price(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        reward = pastry(session, settings)
        r = rule(session, settings, count=1, reward_id=reward.id)
        assert r.unit_cost_amount == 350
        c = member(session)
        place(session, c, placed_at=clock.now)
        deliver(session, settings)
        (g,) = grants(session)
        coupon = session.get(Coupon, g.coupon_id)
        assert coupon is not None
        assert (coupon.source, coupon.customer_id, coupon.max_uses) == ("surprise", c.id, 1)
        (pending,) = surprise.pending_for(session, c.id)
        assert pending.gift == "A free pastry" and pending.coupon_code
        assert surprise.mark_handed(session, customer_id=c.id, grant_id=g.id, by="cashier")
        assert not surprise.mark_handed(session, customer_id=c.id, grant_id=g.id, by="cashier")
        assert surprise.pending_for(session, c.id) == []

    def test_points_cost_their_value(self, session: Session, settings: Settings) -> None:
        set_rules(session, point_value_bp=50_000)  # one point is worth 5 minor units
        assert rule(session, settings, count=1, points=200).unit_cost_amount == 1000

    def test_a_percentage_coupon_needs_the_owner_to_state_its_cost(
        self, session: Session, settings: Settings
    ) -> None:
        set_rules(session)
        reward = rewards.create_reward(
            session,
            settings=settings,
            data=RewardCreate(
                name="10% off",
                kind="discount_percent",
                cost_points=0,
                percent_bp=1000,
                in_catalogue=False,
            ),
        )
        with pytest.raises(Invalid) as caught:
            rule(session, settings, count=1, reward_id=reward.id)
        assert caught.value.errors[0][0] == ("cost_amount",)
        assert rule(session, settings, count=1, reward_id=reward.id, cost_amount=200)


class TestValidation:
    @pytest.mark.parametrize(
        ("values", "loc"),
        [
            ({"trigger": "nth_order"}, ("count",)),
            ({"trigger": "random", "count": 1}, ("count",)),
            ({"trigger": "location_visit", "count": 5}, ("location_id",)),
            ({"trigger": "nth_order", "count": 2, "reward_id": str(uuid.uuid4())}, ("points",)),
        ],
    )
    def test_an_incoherent_rule_names_its_field(
        self, session: Session, settings: Settings, values: dict[str, Any], loc: tuple[str]
    ) -> None:
        set_rules(session)
        with pytest.raises(Invalid) as caught:
            surprise.create_rule(
                session,
                settings=settings,
                data=SurpriseRuleCreate.model_validate({"name": "x", "points": 5, **values}),
                by=None,
            )
        assert caught.value.errors[0][0] == loc


class TestBudget:
    def test_the_month_stops_at_its_budget_and_the_next_month_starts_again(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        rule(session, settings, count=1, points=100, monthly_budget_amount=250)
        customers = [member(session) for _ in range(4)]
        for c in customers[:3]:
            place(session, c, placed_at=clock.now)
        deliver(session, settings)
        assert len(grants(session)) == 2  # 100 + 100 <= 250; a third would be 300
        budget = session.scalars(select(SurpriseBudget)).one()
        assert (budget.month, budget.spent_amount, budget.grants) == ("2026-03", 200, 2)
        clock.set(datetime(2026, 4, 2, 12, tzinfo=UTC))
        place(session, customers[3], placed_at=clock.now)
        deliver(session, settings)
        assert len(grants(session)) == 3
        costs = surprise.monthly_costs(session, settings=settings)
        assert [(m.month, m.grants, m.cost_amount) for m in costs] == [
            ("2026-04", 1, 100),
            ("2026-03", 2, 200),
        ]

    def test_random_draws_one_in_n_the_same_way_every_time(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        r = rule(session, settings, trigger="random", count=3, points=10)
        placed = []
        for _ in range(30):
            c = member(session)
            placed.append(place(session, c, placed_at=clock.now))
        deliver(session, settings)
        drawn = {o.id for o in placed if surprise._drawn(r.id, o.id, 3)}
        assert 3 <= len(drawn) <= 20  # about 10 in 30
        assert {g.order_id for g in grants(session)} == drawn
        assert {g.occasion for g in grants(session)} == {f"order:{i}" for i in drawn}


class TestLocationVisit:
    def test_the_fifth_visit_to_the_shop_counts_only_that_shop(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        for code in ("MAIN", "PORT"):
            orders.create_location(
                session, data=LocationCreate(code=code, name=code.title(), kind="shop")
            )
        loc_id = orders.location_id_for(session, "MAIN")
        rule(session, settings, trigger="location_visit", count=3, location_id=str(loc_id))
        c = member(session)
        for where in ("MAIN", "PORT", "MAIN", "PORT", "MAIN", "MAIN"):
            place(session, c, placed_at=clock.now, location=where, channel="in_store")
            deliver(session, settings)
        (g,) = grants(session)
        assert g.occasion == f"visit:{loc_id}:3"


class TestAnniversary:
    def test_the_first_anniversary_of_joining_once(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        rule(session, settings, trigger="anniversary", points=500)
        c = member(session)
        other = member(session)
        service.adjust(session, settings=settings, customer_id=c.id, points=1, reason="x", by="t")
        service.adjust(
            session, settings=settings, customer_id=other.id, points=1, reason="x", by="t"
        )
        session.execute(
            update(LoyaltyAccount)
            .where(LoyaltyAccount.customer_id == c.id)
            .values(joined_on=date(2025, 3, 15))
        )
        session.execute(
            update(LoyaltyAccount)
            .where(LoyaltyAccount.customer_id == other.id)
            .values(joined_on=date(2025, 3, 16))
        )
        for _ in range(2):
            n, _last = surprise.anniversary_batch(
                session, settings=settings, day=date(2026, 3, 15), after=None
            )
            assert n == 2
        assert [(g.customer_id, g.occasion) for g in grants(session)] == [(c.id, "anniversary:1")]


class TestSegmentByHand:
    def test_a_second_run_in_the_quarter_gives_nobody_a_second_one(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        r = rule(session, settings, trigger="segment", points=50, monthly_budget_amount=100)
        people = [member(session).id for _ in range(3)]
        occasion = f"segment:x:{surprise.quarter_of(clock.now, settings)}"
        first = surprise.grant_to_customers(
            session, settings=settings, rule_id=r.id, customer_ids=people, occasion=occasion, by="o"
        )
        assert (first.granted, first.already, first.over_budget) == (2, 0, 1)
        again = surprise.grant_to_customers(
            session, settings=settings, rule_id=r.id, customer_ids=people, occasion=occasion, by="o"
        )
        assert (again.granted, again.already, again.over_budget) == (0, 2, 1)
        assert occasion.endswith("2026-Q1")

    def test_only_a_segment_rule_is_granted_by_hand(
        self, session: Session, settings: Settings
    ) -> None:
        set_rules(session)
        r = rule(session, settings, count=2)
        with pytest.raises(Invalid):
            surprise.grant_to_customers(
                session, settings=settings, rule_id=r.id, customer_ids=[], occasion="x", by=None
            )
        assert session.scalar(select(func.count()).select_from(SurpriseGrant)) == 0
        assert SurpriseTrigger.segment.value == "segment"


class TestPersonalData:
    def test_the_export_lists_the_surprises(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        from wafa.loyalty.declaration import LOYALTY

        set_rules(session)
        rule(session, settings, count=1, name="First order")
        c = member(session)
        place(session, c, placed_at=clock.now)
        deliver(session, settings)
        assert LOYALTY.personal_data is not None and LOYALTY.personal_data.export is not None
        exported = LOYALTY.personal_data.export(session, c.id)
        assert [(s["rule"], s["occasion"]) for s in exported["surprises"]] == [
            ("First order", "orders:1")
        ]


class TestMerge:
    def test_the_kept_record_takes_the_surprises_but_not_an_occasion_twice(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        from wafa.loyalty import members

        set_rules(session)
        first = rule(session, settings, trigger="segment", points=10, name="Thanks")
        other = rule(session, settings, trigger="segment", points=20, name="Welcome back")
        kept, dup = member(session), member(session)
        for who, r in ((kept, first), (dup, first), (dup, other)):
            surprise.grant_to_customers(
                session,
                settings=settings,
                rule_id=r.id,
                customer_ids=[who.id],
                occasion="segment:s:2026-Q1",
                by=None,
            )
        members.merge_members(
            session, settings=settings, winner_id=kept.id, loser_id=dup.id, merge_id="m1"
        )
        assert sorted((g.customer_id == kept.id, g.points) for g in grants(session)) == [
            (False, 10),
            (True, 10),
            (True, 20),
        ]
