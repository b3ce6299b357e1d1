"""The bounce-back report equals a direct computation over the grants and the orders."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.loyalty.helpers import member, place
from tests.loyalty.test_bounceback import rule
from wafa.core.holdout import Z95
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import accrual, coupons
from wafa.loyalty.bounceback import report as reporting
from wafa.loyalty.models import BounceBackGrant, Coupon
from wafa.orders.models import Order
from wafa.orders.sales import is_sale


def _direct(session: Session, now: datetime) -> dict[str, Any]:
    grants = list(session.scalars(select(BounceBackGrant)))
    all_orders = list(session.scalars(select(Order)))
    out: dict[str, Any] = {
        "qualifying": len(grants),
        "issued": sum(not g.holdout for g in grants),
        "held_out": sum(g.holdout for g in grants),
        "pending": sum(g.expires_at > now for g in grants),
    }
    used = 0
    groups: dict[bool, list[tuple[int, int]]] = {True: [], False: []}
    for g in grants:
        if g.coupon_id is not None:
            coupon = session.get(Coupon, g.coupon_id, populate_existing=True)
            used += bool(coupon and coupon.uses > 0)
        if g.expires_at > now:
            continue
        back = [
            o
            for o in all_orders
            if o.customer_id == g.customer_id
            and g.valid_from <= o.placed_at < g.expires_at
            and o.currency == "USD"
            and is_sale(o.status, o.total_amount, o.refunded_amount)
        ]
        groups[g.holdout].append((len(back), sum(o.total_amount - o.refunded_amount for o in back)))
    out["used"] = used
    out["groups"] = groups
    return out


def _welch(a: list[float], b: list[float]) -> tuple[float, float, float]:
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    va = sum((x - ma) ** 2 for x in a) / (len(a) - 1)
    vb = sum((x - mb) ** 2 for x in b) / (len(b) - 1)
    se = math.sqrt(va / len(a) + vb / len(b))
    return ma - mb, ma - mb - Z95 * se, ma - mb + Z95 * se


def test_report_equals_a_direct_computation(
    session: Session, settings: Settings, clock: Any
) -> None:
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    clock.set(start)
    offer_rule = rule(session, holdout_percent=40, valid_days=5)
    people = [member(session) for _ in range(40)]
    first_orders = []
    for i, person in enumerate(people):
        clock.set(start + timedelta(minutes=i))
        order = place(session, person, placed_at=utcnow())
        accrual.accrue_order(session, settings=settings, order_id=order.id)
        first_orders.append(order)
    grants = {g.order_id: g for g in session.scalars(select(BounceBackGrant))}
    assert len(grants) == 40
    held = [g for g in grants.values() if g.holdout]
    got = [g for g in grants.values() if not g.holdout]
    assert held and got
    # Some come back: coupon holders use their coupon, some holdout customers buy anyway,
    # one comes back after the window, one comes back and cancels.
    clock.set(start + timedelta(days=2))
    for n, g in enumerate(got[:8]):
        coupon = session.get(Coupon, g.coupon_id, populate_existing=True)
        assert coupon is not None
        order = place(
            session,
            next(p for p in people if p.id == g.customer_id),
            placed_at=utcnow() + timedelta(minutes=n),
            coupon_codes=[coupon.code],
            lines=[{"sku": "X", "name": "X", "quantity": 1, "unit_price": 700 + n * 50}],
        )
        coupons.record_order_use(
            session,
            settings=settings,
            code=coupon.code,
            customer_id=g.customer_id,
            order_id=order.id,
            subtotal=order.subtotal_amount,
            now=utcnow(),
        )
    for n, g in enumerate(got[8:10] + held[:3]):
        place(
            session,
            next(p for p in people if p.id == g.customer_id),
            placed_at=utcnow() + timedelta(hours=n),
            lines=[{"sku": "Y", "name": "Y", "quantity": 2, "unit_price": 300 + n * 10}],
        )
    late = held[3] if len(held) > 3 else got[10]
    place(
        session,
        next(p for p in people if p.id == late.customer_id),
        placed_at=start + timedelta(days=30),
    )
    place(
        session,
        next(p for p in people if p.id == got[-1].customer_id),
        placed_at=start + timedelta(days=3),
        status="cancelled",
    )
    session.flush()

    # While the windows are open: counted, not compared.
    clock.set(start + timedelta(days=3))
    early = reporting.report(session, settings=settings, now=utcnow())
    assert early.pending == 40 and early.matured_issued == 0

    now = start + timedelta(days=40)
    found = reporting.report(session, settings=settings, now=now)
    direct = _direct(session, now)
    assert found.qualifying == direct["qualifying"] == 40
    assert (found.issued, found.held_out, found.pending) == (
        direct["issued"],
        direct["held_out"],
        0,
    )
    assert found.used == direct["used"] == 8
    assert found.matured_issued == len(direct["groups"][False])
    assert found.came_back_issued == sum(n > 0 for n, _ in direct["groups"][False]) == 10
    assert found.came_back_held_out == sum(n > 0 for n, _ in direct["groups"][True]) == 3
    back_got = [float(n > 0) for n, _ in direct["groups"][False]]
    back_held = [float(n > 0) for n, _ in direct["groups"][True]]
    diff, low, high = _welch(back_got, back_held)
    assert math.isclose(found.came_back.difference or 0, diff, abs_tol=1e-9)
    assert math.isclose(found.came_back.low or 0, low, abs_tol=1e-9)
    assert math.isclose(found.came_back.high or 0, high, abs_tol=1e-9)
    rev_got = [float(r) for _, r in direct["groups"][False]]
    rev_held = [float(r) for _, r in direct["groups"][True]]
    diff, low, high = _welch(rev_got, rev_held)
    assert math.isclose(found.revenue.difference or 0, diff, rel_tol=1e-9)
    assert math.isclose(found.revenue.low or 0, low, rel_tol=1e-9)

    # One rule, one period: the same purchases; a period before them: none.
    assert (
        reporting.report(session, settings=settings, rule_id=offer_rule.id, now=now).qualifying
        == 40
    )
    before = reporting.report(
        session,
        settings=settings,
        since=start.date() - timedelta(days=9),
        until=start.date() - timedelta(days=1),
        now=now,
    )
    assert before.qualifying == 0 and before.came_back.difference is None
