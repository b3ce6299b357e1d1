"""The POS card shows a QR code of a fresh sign-in link (staff only)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.portal.helpers import member
from tests.web.helpers import logged_in
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.messaging.models import Message


def test_the_pos_card_offers_the_qr_and_only_staff_get_it(
    client: TestClient, session: Session, settings: Settings
) -> None:
    customer = member(session, settings, points=5)
    path = f"/portal/counter/{customer.id}.svg"
    assert client.get(path, follow_redirects=False).headers["location"].startswith("/login")
    logged_in(client, session, role=Role.cashier)
    card = client.get(f"/pos/customers/{customer.id}").text
    assert f'src="{path}"' in card and 'loading="lazy"' in card
    qr = client.get(path)
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.headers["cache-control"] == "no-store" and b"<svg" in qr.content
    assert "wafa_portal" not in qr.headers.get("set-cookie", "")


def test_the_cashier_sends_the_link_by_email(
    client: TestClient, session: Session, settings: Settings
) -> None:
    customer = member(session, settings, email="counter@example.com")
    logged_in(client, session, role=Role.cashier)
    card = client.get(f"/pos?customer={customer.id}").text
    token = card.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    sent = client.post(
        f"/portal/counter/{customer.id}/send", data={"csrf_token": token}, follow_redirects=False
    )
    assert sent.headers["location"] == f"/pos?customer={customer.id}"
    [message] = session.scalars(select(Message).where(Message.customer_id == customer.id)).all()
    assert (message.reason, message.channel, message.kind) == (
        "portal-link",
        "email",
        "transactional",
    )
    assert "/portal/login/" in message.context["link"]
