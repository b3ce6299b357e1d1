"""CSRF protection for the dashboard: a per-session token on every form and JS call.

Pages for visitors without a staff account (the customer portal, a partner's counter
page) keep no server-side token: theirs is an HMAC of their session's secret under the
app's key (``visitor_csrf``), checked with the form's origin (``same_origin``).
"""

from __future__ import annotations

import hashlib
import hmac
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


def same_origin(request: Request) -> bool:
    """Whether a form came from this site: its ``Origin`` names this host, or (with no
    ``Origin``) the browser's ``Sec-Fetch-Site`` says same-origin or a typed address."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


def visitor_csrf(request: Request, purpose: str, secret: str) -> str:
    """The CSRF token of a visitor's session (``purpose``: "portal", "partner"): bound to
    the session's secret and keyed by the app's key, so no copy is stored."""
    key = str(request.app.state.secret_key).encode()
    message = f"{purpose}-csrf:".encode() + secret.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:40]


async def sent_form_token(request: Request) -> str | None:
    """The CSRF field of a posted form (``None`` for any other body); the body is kept,
    so the route and its checks can read the form again."""
    if not request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        return None
    await request.body()
    value = (await request.form()).get(CSRF_FIELD)
    return value if isinstance(value, str) else None
