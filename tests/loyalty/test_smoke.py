from __future__ import annotations

from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import consistent, deliver, member, place, refund, set_rules
from wafa.core.settings import Settings
from wafa.loyalty import service


def test_order_earns_pending_points(
    session: Session, settings: Settings, clock: FrozenClock
) -> None:
    set_rules(session)
    c = member(session)
    place(session, c)
    deliver(session, settings)
    s = service.status(session, settings=settings, customer_id=c.id)
    assert (s.available, s.pending) == (0, 10)
    consistent(session, c.id)
    clock.advance(days=15)
    s = service.status(session, settings=settings, customer_id=c.id)
    assert (s.available, s.pending) == (10, 0)


def test_refund_half(session: Session, settings: Settings, clock: FrozenClock) -> None:
    set_rules(session)
    c = member(session)
    o = place(session, c)
    deliver(session, settings)
    refund(session, o, lines=[{"sku": "COF-1", "quantity": 1}])
    deliver(session, settings)
    s = service.status(session, settings=settings, customer_id=c.id)
    assert (s.available, s.pending) == (0, 5)
    consistent(session, c.id)
