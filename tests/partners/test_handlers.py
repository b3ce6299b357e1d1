"""Through the worker: an order posted to the API with a partner's reciprocal code is used
once by loyalty and attributes its new customer to the partner; the statement counts both;
the customer's profile names the partner; the person's export carries it."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.factories import order_payload
from tests.partners.helpers import partner
from tests.web.helpers import logged_in
from wafa.core.settings import Settings
from wafa.loyalty.handlers import consumer as loyalty_consumer
from wafa.partners import service
from wafa.partners.handlers import consumers
from wafa.partners.schemas import CodesIssue
from wafa.worker.batch import drain_batched


def test_a_reciprocal_code_on_an_order(
    api: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    p = partner(session, settings)
    (coupon,) = service.issue_codes(
        session,
        settings=settings,
        partner_id=p.id,
        data=CodesIssue(direction="reciprocal", count=1, kind="discount_fixed", amount=200),
        by="t",
    )
    session.flush()
    placed = api.post("/api/v1/orders", json=order_payload(coupon_codes=[coupon.code]))
    assert placed.status_code == 201, placed.text
    customer_id = uuid.UUID(placed.json()["customer_id"])
    drain_batched(session_factory, [loyalty_consumer(settings), *consumers(settings)])
    session.expire_all()
    found = service.referral_of(session, customer_id)
    assert found is not None and found[1] == p.name
    # The order is placed on 2026-03-01, its code recorded on 2026-03-15 (the clock).
    year, month = 2026, 3
    statement = service.statement(
        session, settings=settings, partner_id=p.id, year=year, month=month
    )
    assert (statement.new_customers, statement.new_customer_revenue) == (1, 900)
    assert (statement.reciprocal_codes_used, statement.reciprocal_discount) == (1, 200)
    assert service.export_customer(session, customer_id)["brought_by_partner"]
    logged_in(api, session)
    profile = api.get(f"/customers/{customer_id}")
    assert profile.status_code == 200 and "Brought by a partner" in profile.text
