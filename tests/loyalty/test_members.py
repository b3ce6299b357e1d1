"""Merges, erasure, fixed bonuses and personal data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import consistent, deliver, events_of, member, place, refund, set_rules
from wafa.app.domains import people_hooks
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerUpdate
from wafa.loyalty import accrual, coupons, ledger, members, rewards, service, stamps
from wafa.loyalty.models import Coupon, CouponStatus, PointsEntry
from wafa.loyalty.schemas.io import CouponCreate, RewardCreate, StampCardCreate
from wafa.people import service as lifecycle

COFFEE = {
    "sku": "COF-1",
    "name": "Flat white",
    "quantity": 1,
    "unit_price": 1000,
    "category": "coffee",
}


class TestMerge:
    def _two(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> tuple[Any, Any, Any]:
        set_rules(session, pending_days=7)
        free = rewards.create_reward(
            session,
            settings=settings,
            data=RewardCreate(name="Free", kind="gift", cost_points=0, in_catalogue=False),
        )
        stamps.create_card(
            session,
            data=StampCardCreate(
                name="Card", stamps_required=5, categories=["coffee"], reward_id=free.id
            ),
        )
        winner, loser = member(session, name="Sara"), member(session, name="Sara K")
        place(session, winner, lines=[COFFEE])
        old = place(session, loser, lines=[COFFEE, COFFEE | {"sku": "COF-2"}])
        deliver(session, settings)
        clock.advance(days=8)
        place(session, loser, lines=[COFFEE])
        deliver(session, settings)
        coupons.create_campaign(
            session,
            settings=settings,
            data=CouponCreate(name="Sorry", amount=200, customer_id=loser.id),
            by="t",
        )
        return winner, loser, old

    def test_everything_moves_to_the_winner_through_the_ledger(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        winner, loser, _ = self._two(session, settings, clock)
        lifecycle.merge_customers(
            session, winner_id=winner.id, loser_id=loser.id, merged_by="owner"
        )
        deliver(session, settings)
        w = service.status(session, settings=settings, customer_id=winner.id)
        assert (w.available, w.pending, w.lifetime, w.visits) == (30, 10, 40, 3)
        assert [(s.stamps, s.completed) for s in w.stamps] == [(3, 0)]
        assert ledger.balance_of(session, loser.id, now=clock.now) == (0, 0)
        assert (
            session.scalars(select(Coupon).where(Coupon.customer_id == winner.id)).one().name
            == "Sorry"
        )
        reasons = {
            e.reason
            for e in session.scalars(select(PointsEntry).where(PointsEntry.reason.like("merge%")))
        }
        assert reasons == {"merge_in", "merge_out"}
        consistent(session, winner.id)
        consistent(session, loser.id)
        # the loser's id answers for the winner
        assert (
            service.status(session, settings=settings, customer_id=loser.id).customer_id
            == winner.id
        )

    def test_a_refund_after_the_merge_takes_the_points_from_the_winner(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        winner, loser, old = self._two(session, settings, clock)
        lifecycle.merge_customers(
            session, winner_id=winner.id, loser_id=loser.id, merged_by="owner"
        )
        deliver(session, settings)
        refund(session, old)
        deliver(session, settings)
        assert accrual.earned_by_order(session, old.id) == 0
        w = service.status(session, settings=settings, customer_id=winner.id)
        assert (w.available, w.pending) == (10, 10)
        consistent(session, winner.id)
        consistent(session, loser.id)

    def test_replaying_the_merge_changes_nothing(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        from tests.loyalty.helpers import replay

        winner, loser, _ = self._two(session, settings, clock)
        lifecycle.merge_customers(
            session, winner_id=winner.id, loser_id=loser.id, merged_by="owner"
        )
        deliver(session, settings)
        [event] = events_of(session, "customer.merged")
        replay(session, settings, event)
        w = service.status(session, settings=settings, customer_id=winner.id)
        assert (w.available, w.pending, w.visits) == (30, 10, 3)
        consistent(session, winner.id)

    def test_a_debt_moves_with_the_merge(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, pending_days=0)
        winner, loser = member(session), member(session)
        o = place(session, loser, lines=[COFFEE])
        deliver(session, settings)
        service.adjust(
            session, settings=settings, customer_id=loser.id, points=-10, reason="spent", by="t"
        )
        refund(session, o)
        deliver(session, settings)
        assert service.status(session, settings=settings, customer_id=loser.id).available == -10
        service.adjust(
            session, settings=settings, customer_id=winner.id, points=25, reason="x", by="t"
        )
        lifecycle.merge_customers(
            session, winner_id=winner.id, loser_id=loser.id, merged_by="owner"
        )
        deliver(session, settings)
        assert service.status(session, settings=settings, customer_id=winner.id).available == 15
        assert ledger.balance_of(session, loser.id, now=clock.now) == (0, 0)
        consistent(session, winner.id)
        consistent(session, loser.id)


class TestErase:
    def test_points_lapse_and_coupons_stop(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        place(session, c)
        service.adjust(session, settings=settings, customer_id=c.id, points=30, reason="x", by="t")
        coupons.create_campaign(
            session,
            settings=settings,
            data=CouponCreate(name="Mine", amount=100, customer_id=c.id),
            by="t",
        )
        deliver(session, settings)
        lifecycle.erase_customer(
            session, settings=settings, hooks=people_hooks(), customer_id=c.id, erased_by="owner"
        )
        deliver(session, settings)
        assert ledger.balance_of(session, c.id, now=clock.now) == (0, 0)
        assert session.scalars(select(Coupon.status).where(Coupon.customer_id == c.id)).all() == [
            CouponStatus.voided
        ]
        acct = ledger.account(session, c.id)
        assert acct is not None and acct.referral_code is None and acct.closed_at is not None
        consistent(session, c.id)
        assert service.liability(session, settings=settings).outstanding_points == 0


class TestBonuses:
    def test_signup_and_profile_bonuses_once(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, bonuses={"signup": 20, "profile_completed": 15})
        c = member(session, name="Full Name")
        deliver(session, settings)
        assert service.status(session, settings=settings, customer_id=c.id).available == 20
        customers.update_customer(
            session,
            customer_id=c.id,
            data=CustomerUpdate.model_validate({"birthday": {"day": 2, "month": 2}}),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        customers.update_customer(
            session,
            customer_id=c.id,
            data=CustomerUpdate(city="Shiraz"),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        deliver(session, settings)
        assert service.status(session, settings=settings, customer_id=c.id).available == 35

    def test_survey_hook_pays_once_per_response(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, bonuses={"survey_answered": 5})
        c = member(session)
        assert (
            members.award_bonus(
                session,
                settings=settings,
                customer_id=c.id,
                bonus="survey_answered",
                occasion="resp-1",
            )
            == 5
        )
        assert (
            members.award_bonus(
                session,
                settings=settings,
                customer_id=c.id,
                bonus="survey_answered",
                occasion="resp-1",
            )
            == 0
        )
        assert (
            members.award_bonus(
                session,
                settings=settings,
                customer_id=c.id,
                bonus="survey_answered",
                occasion="resp-2",
            )
            == 5
        )
        entry = session.scalars(select(PointsEntry).where(PointsEntry.customer_id == c.id)).first()
        assert entry is not None and entry.rule == "bonus:survey_answered"


class TestPersonalData:
    def test_export_includes_loyalty(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session)
        c = member(session)
        place(session, c)
        deliver(session, settings)
        data = lifecycle.export_customer(session, c.id, hooks=people_hooks())
        loyalty = data["loyalty"]
        assert loyalty["account"]["pending"] == 10
        assert [(e["kind"], e["points"], e["rule"]) for e in loyalty["ledger"]] == [
            ("earn", 10, "base")
        ]
