"""A partner's code marked used by 20 cashiers at once: exactly one wins, on SQLite and
PostgreSQL (threads with their own sessions and real commits)."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import func, select

from tests.partners.helpers import offer_codes, partner
from wafa.core.db import session_factory, session_scope
from wafa.core.settings import Settings
from wafa.loyalty import coupons
from wafa.loyalty.models import CouponUse
from wafa.partners import service
from wafa.partners.models import PartnerRedemption

N = 20


def test_twenty_taps_use_a_code_once(committed_db: Settings) -> None:
    settings = committed_db
    with session_scope(settings) as s:
        p = partner(s, settings)
        (code,) = offer_codes(s, settings, p)
        pid = p.id
    factory = session_factory(settings)
    barrier = threading.Barrier(N)
    outcomes: list[str] = []
    lock = threading.Lock()

    def tap(i: int) -> None:
        barrier.wait()
        try:
            with factory() as session, session.begin():
                result = service.use_code(
                    session, partner_id=pid, code=code, ip=f"198.51.100.{i}"
                ).status
        except Exception as exc:  # an error is an outcome to count
            result = f"error:{type(exc).__name__}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=tap, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert Counter(outcomes) == Counter({"redeemed": 1, "used": N - 1}), outcomes
    with factory() as s:
        coupon = coupons.get_coupon(s, code)
        assert coupon.uses == 1
        assert s.scalar(select(func.count()).select_from(PartnerRedemption)) == 1
        assert (
            s.scalar(
                select(func.count()).select_from(CouponUse).where(CouponUse.coupon_id == coupon.id)
            )
            == 1
        )
