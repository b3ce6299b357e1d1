"""Connections: add, list, pause, resume, rotate, remove; and checking a delivery's signature.

A connection's intake path carries a random token (stored as its SHA-256 digest, shown
once); the shop signs each body with the connection's secret, HMAC-SHA256 in base64
(Shopify's ``X-Shopify-Hmac-Sha256``, WooCommerce's ``X-WC-Webhook-Signature``). The
signature is checked, in constant time, before anything in the body is read. After a
rotation the old secret is still accepted for a grace period.

Secrets are stored sealed (``core.sealing``: encrypted with the installation's key ring,
never in plain text) and opened only to sign or check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.sealing import seal, unseal
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.integrations.models import Connection, Shop

__all__ = [
    "INTAKE_PREFIX",
    "Created",
    "add_connection",
    "by_token",
    "get_connection",
    "intake_path",
    "list_connections",
    "pause_connection",
    "remove_connection",
    "resume_connection",
    "rotate_secret",
    "signature",
    "token_digest",
    "verify",
]

#: Where the shops post: ``/api/v1/hooks/<shop>/<token>``.
INTAKE_PREFIX = "/api/v1/hooks"
#: How long the old secret is accepted after a rotation, unless told otherwise.
DEFAULT_GRACE = timedelta(hours=24)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: Sources Wafa itself writes orders under: a connection may not take them.
_RESERVED = frozenset({"api", "pos", "import", "demo", "shopify", "woocommerce", "generic"})


@dataclass(frozen=True, slots=True)
class Created:
    """A new connection, and what is shown once: its intake path and secret."""

    connection: Connection
    path: str
    secret: str


def token_digest(token: str) -> str:
    """How an intake token is stored (its SHA-256, hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def intake_path(shop: str, token: str) -> str:
    """The path a shop posts its webhooks to."""
    return f"{INTAKE_PREFIX}/{shop}/{token}"


def _check_secret(secret: str) -> str:
    secret = secret.strip()
    if not 8 <= len(secret) <= 500:
        raise Invalid.field(("secret",), "must be 8 to 500 characters")
    return secret


def add_connection(
    session: Session, *, settings: Settings, shop: str, name: str, secret: str | None = None
) -> Created:
    """A new connection; ``secret`` is the shop's signing secret (generated when omitted)."""
    if shop not in Shop.__members__:
        raise Invalid.field(("shop",), "use shopify or woocommerce")
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise Invalid.field(
            ("name",), "use 1 to 64 letters, digits, '.', '_' or '-', starting with one"
        )
    if name.lower() in _RESERVED:
        raise Invalid.field(("name",), f"{name!r} is reserved; choose another name")
    if session.scalar(select(Connection.id).where(Connection.name == name)) is not None:
        raise Conflict(f"a connection named {name!r} exists", name=name)
    secret = _check_secret(secret) if secret else secrets.token_urlsafe(32)
    token = secrets.token_urlsafe(24)
    connection = Connection(
        name=name, shop=shop, token_hash=token_digest(token), secret=seal(settings, secret)
    )
    session.add(connection)
    session.flush()
    return Created(connection, intake_path(shop, token), secret)


def list_connections(session: Session) -> list[Connection]:
    """Every connection by name."""
    return list(session.scalars(select(Connection).order_by(Connection.name)))


def get_connection(session: Session, name: str) -> Connection:
    """The connection called ``name``."""
    found = session.scalar(select(Connection).where(Connection.name == name))
    if found is None:
        raise NotFound(f"no connection named {name!r}", name=name)
    return found


def by_token(session: Session, shop: str, token: str) -> Connection | None:
    """The connection whose intake token is ``token`` (and whose shop is ``shop``)."""
    found = session.scalar(select(Connection).where(Connection.token_hash == token_digest(token)))
    return found if found is not None and found.shop == shop else None


def pause_connection(session: Session, name: str) -> Connection:
    """Stop taking deliveries (the shop gets 503 and retries later)."""
    connection = get_connection(session, name)
    if connection.paused_at is None:
        connection.paused_at = utcnow()
        session.flush()
    return connection


def resume_connection(session: Session, name: str) -> Connection:
    """Take deliveries again."""
    connection = get_connection(session, name)
    connection.paused_at = None
    session.flush()
    return connection


def rotate_secret(
    session: Session,
    name: str,
    *,
    settings: Settings,
    secret: str | None = None,
    grace: timedelta = DEFAULT_GRACE,
) -> tuple[Connection, str]:
    """A new signing secret; the old one is accepted for ``grace``. Returns the new one."""
    connection = get_connection(session, name)
    if grace < timedelta(0) or grace > timedelta(days=30):
        raise Invalid.field(("grace",), "must be between 0 and 30 days")
    new = _check_secret(secret) if secret else secrets.token_urlsafe(32)
    now = utcnow()
    connection.previous_secret = connection.secret
    connection.previous_until = now + grace
    connection.secret = seal(settings, new)
    connection.rotated_at = now
    session.flush()
    return connection, new


def remove_connection(session: Session, name: str) -> None:
    """Delete the connection and its delivery log (the orders it brought stay)."""
    connection = get_connection(session, name)
    session.execute(delete(Connection).where(Connection.id == connection.id))
    session.flush()


def signature(secret: str, body: bytes) -> str:
    """Base64 HMAC-SHA256 of ``body`` with ``secret``: what the shops send."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def verify(connection: Connection, body: bytes, given: str | None, *, settings: Settings) -> bool:
    """Whether ``given`` signs ``body`` with the secret, or the previous one in its grace."""
    if not given:
        return False
    given = given.strip()
    ok = hmac.compare_digest(signature(unseal(settings, connection.secret), body), given)
    previous, until = connection.previous_secret, connection.previous_until
    if previous and until is not None and utcnow() < until:
        ok |= hmac.compare_digest(signature(unseal(settings, previous), body), given)
    return ok
