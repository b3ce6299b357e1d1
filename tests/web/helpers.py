"""Helpers for dashboard tests: staff users, logging in, CSRF tokens."""

from __future__ import annotations

import itertools
import json
import re
from base64 import b64encode
from functools import lru_cache

from fastapi.testclient import TestClient
from httpx2 import Response
from itsdangerous import TimestampSigner
from sqlalchemy.orm import Session

from wafa.app.factory import SESSION_COOKIE
from wafa.auth import service as auth
from wafa.auth.models import Role, StaffUser
from wafa.core.security import hash_password
from wafa.core.time import utcnow

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)
_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


def make_user(
    session: Session, *, role: Role = Role.owner, locale: str | None = None, name: str | None = None
) -> StaffUser:
    user = auth.create_user(
        session,
        email=f"staff{next(_seq)}@example.com",
        password=PASSWORD,
        role=role,
        locale=locale,
        name=name,
    )
    session.flush()
    return user


def csrf_token(client: TestClient, path: str = "/login") -> str:
    """The session's CSRF token, read from a page (the cookie is kept by the client)."""
    page = client.get(path)
    found = _META.search(page.text) or _FIELD.search(page.text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def login(client: TestClient, user: StaffUser, *, password: str = PASSWORD) -> Response:
    token = csrf_token(client, "/login")
    return client.post(
        "/login",
        data={"email": user.email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


@lru_cache(maxsize=1)
def _password_hash() -> str:
    return hash_password(PASSWORD)


def logged_in(
    client: TestClient, session: Session, *, role: Role = Role.owner, locale: str | None = None
) -> StaffUser:
    """A staff user with a session cookie, as after logging in.

    The login itself is tested in test_auth.py; page tests skip its two argon2 rounds
    (a third of a second each time): the user row gets a hash computed once, and the
    browser's cookie is signed the way SessionMiddleware signs it.
    """
    user = StaffUser(
        email=f"staff{next(_seq)}@example.com",
        role=role,
        password_hash=_password_hash(),
        locale=locale,
    )
    session.add(user)
    session.flush()
    secret = client.app.state.secret_key  # type: ignore[attr-defined]
    # Logged in "in the future", so page tests that move the clock stay logged in.
    started = int(utcnow().timestamp()) + 10 * 365 * 86400
    payload = b64encode(
        json.dumps({"user_id": str(user.id), "sv": user.session_version, "iat": started}).encode()
    )
    # cookielib files a dotless host's cookies under "<host>.local": the server's
    # later Set-Cookie (logout, language) then replaces this one.
    client.cookies.set(
        SESSION_COOKIE,
        TimestampSigner(str(secret)).sign(payload).decode(),
        domain="testserver.local",
    )
    return user


def post_form(
    client: TestClient, path: str, data: dict[str, str], *, page: str = "/customers"
) -> Response:
    """POST ``data`` with the session's CSRF token, not following the redirect."""
    return client.post(
        path, data={**data, "csrf_token": csrf_token(client, page)}, follow_redirects=False
    )


def html_attrs(text: str) -> dict[str, str]:
    """The attributes of the page's <html> element."""
    found = re.search(r"<html([^>]*)>", text)
    assert found
    return dict(re.findall(r'(\w[\w-]*)="([^"]*)"', found.group(1)))
