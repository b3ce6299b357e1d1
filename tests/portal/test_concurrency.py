"""Redeeming from the portal under concurrency: never overdrawn, a double tap done once
(threads with their own sessions and real commits on PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest

from tests.factories import create_customer
from wafa.core.db import session_factory, session_scope
from wafa.core.settings import Settings
from wafa.loyalty import rewards
from wafa.loyalty import service as loyalty
from wafa.loyalty.ledger import InsufficientPoints
from wafa.loyalty.schemas.io import RewardCreate
from wafa.portal import service

pytestmark = pytest.mark.postgres_only


def _race(n: int, work: Callable[[int], str]) -> Counter[str]:
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            result = work(i)
        except InsufficientPoints:
            result = "short"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return Counter(outcomes)


def test_ten_taps_spend_what_there_is_and_one_nonce_redeems_once(
    committed_db: Settings,
) -> None:
    settings = committed_db
    with session_scope(settings) as s:
        customer = create_customer(s)
        loyalty.adjust(
            s, settings=settings, customer_id=customer.id, points=100, reason="x", by="t"
        )
        reward = rewards.create_reward(
            s, settings=settings, data=RewardCreate(name="Coffee", kind="gift", cost_points=30)
        )
        cid, rid = customer.id, reward.id
    factory = session_factory(settings)

    def tap(nonce: str) -> Callable[[int], str]:
        def work(i: int) -> str:
            with factory() as session, session.begin():
                done = service.redeem_once(
                    session, settings=settings, customer_id=cid, reward_id=rid, nonce=nonce % i
                )
            return str(done)

        return work

    same = _race(8, tap("one-nonce-for-all-taps" + "%.0s"))
    assert len(same) == 1 and sum(same.values()) == 8  # eight taps, one redemption
    spread = _race(10, tap("nonce-number-%02d-of-ten"))
    assert spread["short"] == 8 and sum(spread.values()) == 10  # 70 points left: two more
    with factory() as s:
        assert loyalty.status(s, settings=settings, customer_id=cid).available == 10
        assert len(loyalty.customer_redemptions(s, customer_id=cid)) == 3
