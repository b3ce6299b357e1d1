"""Shopify webhooks in: signatures, every topic, retries, late and early deliveries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.integrations.shops import (
    SHOPIFY_CUSTOMER,
    body,
    shopify_headers,
    shopify_order,
    shopify_refund,
)
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.integrations import connections
from wafa.integrations.models import Delivery
from wafa.orders import service as order_service
from wafa.orders.models import Order

SECRET = "shpss_0123456789abcdef"


@pytest.fixture
def intake(session: Session, settings: Settings) -> str:
    created = connections.add_connection(
        session, settings=settings, shop="shopify", name="souq", secret=SECRET
    )
    session.flush()
    return created.path


def post(
    client: TestClient,
    path: str,
    topic: str,
    payload: dict[str, Any],
    webhook_id: str,
    *,
    secret: str = SECRET,
    signature: str | None = None,
) -> Any:
    raw = body(payload)
    return client.post(
        path,
        content=raw,
        headers=shopify_headers(secret, raw, topic, webhook_id, signature=signature),
    )


def orders(session: Session) -> list[Order]:
    ids = session.scalars(select(Order.id).where(Order.source == "souq")).all()
    return [order_service.get_order(session, i) for i in ids]


def test_order_create_is_stored_once_and_listed(
    api: TestClient, intake: str, session: Session
) -> None:
    first = post(api, intake, "orders/create", shopify_order(), "wh-1")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "processed"
    again = post(api, intake, "orders/create", shopify_order(), "wh-1")
    assert again.json() == {"status": "duplicate"}
    (order,) = orders(session)
    assert order.external_id == "820982911946154508"
    assert order.number == "#1001"
    assert order.currency == "SAR"
    assert order.total_amount == 11850  # 2 x 30 + 30 + 15 shipping + 13.50 tax, in halalas
    assert [ln.sku for ln in order.lines] == ["ARB-250", "DALLAH-1"]
    customer = session.get(Customer, order.customer_id)
    assert customer is not None and customer.name == "ليلى الحربي"
    listed = api.get("/api/v1/orders", params={"q": "820982911946154508"}).json()["items"]
    assert [(o["source"], o["external_id"]) for o in listed] == [("souq", "820982911946154508")]
    placed = session.scalar(
        select(func.count()).select_from(OutboxEvent).where(OutboxEvent.topic == "order.placed")
    )
    assert placed == 1


def test_bad_or_missing_signature_is_401_and_stores_nothing(
    client: TestClient, intake: str, session: Session
) -> None:
    bad = post(client, intake, "orders/create", shopify_order(), "wh-2", secret="not-the-secret")
    assert bad.status_code == 401
    unsigned = post(client, intake, "orders/create", shopify_order(), "wh-2", signature="")
    assert unsigned.status_code == 401
    assert orders(session) == []
    assert session.scalar(select(func.count()).select_from(Delivery)) == 0
    unknown = post(client, intake + "x", "orders/create", shopify_order(), "wh-2")
    assert unknown.status_code == 404


def test_rotation_accepts_old_and_new_secret_for_the_grace(
    client: TestClient, intake: str, session: Session, settings: Settings
) -> None:
    connections.rotate_secret(session, "souq", settings=settings, secret="new-secret-0123")
    session.flush()
    assert post(client, intake, "orders/create", shopify_order(), "r-1").status_code == 200
    changed = shopify_order(id=1, name="#1002")
    ok = post(client, intake, "orders/create", changed, "r-2", secret="new-secret-0123")
    assert ok.status_code == 200
    connections.rotate_secret(
        session, "souq", settings=settings, secret="newest-secret-0", grace=timedelta(0)
    )
    session.flush()
    assert post(client, intake, "orders/create", shopify_order(id=3), "r-3").status_code == 401
    late = post(
        client, intake, "orders/create", shopify_order(id=4), "r-4", secret="new-secret-0123"
    )
    assert late.status_code == 401


def test_status_moves_forward_and_a_late_update_changes_nothing(
    client: TestClient, intake: str, session: Session
) -> None:
    paid = shopify_order(financial_status="paid", updated_at="2026-03-01T11:00:00+03:00")
    fulfilled = shopify_order(
        financial_status="paid",
        fulfillment_status="fulfilled",
        updated_at="2026-03-02T09:00:00+03:00",
        fulfillments=[{"id": 1, "created_at": "2026-03-02T09:00:00+03:00", "status": "success"}],
    )
    # The update arrives before the create, the older update after the newer one.
    assert (
        post(client, intake, "orders/fulfilled", fulfilled, "u-2").json()["status"] == "processed"
    )
    assert post(client, intake, "orders/paid", paid, "u-1").json()["status"] == "ignored"
    assert (
        post(client, intake, "orders/create", shopify_order(), "u-0").json()["status"] == "ignored"
    )
    (order,) = orders(session)
    assert order.status == "fulfilled"
    cancelled = shopify_order(
        financial_status="voided",
        cancelled_at="2026-03-03T08:00:00+03:00",
        updated_at="2026-03-03T08:00:00+03:00",
    )
    assert (
        post(client, intake, "orders/cancelled", cancelled, "u-3").json()["status"] == "processed"
    )
    (order,) = orders(session)
    assert order.status == "cancelled"


def test_a_refund_before_its_order_waits_and_is_applied_once(
    client: TestClient, intake: str, session: Session
) -> None:
    early = post(client, intake, "refunds/create", shopify_refund(), "f-1")
    assert early.json()["status"] == "waiting"
    paid = shopify_order(financial_status="paid")
    assert post(client, intake, "orders/create", paid, "f-2").json()["status"] == "processed"
    (order,) = orders(session)
    assert order.refunded_amount == 3450
    assert order.status == "partially_refunded"
    # The same refund again inside an update, and the refund webhook retried: nothing more.
    update = shopify_order(
        financial_status="partially_refunded",
        updated_at="2026-03-03T09:00:01+03:00",
        refunds=[shopify_refund()],
    )
    assert post(client, intake, "orders/updated", update, "f-3").status_code == 200
    assert post(client, intake, "refunds/create", shopify_refund(), "f-4").status_code == 200
    (order,) = orders(session)
    assert order.refunded_amount == 3450
    (line,) = [ln for ln in order.lines if ln.sku == "DALLAH-1"]
    assert line.refunded_quantity == 1
    waiting = session.scalar(select(Delivery).where(Delivery.delivery_id == "f-1"))
    assert waiting is not None and waiting.status == "processed"


def test_a_payload_that_fails_validation_is_logged_and_replayed(
    api: TestClient, intake: str, session: Session
) -> None:
    broken = shopify_order(currency="XXZ")
    answer = post(api, intake, "orders/create", broken, "v-1")
    assert answer.status_code == 200
    assert answer.json()["status"] == "failed"
    delivery = session.scalar(select(Delivery).where(Delivery.delivery_id == "v-1"))
    assert delivery is not None and "currency" in (delivery.error or "")
    assert orders(session) == []
    # The owner fixes the cause (here: the stored body stands for the shop's corrected data).
    delivery.body = body(shopify_order()).decode()
    session.flush()
    replayed = api.post(f"/api/v1/integrations/deliveries/{delivery.id}/replay")
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["status"] == "processed"
    assert len(orders(session)) == 1


def test_customers_and_privacy_topics(api: TestClient, intake: str, session: Session) -> None:
    created = post(api, intake, "customers/create", SHOPIFY_CUSTOMER, "c-1")
    assert created.json()["status"] == "processed"
    person = session.scalar(select(Customer).where(Customer.email == "dariush@example.com"))
    assert person is not None and person.name == "داریوش رضایی"
    assert person.phone == "+989121234567"
    post(api, intake, "orders/create", shopify_order(), "c-2")
    request = {
        "shop_id": 954889,
        "shop_domain": "souq-al-qahwa.myshopify.com",
        "orders_requested": [820982911946154508],
        "customer": {"id": 115310627314723954, "email": "layla@example.com", "phone": None},
        "data_request": {"id": 9999},
    }
    noted = post(api, intake, "customers/data_request", request, "c-3")
    assert noted.json()["status"] == "processed"
    redact = {
        "shop_id": 954889,
        "shop_domain": "souq-al-qahwa.myshopify.com",
        "customer": {"id": 115310627314723954, "email": "layla@example.com", "phone": None},
        "orders_to_redact": [820982911946154508],
    }
    assert post(api, intake, "customers/redact", redact, "c-4").json()["status"] == "processed"
    (order,) = orders(session)
    assert order.contact_email is None and order.contact_name is None
    layla = session.get(Customer, order.customer_id)
    assert layla is not None and layla.erased_at is not None and layla.email is None
    # Nothing kept mentions her any more; the other customer's body stays.
    kept = [d.body or "" for d in session.scalars(select(Delivery))]
    assert not any("layla@example.com" in b for b in kept)
    assert any("dariush@example.com" in b for b in kept)
    gone = post(api, intake, "shop/redact", {"shop_id": 954889, "shop_domain": "x"}, "c-5")
    assert gone.json()["status"] == "processed"
    assert all(d.body is None for d in session.scalars(select(Delivery)))
    paused = post(api, intake, "orders/create", shopify_order(id=5), "c-6")
    assert paused.status_code == 503
