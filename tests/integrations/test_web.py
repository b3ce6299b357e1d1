"""The connected-shops pages: owner only, the secret shown once, the log, a replay, and
every string in Arabic and Persian."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.integrations.shops import body, shopify_headers, shopify_order
from tests.web.helpers import logged_in, post_form
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.integrations import connections
from wafa.integrations.models import Connection, Delivery
from wafa.web import i18n
from wafa.web.templating import TEMPLATE_DIR

SECRET = "shpss_web_secret_01"


def test_only_the_owner_sees_the_pages(client: TestClient, session: Session) -> None:
    logged_in(client, session, role=Role.manager)
    assert client.get("/integrations").status_code == 403
    assert client.get("/integrations/deliveries").status_code == 403


def test_add_shows_the_address_and_secret_once(client: TestClient, session: Session) -> None:
    logged_in(client, session)
    page = client.get("/integrations")
    assert page.status_code == 200 and "No shop connected yet" in page.text
    added = post_form(
        client,
        "/integrations",
        {"shop": "shopify", "name": "souq", "secret": SECRET},
        page="/integrations",
    )
    assert added.status_code == 201
    assert SECRET in added.text and "/api/v1/hooks/shopify/" in added.text
    listed = client.get("/integrations")
    assert "souq" in listed.text and SECRET not in listed.text
    again = post_form(
        client, "/integrations", {"shop": "shopify", "name": "souq"}, page="/integrations"
    )
    assert again.status_code == 409 and "exists already" in again.text
    bad = post_form(client, "/integrations", {"shop": "shopify", "name": ""}, page="/integrations")
    assert bad.status_code == 422
    assert session.scalars(select(Connection.name)).all() == ["souq"]


def test_the_log_shows_a_failure_and_replays_it(
    client: TestClient, session: Session, settings: Settings
) -> None:
    path = connections.add_connection(
        session, settings=settings, shop="shopify", name="souq", secret=SECRET
    ).path
    session.flush()
    raw = body(shopify_order(currency="XXZ"))
    client.post(path, content=raw, headers=shopify_headers(SECRET, raw, "orders/create", "w-1"))
    logged_in(client, session, locale="fa")
    log = client.get("/integrations/deliveries", params={"status": "failed"})
    assert log.status_code == 200
    assert 'dir="rtl"' in log.text and ">Failed<" not in log.text
    assert "orders/create" in log.text
    delivery = session.scalar(select(Delivery))
    assert delivery is not None
    delivery.body = body(shopify_order()).decode()
    session.flush()
    replayed = post_form(
        client, f"/integrations/deliveries/{delivery.id}/replay", {}, page="/integrations"
    )
    assert replayed.status_code == 303
    session.refresh(delivery)
    assert delivery.status == "processed"
    health = client.get("/integrations")
    assert "فروشگاه‌های متصل" in health.text


def _msgids() -> set[str]:
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: set[str] = set()
    for path in (TEMPLATE_DIR / "integrations").glob("*.html"):
        for _, msg, _, _ in extract_from_file(
            "jinja2", str(path), keywords=keywords, options={"extensions": "jinja2.ext.do"}
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    web = Path(connections.__file__).with_name("web.py")
    for _, msg, _, _ in extract_from_file("python", str(web), keywords=keywords):
        found.add(msg if isinstance(msg, str) else msg[0])
    return found


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_every_string_is_translated(language: str) -> None:
    catalogue = i18n.translations(language)
    msgids = _msgids()
    assert len(msgids) > 40
    assert sorted(m for m in msgids if m not in catalogue) == []


def test_webhooks_out_page_shows_endpoints_and_replays(
    client: TestClient, session: Session, settings: Settings
) -> None:
    from wafa.integrations import outbound
    from wafa.integrations.models import Message

    created = outbound.add_endpoint(
        session, settings=settings, url="https://crm.example.com/h", topics=["*"]
    )
    message = Message(
        endpoint_id=created.endpoint.id,
        event_id=created.endpoint.id,
        topic="order.placed",
        body="{}",
        status="failed",
        attempts=8,
        last_status_code=503,
    )
    session.add(message)
    session.flush()
    logged_in(client, session, role=Role.manager)
    assert client.get("/integrations/webhooks").status_code == 403
    logged_in(client, session, locale="ar")
    page = client.get("/integrations/webhooks")
    assert page.status_code == 200
    assert "crm.example.com" in page.text and "order.placed" in page.text
    assert created.secret not in page.text
    replayed = post_form(
        client, f"/integrations/webhooks/messages/{message.id}/replay", {}, page="/integrations"
    )
    assert replayed.status_code == 303
    session.refresh(message)
    assert message.status == "pending" and message.attempts == 0


def test_a_disabled_endpoint_is_a_notice_until_enabled(
    client: TestClient, session: Session, settings: Settings
) -> None:
    from wafa.core.time import utcnow
    from wafa.integrations import outbound

    created = outbound.add_endpoint(
        session, settings=settings, url="https://crm.example.com/stopped", topics=["*"]
    )
    logged_in(client, session, locale="fa")
    assert 'role="alert"' not in client.get("/integrations").text
    created.endpoint.disabled_at = utcnow()
    created.endpoint.disabled_reason = "no 2xx answer for 8 tries over a day (last: 503)"
    session.flush()
    for path in ("/integrations", "/integrations/webhooks"):
        page = client.get(path)
        assert page.status_code == 200 and 'role="alert"' in page.text
        assert "دیگر رویدادی دریافت نمی‌کند" in page.text and "(last: 503)" in page.text
        assert f"/integrations/webhooks/{created.endpoint.id}/enable" in page.text
    enabled = post_form(
        client, f"/integrations/webhooks/{created.endpoint.id}/enable", {}, page="/integrations"
    )
    assert enabled.status_code == 303
    assert 'role="alert"' not in client.get("/integrations").text


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        ("en", "1 webhook address stopped receiving events"),
        ("ar", 'dir="rtl"'),
        ("fa", "دیگر رویدادی دریافت نمی‌کند"),
    ],
)
def test_a_disabled_endpoint_is_a_notice_on_the_overview(
    client: TestClient, session: Session, settings: Settings, locale: str, said: str
) -> None:
    """The owner sees it where they land (in their language, Arabic and Persian right to
    left); a manager, who may not enable endpoints, does not; gone once enabled."""
    from wafa.core.time import utcnow
    from wafa.integrations import outbound

    created = outbound.add_endpoint(
        session, settings=settings, url="https://crm.example.com/stopped", topics=["*"]
    )
    logged_in(client, session, locale=locale)
    assert 'role="alert"' not in client.get("/").text
    created.endpoint.disabled_at = utcnow()
    created.endpoint.disabled_reason = "no 2xx answer for 8 tries over a day (last: 503)"
    session.flush()
    page = client.get("/")
    assert page.status_code == 200 and 'role="alert"' in page.text
    assert said in page.text and "(last: 503)" in page.text
    assert f"/integrations/webhooks/{created.endpoint.id}/enable" in page.text
    kept = (
        "Its events are kept. Enable it once the receiver works, then send the failed "
        "events again from the delivery log."
    )
    translated = i18n.gettext(locale, kept)
    assert translated in page.text and (locale == "en") == (translated == kept)
    enabled = post_form(
        client, f"/integrations/webhooks/{created.endpoint.id}/enable", {}, page="/"
    )
    assert enabled.status_code == 303
    assert 'role="alert"' not in client.get("/").text
    created.endpoint.disabled_at = utcnow()
    session.flush()
    logged_in(client, session, role=Role.manager, locale=locale)
    seen = client.get("/")
    assert seen.status_code == 200 and 'role="alert"' not in seen.text
