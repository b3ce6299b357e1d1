"""Never overdraw, never use a single-use coupon twice, never accrue an order twice:
threads with their own sessions and real commits on PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from tests.loyalty.helpers import member, place, set_rules
from wafa.core.db import session_factory, session_scope
from wafa.core.outbox import OutboxEvent, OutboxReceipt
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import accrual, coupons, handlers, ledger, rewards, service
from wafa.loyalty.coupons import CouponRejected
from wafa.loyalty.ledger import InsufficientPoints
from wafa.loyalty.models import Coupon, CouponUse, PointsEntry, Purchase, Redemption, Reward
from wafa.loyalty.rewards import OutOfStock
from wafa.loyalty.schemas.io import CouponCreate, RewardCreate
from wafa.worker.batch import handle_once

pytestmark = pytest.mark.postgres_only


def _race(n: int, work: Callable[[int], str]) -> Counter[str]:
    """Run ``work(i)`` in ``n`` threads released together; count the outcomes."""
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            result = work(i)
        except Exception as exc:
            result = f"error: {type(exc).__name__}: {exc}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return Counter(outcomes)


class TestParallelRedemptions:
    def test_twenty_tills_take_a_free_reward_only_as_often_as_its_limit(
        self, committed_db: Settings
    ) -> None:
        settings = committed_db
        with session_scope(settings) as s:
            c = member(s)
            reward = rewards.create_reward(
                s,
                settings=settings,
                data=RewardCreate(
                    name="Welcome croissant",
                    kind="gift",
                    cost_points=0,
                    limit_per_customer=2,
                    limit_period="month",
                ),
            )
            cid, rid = c.id, reward.id
        factory = session_factory(settings)

        def redeem(_: int) -> str:
            with factory() as session, session.begin():
                try:
                    rewards.redeem(
                        session, settings=settings, customer_id=cid, reward_id=rid, by="t"
                    )
                except rewards.RewardUnavailable as exc:
                    return str(exc.context["reason"])
            return "ok"

        assert _race(20, redeem) == Counter({"ok": 2, "limit": 18})
        with factory() as s:
            seqs = s.scalars(select(Redemption.seq).order_by(Redemption.seq)).all()
            assert seqs == [1, 2]
            assert s.scalar(select(func.count()).select_from(Coupon)) == 2

    def test_fifty_redemptions_spend_exactly_what_there_is(self, committed_db: Settings) -> None:
        settings = committed_db
        with session_scope(settings) as s:
            c = member(s)
            service.adjust(
                s, settings=settings, customer_id=c.id, points=500, reason="seed", by="t"
            )
            reward = rewards.create_reward(
                s, settings=settings, data=RewardCreate(name="Coffee", kind="gift", cost_points=20)
            )
            cid, rid = c.id, reward.id
        factory = session_factory(settings)

        def redeem(_: int) -> str:
            with factory() as session, session.begin():
                try:
                    rewards.redeem(
                        session, settings=settings, customer_id=cid, reward_id=rid, by="t"
                    )
                except InsufficientPoints:
                    return "short"
            return "ok"

        assert _race(50, redeem) == Counter({"ok": 25, "short": 25})
        with factory() as s:
            assert ledger.balance_of(s, cid, now=utcnow()) == (0, 0)
            assert ledger.check(s, cid) == []
            assert s.scalar(select(func.count()).select_from(Redemption)) == 25
            assert (
                s.scalar(select(func.sum(PointsEntry.points)).where(PointsEntry.customer_id == cid))
                == 0
            )

    def test_fifty_members_race_for_ten_in_stock(self, committed_db: Settings) -> None:
        settings = committed_db
        with session_scope(settings) as s:
            ids = []
            for _ in range(50):
                c = member(s)
                service.adjust(
                    s, settings=settings, customer_id=c.id, points=100, reason="seed", by="t"
                )
                ids.append(c.id)
            reward = rewards.create_reward(
                s,
                settings=settings,
                data=RewardCreate(name="Tote", kind="gift", cost_points=30, stock=10),
            )
            rid = reward.id
        factory = session_factory(settings)

        def redeem(i: int) -> str:
            with factory() as session, session.begin():
                try:
                    rewards.redeem(
                        session, settings=settings, customer_id=ids[i], reward_id=rid, by="t"
                    )
                except OutOfStock:
                    return "out"
            return "ok"

        assert _race(50, redeem) == Counter({"ok": 10, "out": 40})
        with factory() as s:
            found = s.get(Reward, rid)
            assert found is not None and (found.stock, found.redeemed_count) == (0, 10)
            assert (
                sum(ledger.balance_of(s, cid, now=utcnow())[0] for cid in ids) == 50 * 100 - 10 * 30
            )
            assert all(ledger.check(s, cid) == [] for cid in ids)


class TestParallelCouponUses:
    def test_a_single_use_coupon_is_used_once_by_fifty_orders(self, committed_db: Settings) -> None:
        settings = committed_db
        with session_scope(settings) as s:
            coupon = coupons.create_campaign(
                s, settings=settings, data=CouponCreate(name="One", amount=500, max_uses=1), by="t"
            )
            code = coupon.code
        factory = session_factory(settings)

        def use(i: int) -> str:
            with factory() as session, session.begin():
                try:
                    coupons.use(
                        session,
                        code=code,
                        order_ref=f"till-{i}",
                        customer_id=None,
                        subtotal=2000,
                        now=utcnow(),
                    )
                except CouponRejected as exc:
                    return str(exc.context["reason"])
            return "ok"

        assert _race(50, use) == Counter({"ok": 1, "used_up": 49})
        with factory() as s:
            assert coupons.get_coupon(s, code).uses == 1
            assert s.scalar(select(func.count()).select_from(CouponUse)) == 1

    def test_a_per_customer_limit_holds_under_fifty_parallel_uses(
        self, committed_db: Settings
    ) -> None:
        settings = committed_db
        with session_scope(settings) as s:
            c = member(s)
            coupon = coupons.create_campaign(
                s,
                settings=settings,
                data=CouponCreate(
                    name="Once each", amount=100, max_uses=None, per_customer_limit=1
                ),
                by="t",
            )
            code, cid = coupon.code, c.id
        factory = session_factory(settings)

        def use(i: int) -> str:
            with factory() as session, session.begin():
                try:
                    coupons.use(
                        session,
                        code=code,
                        order_ref=f"o-{i}",
                        customer_id=cid,
                        subtotal=900,
                        now=utcnow(),
                    )
                except CouponRejected as exc:
                    return str(exc.context["reason"])
            return "ok"

        outcome = _race(50, use)
        assert outcome["ok"] == 1
        assert outcome["ok"] + outcome["customer_limit"] == 50
        with factory() as s:
            assert coupons.get_coupon(s, code).uses == 1


class TestParallelDeliveries:
    def _order(self, settings: Settings) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
        with session_scope(settings) as s:
            set_rules(s, bonuses={"first_order": 25})
            c = member(s)
            o = place(s, c)
            event_id = s.scalar(
                select(OutboxEvent.id).where(
                    OutboxEvent.topic == "order.placed", OutboxEvent.subject_id == o.id
                )
            )
            assert event_id is not None
            return c.id, o.id, event_id

    def test_twenty_deliveries_of_one_event_handle_it_once(self, committed_db: Settings) -> None:
        settings = committed_db
        cid, oid, event_id = self._order(settings)
        factory = session_factory(settings)
        consumer = handlers.consumer(settings)

        def deliver(_: int) -> str:
            with factory() as session, session.begin():
                event = session.get(OutboxEvent, event_id)
                assert event is not None
                return "handled" if handle_once(session, consumer, event) else "skipped"

        assert _race(20, deliver) == Counter({"handled": 1, "skipped": 19})
        with factory() as s:
            assert accrual.earned_by_order(s, oid) == 35
            assert s.scalar(select(func.count()).select_from(OutboxReceipt)) == 1
            assert ledger.check(s, cid) == []

    def test_twenty_accruals_without_receipts_award_once(self, committed_db: Settings) -> None:
        settings = committed_db
        cid, oid, _ = self._order(settings)
        factory = session_factory(settings)

        def accrue(_: int) -> str:
            with factory() as session, session.begin():
                done = accrual.accrue_order(session, settings=settings, order_id=oid)
            return "accrued" if done is not None else "already"

        assert _race(20, accrue) == Counter({"accrued": 1, "already": 19})
        with factory() as s:
            assert accrual.earned_by_order(s, oid) == 35
            assert s.scalar(select(func.count()).select_from(Purchase)) == 1
            assert s.scalar(select(func.count()).select_from(PointsEntry)) == 2
            assert ledger.balance_of(s, cid, now=utcnow()) == (0, 35)
            assert ledger.check(s, cid) == []
