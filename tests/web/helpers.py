"""Helpers for dashboard tests: staff users, logging in, CSRF tokens."""

from __future__ import annotations

import itertools
import re

from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from wafa.auth import service as auth
from wafa.auth.models import Role, StaffUser

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


def logged_in(
    client: TestClient, session: Session, *, role: Role = Role.owner, locale: str | None = None
) -> StaffUser:
    user = make_user(session, role=role, locale=locale)
    response = login(client, user)
    assert response.status_code == 303, response.text
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
