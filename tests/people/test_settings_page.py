"""The owner's Settings page: stored in the database, the environment wins, the currency of
a store with orders stays, the dashboard shows the name, logo and colour."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import TEST_SECRET
from tests.factories import create_order
from tests.web.helpers import csrf_token, logged_in, post_form
from wafa.app.factory import create_app
from wafa.auth import business
from wafa.auth.models import Role, SystemSetting
from wafa.core.db import session_scope
from wafa.core.settings import Settings


def _base(settings: Settings, **pinned: str) -> Settings:
    """Settings as a deployment that sets only its database (and ``pinned``) would read."""
    return Settings.model_validate(
        {
            "database_url": settings.database_url,
            "environment": "test",
            "secret_key": TEST_SECRET,
            **pinned,
        }
    )


def _client(
    settings: Settings, session_factory: sessionmaker[Session], **pinned: str
) -> Iterator[TestClient]:
    application = create_app(_base(settings, **pinned))
    application.state.write_sessions = session_factory
    application.state.read_sessions = session_factory
    with TestClient(application) as c:
        yield c


@pytest.fixture
def owner_client(
    settings: Settings, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    yield from _client(settings, session_factory)


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x0d\x7a\x68")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


FORM = {
    "business_name": "Café Sara",
    "brand_colour": "#8a2be2",
    "currency": "EUR",
    "timezone": "Asia/Tehran",
    "locale": "fa",
    "calendar": "jalali",
    "phone_region": "ir",
}


def test_the_owner_saves_and_the_dashboard_uses_them(
    owner_client: TestClient, session: Session
) -> None:
    logged_in(owner_client, session, role=Role.owner)
    page = owner_client.get("/settings")
    assert page.status_code == 200
    assert 'href="/settings"' in page.text  # in the navigation
    saved = post_form(owner_client, "/settings", FORM, page="/settings")
    assert saved.status_code == 303, saved.text
    stored = business.stored(session)
    assert stored["business_name"] == "Café Sara"
    assert stored["currency"] == "EUR" and stored["phone_region"] == "IR"
    home = owner_client.get("/customers")
    assert "Café Sara" in home.text  # the sidebar's name
    assert "--brand: #8a2be2" in home.text  # the colour
    again = owner_client.get("/settings")
    assert 'value="Asia/Tehran"' in again.text


def test_other_roles_may_not_open_it(owner_client: TestClient, session: Session) -> None:
    logged_in(owner_client, session, role=Role.manager)
    assert owner_client.get("/settings").status_code == 403
    assert 'href="/settings"' not in owner_client.get("/customers").text


def test_a_store_with_orders_keeps_its_currency(owner_client: TestClient, session: Session) -> None:
    create_order(session)  # in USD, the default
    logged_in(owner_client, session, role=Role.owner)
    page = owner_client.get("/settings")
    assert "Fixed: the store has orders" in page.text
    refused = post_form(owner_client, "/settings", FORM, page="/settings")
    assert refused.status_code == 409
    assert "The store has orders in USD, so its currency cannot change" in refused.text
    assert business.stored(session) == {}  # nothing of the form was kept
    same = post_form(owner_client, "/settings", {**FORM, "currency": "USD"}, page="/settings")
    assert same.status_code == 303
    assert business.stored(session)["business_name"] == "Café Sara"


def test_bad_values_are_named_and_nothing_is_written(
    owner_client: TestClient, session: Session
) -> None:
    logged_in(owner_client, session, role=Role.owner)
    bad = {**FORM, "timezone": "Mars/Olympus", "brand_colour": "purple", "currency": "XYZ"}
    refused = post_form(owner_client, "/settings", bad, page="/settings")
    assert refused.status_code == 422
    assert "Enter a timezone, like Asia/Tehran" in refused.text
    assert "Enter a colour as # and six hexadecimal digits" in refused.text
    assert "Enter a currency code, like USD" in refused.text
    assert session.scalars(select(SystemSetting.key)).all() == []


def test_the_environment_wins_and_the_page_says_so(committed_db: Settings) -> None:
    with session_scope(committed_db) as s:
        s.add(SystemSetting(key="business:business_name", value="Stored name"))
        s.add(SystemSetting(key="business:timezone", value="Asia/Tehran"))
    application = create_app(_base(committed_db, business_name="From the environment"))
    with TestClient(application) as client:
        state = application.state
        assert state.settings.business_name == "From the environment"
        assert state.settings.timezone == "Asia/Tehran"  # not pinned: the stored value
        with session_scope(committed_db) as s:
            logged_in(client, s, role=Role.owner)
        page = client.get("/settings")
        assert "environment (WAFA_BUSINESS_NAME), which wins over this page" in page.text
        refused = post_form(
            client, "/settings", {**FORM, "business_name": "Other"}, page="/settings"
        )
        assert refused.status_code == 422
        assert "which wins over this page" in refused.text


def test_a_logo_is_kept_served_and_shown(owner_client: TestClient, session: Session) -> None:
    logged_in(owner_client, session, role=Role.owner)
    token = csrf_token(owner_client, "/settings")
    sent = owner_client.post(
        "/settings/logo",
        data={"csrf_token": token},
        files={"logo": ("logo.png", _png(), "image/png")},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    image = owner_client.get("/branding/logo")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert 'class="brand-logo" src="/branding/logo?v=' in owner_client.get("/customers").text
    script = owner_client.post(
        "/settings/logo",
        data={"csrf_token": token},
        files={"logo": ("x.svg", b"<svg onload='alert(1)'/>", "image/svg+xml")},
        follow_redirects=False,
    )
    assert script.status_code == 422
    assert "The logo must be a PNG, JPEG or WebP image." in script.text


class TestOtherProcessesSeeTheChange:
    """Two server processes on one database: what the owner saves through one is in force in
    the other at its next request, with no restart (``wafa.app.live_settings``)."""

    def test_names_colours_and_logos_reach_the_other_app(self, committed_db: Settings) -> None:
        saving, other = create_app(_base(committed_db)), create_app(_base(committed_db))
        with TestClient(saving) as a, TestClient(other) as b:
            with session_scope(committed_db) as s:
                logged_in(a, s, role=Role.owner)
            with session_scope(committed_db) as s:
                logged_in(b, s, role=Role.owner)
            assert "Café Sara" not in b.get("/customers").text
            saved = post_form(a, "/settings", FORM, page="/settings")
            assert saved.status_code == 303, saved.text
            seen = b.get("/customers").text
            assert "Café Sara" in seen and "--brand: #8a2be2" in seen
            assert other.state.settings.timezone == "Asia/Tehran"
            assert other.state.settings.currency == "EUR"
            assert 'class="brand-logo"' not in seen
            sent = a.post(
                "/settings/logo",
                data={"csrf_token": csrf_token(a, "/settings")},
                files={"logo": ("logo.png", _png(), "image/png")},
                follow_redirects=False,
            )
            assert sent.status_code == 303, sent.text
            assert 'class="brand-logo" src="/branding/logo?v=' in b.get("/customers").text
            # and back: the other app changes the name, the first one follows
            renamed = post_form(
                b, "/settings", {**FORM, "business_name": "Sara's"}, page="/settings"
            )
            assert renamed.status_code == 303, renamed.text
            assert "Sara&#39;s" in a.get("/customers").text

    def test_an_unchanged_store_is_not_read_again(self, committed_db: Settings) -> None:
        from wafa.app import live_settings

        application = create_app(_base(committed_db))
        state = application.state
        assert state.settings_version is None  # nothing was ever saved
        assert live_settings.refresh(state) is False
        with session_scope(committed_db) as s:
            business.save(
                s,
                base=state.base_settings,
                values={"business_name": "Elsewhere"},
                orders_exist=False,
            )
        assert live_settings.refresh(state) is True
        assert state.settings.business_name == "Elsewhere"
        assert live_settings.refresh(state) is False
