"""The POS card shows a QR code of a fresh sign-in link (staff only)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.portal.helpers import link_path, member
from tests.web.helpers import logged_in
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.messaging.models import Message
from wafa.portal import access


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


def _csrf(html: str) -> str:
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def test_a_page_opened_at_the_counter_cannot_download_the_data(
    client: TestClient, session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The QR code on the cashier's screen opens a session that cannot download the
    customer's data (a cashier could have scanned it); a link sent to the customer's own
    email opens one that can."""
    customer = member(session, settings, email="mine@example.com")
    shown: list[str] = []
    real = access.issue_link

    def spy(*args: Any, **kwargs: Any) -> access.IssuedLink:
        link = real(*args, **kwargs)
        shown.append(link.url)
        return link

    monkeypatch.setattr(access, "issue_link", spy)
    logged_in(client, session, role=Role.cashier)
    assert client.get(f"/portal/counter/{customer.id}.svg").status_code == 200
    [qr_link] = shown
    monkeypatch.undo()
    phone = TestClient(client.app, base_url="https://testserver")
    opened = phone.get(
        qr_link.removeprefix(settings.public_url.rstrip("/")), follow_redirects=False
    )
    assert opened.status_code == 303
    refused = phone.get("/portal/me/export.json")
    assert refused.status_code == 403 and "opened at the counter" in refused.text
    page = phone.get("/portal/preferences")
    assert 'href="/portal/me/export.json"' not in page.text
    assert 'action="/portal/me/data-link"' in page.text
    sent = phone.post(
        "/portal/me/data-link", data={"csrf_token": _csrf(page.text)}, follow_redirects=False
    )
    assert sent.status_code == 303 and "data-link=email" in sent.headers["location"]
    [message] = session.scalars(
        select(Message).where(Message.customer_id == customer.id, Message.reason == "portal-link")
    ).all()
    assert message.channel == "email" and "next=/portal/preferences" in message.context["link"]
    own = TestClient(client.app, base_url="https://testserver")
    link = message.context["link"].removeprefix(settings.public_url.rstrip("/"))
    assert own.get(link, follow_redirects=False).status_code == 303
    assert 'href="/portal/me/export.json"' in own.get("/portal/preferences").text
    download = own.get("/portal/me/export.json")
    assert download.status_code == 200 and "mine@example.com" in download.text


def test_a_link_sent_or_given_by_api_still_downloads(
    client: TestClient, session: Session, settings: Settings
) -> None:
    customer = member(session, settings, email="api@example.com")
    assert (
        client.get(link_path(session, settings, customer), follow_redirects=False).status_code
        == 303
    )
    assert client.get("/portal/me/export.json").status_code == 200
