"""Property tests: random days of orders, refunds, redemptions, expiries and adjustments.

After every step, for every member: the cached balance equals the ledger sum (and
pending equals the unreleased lots, available the released ones minus debt);
every spend and expiry is covered by lots; available is never negative unless the
refund policy allows a negative balance; replaying any event changes nothing.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import deliver, member, place, refund, replay, set_rules
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import jobs, ledger, rewards, service, stamps
from wafa.loyalty.ledger import InsufficientPoints
from wafa.loyalty.models import PointsEntry, Redemption, RedemptionStatus, StampEntry, StampProgress
from wafa.loyalty.rewards import RedemptionUsed
from wafa.loyalty.schemas.io import RewardCreate, StampCardCreate
from wafa.orders import service as orders
from wafa.orders.models import OrderStatus
from wafa.orders.schemas import OrderStatusUpdate

MEMBERS = 2
PRODUCTS = [("COF", "coffee", 450), ("CAK", "cake", 700), ("BEA", "retail", 2500)]

order_op = st.tuples(
    st.just("order"),
    st.integers(0, MEMBERS - 1),
    st.lists(st.integers(0, 3), min_size=len(PRODUCTS), max_size=len(PRODUCTS)).map(
        lambda q: q if any(q) else [1, *q[1:]]
    ),
    st.booleans(),  # accrue synchronously (the POS path) before the handler
)
refund_op = st.tuples(
    st.just("refund"), st.integers(0, 20), st.integers(0, len(PRODUCTS) - 1), st.integers(1, 3)
)
cancel_op = st.tuples(st.just("cancel"), st.integers(0, 20))
redeem_op = st.tuples(st.just("redeem"), st.integers(0, MEMBERS - 1), st.sampled_from([5, 10, 30]))
unredeem_op = st.tuples(st.just("unredeem"), st.integers(0, 10))
adjust_op = st.tuples(
    st.just("adjust"), st.integers(0, MEMBERS - 1), st.integers(-40, 40).filter(bool)
)
advance_op = st.tuples(st.just("advance"), st.sampled_from([1, 3, 8, 20, 40]))
replay_op = st.tuples(st.just("replay"), st.integers(0, 60))
prelude = st.tuples(
    order_op,
    order_op,
    order_op,
    st.just(("advance", 8)),
    st.tuples(st.just("redeem"), st.just(0), st.sampled_from([10, 30])),
)
ops = st.lists(
    st.one_of(
        order_op,
        order_op,
        refund_op,
        refund_op,
        cancel_op,
        redeem_op,
        redeem_op,
        unredeem_op,
        adjust_op,
        advance_op,
        replay_op,
    ),
    min_size=3,
    max_size=16,
)


def _note(what: str) -> None:
    if currently_in_test_context():
        event(what)


def _snapshot(session: Session, ids: list[uuid.UUID]) -> tuple[Any, ...]:
    entries = session.scalar(select(func.count()).select_from(PointsEntry))
    stamp_entries = session.scalar(select(func.count()).select_from(StampEntry))
    balances = tuple(ledger.balance_of(session, cid, now=utcnow()) for cid in ids)
    progress = tuple(
        session.execute(
            select(
                StampProgress.customer_id, StampProgress.stamps, StampProgress.completed
            ).order_by(StampProgress.customer_id)
        ).all()
    )
    return entries, stamp_entries, balances, progress


def _check(session: Session, ids: list[uuid.UUID], policy: str) -> None:
    for cid in ids:
        assert ledger.check(session, cid) == []
        acct = ledger.account(session, cid)
        if acct is not None and policy != "negative_balance":
            assert acct.available >= 0, (policy, acct.available)
        for p in session.scalars(select(StampProgress).where(StampProgress.customer_id == cid)):
            total = session.scalar(
                select(func.coalesce(func.sum(StampEntry.stamps), 0)).where(
                    StampEntry.customer_id == cid, StampEntry.card_id == p.card_id
                )
            )
            assert p.stamps == total


@pytest.mark.slow
@hsettings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start=prelude,
    steps=ops,
    policy=st.sampled_from(["negative_balance", "future_earnings", "forfeit"]),
    expiry=st.sampled_from([None, 1]),
    pending=st.sampled_from([0, 5]),
)
def test_ledger_invariants_hold_under_random_days(
    session: Session,
    settings: Settings,
    clock: FrozenClock,
    start: tuple[tuple[Any, ...], ...],
    steps: list[tuple[Any, ...]],
    policy: str,
    expiry: int | None,
    pending: int,
) -> None:
    clock.set(datetime(2026, 3, 15, 12, 0, tzinfo=UTC))
    savepoint = session.begin_nested()
    try:
        _run(session, settings, clock, [*start, *steps], policy, expiry, pending)
    finally:
        savepoint.rollback()


def _run(
    session: Session,
    settings: Settings,
    clock: FrozenClock,
    steps: list[tuple[Any, ...]],
    policy: str,
    expiry: int | None,
    pending: int = 5,
) -> None:
    set_rules(
        session,
        pending_days=pending,
        refund_policy=policy,
        expiry={"policy": "fixed", "months": expiry} if expiry else {"policy": "never"},
        bonuses={"first_order": 7},
        multipliers=[{"name": "cake", "multiplier_bp": 15000, "categories": ["cake"]}],
    )
    free = rewards.create_reward(
        session,
        settings=settings,
        data=RewardCreate(name="Free coffee", kind="gift", cost_points=0, in_catalogue=False),
    )
    stamps.create_card(
        session,
        data=StampCardCreate(
            name="Coffee card", stamps_required=3, per="item", skus=["COF"], reward_id=free.id
        ),
    )
    people = [member(session) for _ in range(MEMBERS)]
    ids = [p.id for p in people]
    placed: list[Any] = []
    costs: dict[int, Any] = {}
    redemptions: list[uuid.UUID] = []
    for step in steps:
        kind = step[0]
        if kind == "order":
            _, who, qty, sync = step
            lines = [
                {"sku": sku, "name": sku, "quantity": q, "unit_price": price, "category": cat}
                for (sku, cat, price), q in zip(PRODUCTS, qty, strict=True)
                if q
            ]
            order = place(session, people[who], lines=lines)
            placed.append(order)
            if sync:
                from wafa.loyalty import accrual

                accrual.accrue_order(session, settings=settings, order_id=order.id)
        elif kind == "refund" and placed:
            _, idx, line, qty = step
            order = orders.get_order(session, placed[idx % len(placed)].id)
            sku = PRODUCTS[line][0]
            left = [
                ln
                for ln in order.lines
                if ln.sku == sku and ln.quantity - ln.refunded_quantity >= qty
            ]
            if left and order.status != OrderStatus.cancelled:
                refund(session, order, lines=[{"sku": sku, "quantity": qty}])
                _note("refunded")
        elif kind == "cancel" and placed:
            order = orders.get_order(session, placed[step[1] % len(placed)].id)
            if order.status not in (OrderStatus.cancelled, OrderStatus.refunded):
                orders.update_order_status(
                    session, order_id=order.id, data=OrderStatusUpdate(status=OrderStatus.cancelled)
                )
        elif kind == "redeem":
            _, who, cost = step
            if cost not in costs:
                costs[cost] = rewards.create_reward(
                    session,
                    settings=settings,
                    data=RewardCreate(name=f"R{cost}", kind="gift", cost_points=cost),
                )
            before = ledger.balance_of(session, ids[who], now=utcnow())[0]
            try:
                r = rewards.redeem(
                    session,
                    settings=settings,
                    customer_id=ids[who],
                    reward_id=costs[cost].id,
                    by="p",
                )
                redemptions.append(r.id)
                _note("redeemed")
                assert before >= cost
            except InsufficientPoints:
                assert before < cost
        elif kind == "unredeem" and redemptions:
            rid = redemptions[step[1] % len(redemptions)]
            with contextlib.suppress(RedemptionUsed):
                rewards.cancel(session, settings=settings, redemption_id=rid, by="p")
            cancelled = session.get(Redemption, rid)
            assert cancelled is not None
            assert cancelled.status in (RedemptionStatus.cancelled, RedemptionStatus.used)
        elif kind == "adjust":
            _, who, pts = step
            try:
                service.adjust(
                    session,
                    settings=settings,
                    customer_id=ids[who],
                    points=pts,
                    reason="prop",
                    by="p",
                )
            except InsufficientPoints:
                assert pts < 0
        elif kind == "advance":
            clock.advance(days=step[1])
            now = utcnow()
            while jobs.release_batch(session, settings=settings, now=now):
                pass
            while jobs.expire_batch(session, settings=settings, now=now):
                pass
        elif kind == "replay":
            history = list(
                session.scalars(
                    select(OutboxEvent)
                    .where(OutboxEvent.topic.like("order.%"))
                    .order_by(OutboxEvent.id)
                )
            )
            if history:
                deliver(session, settings)
                snapshot = _snapshot(session, ids)
                replay(session, settings, history[step[1] % len(history)])
                assert _snapshot(session, ids) == snapshot
        deliver(session, settings)
        _check(session, ids, policy)
        for cid in ids:
            acct = ledger.account(session, cid)
            if acct is not None and (acct.debt or acct.carried):
                _note(f"owing under {policy}")
            if acct is not None and acct.available < 0:
                _note("negative")
