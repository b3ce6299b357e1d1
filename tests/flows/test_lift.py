"""The lift report: holdout assignment stable, figures equal to a direct computation."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.flows.helpers import drain, enrolments, flow, no_limits, template
from tests.loyalty.helpers import place
from tests.messaging.helpers import subscriber
from wafa.core.settings import Settings
from wafa.flows import engine
from wafa.flows.lift import flow_lift
from wafa.messaging.campaigns.report import Z95


def approx(value: float) -> object:
    return pytest.approx(value, rel=1e-9, abs=1e-9)


def _direct(values: list[int]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, var


def test_lift_equals_a_direct_computation(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    template(session, "t.hi", "Hello")
    no_limits(session)
    hello = flow(
        session,
        "hello",
        [{"key": "hi", "type": "send", "template": "t.hi"}],
        trigger={"type": "event", "topic": "customer.created"},
        holdout_percent=40,
    )
    hello.conversion_days = 10
    people = [subscriber(session) for _ in range(30)]
    drain(session_factory, settings)
    ways = {e.customer_id: e for e in enrolments(session, hello)}
    assert {c.id for c in people} == set(ways)
    held = {cid for cid, e in ways.items() if e.holdout}
    assert held == {c.id for c in people if engine.in_holdout(hello, c.id)}
    assert 3 <= len(held) <= 27
    # Orders: some inside the window, one after it (not counted), one refunded in full.
    revenue: dict[object, int] = {c.id: 0 for c in people}
    for i, customer in enumerate(people):
        if i % 3 == 0:
            continue
        amount = 100 * (i % 7 + 1)
        place(
            session,
            customer,
            placed_at=clock.now + timedelta(days=1 + i % 5),
            lines=[{"sku": "COF-1", "name": "Coffee", "quantity": 1, "unit_price": amount}],
        )
        revenue[customer.id] += amount
    place(session, people[0], placed_at=clock.now + timedelta(days=11))  # after the window
    clock.advance(days=12)
    report = flow_lift(session, settings=settings, flow=hello)
    assert report.pending == 0
    recipients = [revenue[c.id] for c in people if c.id not in held]
    holdout = [revenue[c.id] for c in people if c.id in held]
    assert report.recipients.customers == len(recipients)
    assert report.holdout.customers == len(holdout)
    assert report.recipients.revenue == sum(recipients)
    assert report.holdout.revenue == sum(holdout)
    m1, v1 = _direct(recipients)
    m2, v2 = _direct(holdout)
    se = math.sqrt(v1 / len(recipients) + v2 / len(holdout))
    assert report.revenue.difference == approx(m1 - m2)
    assert report.revenue.low == approx(m1 - m2 - Z95 * se)
    assert report.revenue.high == approx(m1 - m2 + Z95 * se)
    buyers1 = sum(1 for v in recipients if v) / len(recipients)
    buyers2 = sum(1 for v in holdout if v) / len(holdout)
    assert report.conversion.difference == approx(buyers1 - buyers2)
