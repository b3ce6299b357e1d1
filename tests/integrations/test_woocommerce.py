"""WooCommerce webhooks in: the ping, signatures, orders, refunds, deletion, customers."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.integrations.shops import body, woo_headers, woo_order
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.integrations import connections
from wafa.integrations.models import Delivery
from wafa.orders import service as order_service
from wafa.orders.models import Order

SECRET = "wc-secret-0123456789"


@pytest.fixture
def intake(session: Session, settings: Settings) -> str:
    path = connections.add_connection(
        session, settings=settings, shop="woocommerce", name="dukkan", secret=SECRET
    ).path
    session.flush()
    return path


def post(
    client: TestClient,
    path: str,
    topic: str,
    payload: dict[str, Any],
    delivery_id: str,
    *,
    secret: str = SECRET,
) -> Any:
    raw = body(payload)
    return client.post(path, content=raw, headers=woo_headers(secret, raw, topic, delivery_id))


def the_order(session: Session) -> Order:
    (found,) = session.scalars(select(Order.id).where(Order.source == "dukkan")).all()
    return order_service.get_order(session, found)


def test_ping_is_answered_and_stores_nothing(
    client: TestClient, intake: str, session: Session
) -> None:
    ping = client.post(
        intake,
        content=b"webhook_id=12",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert ping.status_code == 200
    assert session.scalars(select(Delivery)).all() == []


def test_orders_refunds_and_deletion(client: TestClient, intake: str, session: Session) -> None:
    assert post(client, intake, "order.created", woo_order(), "d-1").json()["status"] == (
        "processed"
    )
    assert post(client, intake, "order.created", woo_order(), "d-1").json()["status"] == (
        "duplicate"
    )
    bad = post(client, intake, "order.created", woo_order(), "d-9", secret="wrong-secret")
    assert bad.status_code == 401
    order = the_order(session)
    assert (order.external_id, order.number, order.currency) == ("727", "727", "KWD")
    assert order.total_amount == 13500  # fils: 2 x 6.000 + 1.500 shipping
    assert order.status == "paid"
    assert order.placed_at.isoformat() == "2026-03-02T10:03:00+00:00"
    customer = session.get(Customer, order.customer_id)
    assert customer is not None and customer.name == "فاطمة العنزي"
    refunded = woo_order(
        status="processing",
        date_modified_gmt="2026-03-04T08:00:00",
        refunds=[{"id": 730, "reason": "تأخر التوصيل", "total": "-2.000"}],
    )
    assert post(client, intake, "order.updated", refunded, "d-2").json()["status"] == "processed"
    # An older update after the newer one changes nothing.
    stale = woo_order(status="pending", date_modified_gmt="2026-03-02T10:04:00")
    assert post(client, intake, "order.updated", stale, "d-3").json()["status"] == "ignored"
    order = the_order(session)
    assert (order.refunded_amount, order.status) == (2000, "partially_refunded")
    deleted = post(client, intake, "order.deleted", {"id": 727}, "d-4")
    assert deleted.json()["status"] == "processed"
    assert the_order(session).status == "cancelled"


def test_customer_topics(client: TestClient, intake: str, session: Session) -> None:
    customer = {
        "id": 26,
        "email": "fatima@example.com",
        "first_name": "فاطمة",
        "last_name": "العنزي",
        "billing": {"phone": "+96550012345", "city": "الكويت", "email": "fatima@example.com"},
        "shipping": {},
    }
    assert post(client, intake, "customer.created", customer, "k-1").json()["status"] == (
        "processed"
    )
    found = session.scalar(select(Customer).where(Customer.email == "fatima@example.com"))
    assert found is not None and found.phone == "+96550012345" and found.city == "الكويت"
    guest = {"id": 0, "email": "", "billing": {}}
    assert post(client, intake, "customer.updated", guest, "k-2").json()["status"] == "ignored"
