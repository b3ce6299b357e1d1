"""CSRF protection for the dashboard: a per-session token on every form and JS call."""

from __future__ import annotations

import secrets

from fastapi import Request

from wafa.core.errors import Forbidden
from wafa.core.security import constant_time_equal

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class CsrfFailed(Forbidden):
    code = "csrf"


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return str(token)


def check_csrf_value(request: Request, value: str | None) -> None:
    """Refuse unless ``value`` equals the session's token."""
    expected = request.session.get(CSRF_FIELD)
    if not expected or not value or not constant_time_equal(str(expected), value):
        raise CsrfFailed("the form expired or did not come from this site; reload and try again")


def check_csrf_header(request: Request) -> None:
    """For JavaScript calls made with the session cookie: the token travels in a header."""
    check_csrf_value(request, request.headers.get(CSRF_HEADER))
