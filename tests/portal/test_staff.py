"""Staff on the customer profile: the card of their own page (sessions, last sign-in, a
cancellation), sending a sign-in link, showing one once (the owner's), cancelling access."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.portal.helpers import link_path, member, sign_in
from tests.web.helpers import csrf_token, logged_in
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.messaging.models import Message


def _post(client: TestClient, path: str, customer_id: object) -> object:
    token = csrf_token(client, f"/customers/{customer_id}")
    return client.post(path, data={"csrf_token": token}, follow_redirects=False)


def test_a_cashier_sends_the_link_and_cannot_see_one(
    client: TestClient, session: Session, settings: Settings
) -> None:
    customer = member(session, settings, points=5, email="card@example.com")
    base = f"/portal/staff/{customer.id}"
    anonymous = client.post(f"{base}/send", follow_redirects=False)
    assert anonymous.status_code in (303, 403)
    assert session.scalars(select(Message)).all() == []

    logged_in(client, session, role=Role.cashier)
    profile = client.get(f"/customers/{customer.id}").text
    assert 'id="portal-access"' in profile
    assert f'action="{base}/send"' in profile and f'action="{base}/revoke"' in profile
    assert f'action="{base}/link"' not in profile  # showing a link is the owner's

    sent = _post(client, f"{base}/send", customer.id)
    assert sent.status_code == 303  # type: ignore[attr-defined]
    assert sent.headers["location"] == f"/customers/{customer.id}#portal-access"  # type: ignore[attr-defined]
    [message] = session.scalars(select(Message).where(Message.customer_id == customer.id)).all()
    assert (message.reason, message.channel, message.kind) == (
        "portal-link",
        "email",
        "transactional",
    )
    assert message.context["link"].startswith(settings.public_url.rstrip("/") + "/portal/login/")

    refused = _post(client, f"{base}/link", customer.id)
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert "/portal/login/" not in refused.text  # type: ignore[attr-defined]


def test_a_customer_without_email_gets_a_text_and_one_without_either_gets_nothing(
    client: TestClient, session: Session, settings: Settings
) -> None:
    texted = member(session, settings, email=None, phone="+12025550155")
    nothing = member(session, settings, email=None, phone=None)
    logged_in(client, session, role=Role.cashier)
    assert "Text them a sign-in link" in client.get(f"/customers/{texted.id}").text
    _post(client, f"/portal/staff/{texted.id}/send", texted.id)
    [sms] = session.scalars(select(Message).where(Message.customer_id == texted.id)).all()
    assert sms.channel == "sms"
    assert "No email or phone" in client.get(f"/customers/{nothing.id}").text
    _post(client, f"/portal/staff/{nothing.id}/send", nothing.id)
    assert session.scalars(select(Message).where(Message.customer_id == nothing.id)).all() == []


def test_the_owner_sees_a_link_once_and_it_opens_their_page(
    client: TestClient, session: Session, settings: Settings
) -> None:
    customer = member(session, settings, points=1234, email="once@example.com")
    logged_in(client, session, role=Role.owner)
    assert (
        f'action="/portal/staff/{customer.id}/link"' in client.get(f"/customers/{customer.id}").text
    )
    shown = _post(client, f"/portal/staff/{customer.id}/link", customer.id)
    assert shown.status_code == 200, shown.text  # type: ignore[attr-defined]
    assert shown.headers["cache-control"] == "no-store"  # type: ignore[attr-defined]
    url = shown.text.split('data-testid="portal-link"', 1)[0].rsplit('value="', 1)[1]  # type: ignore[attr-defined]
    url = url.split('"', 1)[0]
    assert url.startswith(settings.public_url.rstrip("/") + "/portal/login/")
    assert session.scalars(select(Message)).all() == []  # shown, not sent

    opened = client.get(url.removeprefix(settings.public_url.rstrip("/")), follow_redirects=False)
    assert opened.status_code == 303
    home = client.get("/portal/")
    assert home.status_code == 200 and "1,234" in home.text
    client.cookies.delete("wafa_portal")  # another browser: the link opened once already
    again = client.get(url.removeprefix(settings.public_url.rstrip("/")), follow_redirects=False)
    assert again.status_code == 410

    card = client.get(f"/customers/{customer.id}").text
    sessions = card.split('data-testid="portal-sessions">', 1)[1].split("<", 1)[0]
    assert sessions == "1"


def test_cancelling_access_signs_them_out_and_refuses_old_links(
    client: TestClient, session: Session, settings: Settings, clock: FrozenClock
) -> None:
    customer = member(session, settings, points=10, email="lost@example.com")
    sign_in(client, session, settings, customer)
    unused = link_path(session, settings, customer)
    assert client.get("/portal/").status_code == 200

    logged_in(client, session, role=Role.cashier)
    done = _post(client, f"/portal/staff/{customer.id}/revoke", customer.id)
    assert done.headers["location"] == f"/customers/{customer.id}#portal-access"  # type: ignore[attr-defined]

    out = client.get("/portal/", follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"].startswith("/portal/login")
    assert client.get(unused, follow_redirects=False).status_code == 410
    card = client.get(f"/customers/{customer.id}").text
    assert "Access cancelled" in card
    assert card.split('data-testid="portal-sessions">', 1)[1].split("<", 1)[0] == "0"
    # A link made after the cancellation opens (a new phone); links carry their issue
    # instant to the second, so one made in the same second counts as cancelled.
    clock.advance(seconds=2)
    fresh = link_path(session, settings, customer)
    assert client.get(fresh, follow_redirects=False).status_code == 303
