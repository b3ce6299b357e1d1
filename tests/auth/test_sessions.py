"""Revocable staff sessions (issue 9 item 5): logout, password change, disabling and a role
change end them; an absolute lifetime; the Secure flag when configured."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock, make_settings
from tests.web.helpers import PASSWORD, csrf_token, login, make_user
from wafa.app.factory import SESSION_COOKIE, create_app
from wafa.auth import service as auth
from wafa.auth.models import Role, StaffUser
from wafa.core.settings import Settings


def _cookie(client: TestClient) -> str:
    value = client.cookies.get(SESSION_COOKIE)
    assert value
    return value


def _opens_a_page(app: FastAPI, cookie: str) -> bool:
    """Whether a browser holding only ``cookie`` gets a staff page (a copy of the cookie)."""
    with TestClient(app) as other:
        answer = other.get(
            "/customers", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, follow_redirects=False
        )
    return answer.status_code == 200


@pytest.fixture
def user(session: Session) -> StaffUser:
    return make_user(session, role=Role.manager)


def _logged_in(client: TestClient, user: StaffUser) -> str:
    answer = login(client, user)
    assert answer.status_code == 303, answer.text
    return _cookie(client)


def test_logout_ends_the_session_even_for_a_copied_cookie(
    app: FastAPI, client: TestClient, user: StaffUser
) -> None:
    cookie = _logged_in(client, user)
    assert _opens_a_page(app, cookie)
    token = csrf_token(client, "/customers")
    assert (
        client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    assert not _opens_a_page(app, cookie)


def test_a_password_change_ends_every_session(
    app: FastAPI, client: TestClient, session: Session, user: StaffUser
) -> None:
    cookie = _logged_in(client, user)
    with TestClient(app) as second:
        other = _logged_in(second, user)
    assert _opens_a_page(app, cookie) and _opens_a_page(app, other)
    auth.set_password(session, user_id=user.id, password="another-long-password")
    session.flush()
    assert not _opens_a_page(app, cookie)
    assert not _opens_a_page(app, other)
    # The API refuses the old cookie as well.
    with TestClient(app) as third:
        answer = third.get("/api/v1/customers", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"})
    assert answer.status_code == 401


@pytest.mark.parametrize("change", ["disable", "role"])
def test_disabling_or_a_new_role_ends_every_session(
    app: FastAPI, client: TestClient, session: Session, user: StaffUser, change: str
) -> None:
    cookie = _logged_in(client, user)
    assert _opens_a_page(app, cookie)
    if change == "disable":
        auth.set_active(session, user_id=user.id, active=False)
    else:
        auth.set_role(session, user_id=user.id, role=Role.cashier)
    session.flush()
    assert not _opens_a_page(app, cookie)


def test_a_session_has_an_absolute_lifetime(
    app: FastAPI, client: TestClient, user: StaffUser, clock: FrozenClock
) -> None:
    lifetime = app.state.settings.session_lifetime
    cookie = _logged_in(client, user)
    clock.advance(seconds=lifetime - 60)
    assert _opens_a_page(app, cookie)
    clock.advance(seconds=120)
    assert not _opens_a_page(app, cookie)


@pytest.fixture
def secure_app(settings: Settings, session_factory: sessionmaker[Session]) -> FastAPI:
    application = create_app(make_settings(settings.database_url, cookie_secure=True))
    application.state.write_sessions = session_factory
    application.state.read_sessions = session_factory
    return application


def test_the_cookie_is_secure_when_configured(secure_app: FastAPI, user: StaffUser) -> None:
    with TestClient(secure_app, base_url="https://testserver") as client:
        token = csrf_token(client, "/login")
        answer = client.post(
            "/login",
            data={"email": user.email, "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_secure_cookies_default_on_in_production_only(settings: Settings) -> None:
    assert not settings.secure_cookies
    production = make_settings(settings.database_url, environment="production")
    assert production.secure_cookies
    assert not make_settings(
        settings.database_url, environment="production", cookie_secure=False
    ).secure_cookies
