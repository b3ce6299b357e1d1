"""Getting into the portal: signed sign-in links, sessions, "send me a link", one-time codes.

The rules, stated once:

* A sign-in link is a ``wafa.core.links`` token for the ``"portal"`` purpose, bound to one
  customer, with an expiry. It opens **once**: its digest is claimed in ``portal_links``
  (a unique key, so two clicks at the same instant cannot both sign in). Links made here
  carry the instant they were issued; messaging's 30-day links do not, and count as issued
  30 days before they expire.
* Revoking a customer's access (``revoke_access``) refuses every link issued up to that
  instant and ends every session.
* A refused link says why with its status: altered or unknown 403, expired, used or
  revoked 410. It never names the customer.
* A session is a random secret in an ``HttpOnly`` cookie; the table keeps its SHA-256 only.
* A link shown as a QR code on the cashier's screen is marked as such, and so is the session
  it opens: a cashier could scan it, so "download my data" from that session is refused and
  a link to the customer's own email or phone is offered instead (erasure already asks for a
  second link sent there).
* "Send me a link" answers the same whether or not the address is known, and is limited
  per address and per IP (counted whether or not the address is known). An email gets a
  link; a phone gets a six-digit code by SMS (five tries, ten minutes).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from wafa.core.contacts import ContactError, normalize_email, normalize_phone
from wafa.core.db import UtcDateTime, insert_ignoring_conflicts, insert_new, rowcount
from wafa.core.errors import Invalid, NotFound, WafaError
from wafa.core.ids import new_id
from wafa.core.links import LinkSigner, public_link
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.messaging import consent
from wafa.messaging.personalize import PORTAL, PORTAL_LINK_DAYS
from wafa.messaging.queue import Content, queue_message
from wafa.portal.models import PortalAccess, PortalAttempt, PortalCode, PortalLink, PortalSession
from wafa.portal.texts import LINK_MESSAGE, code_message

API_LINK_TTL = timedelta(days=7)
EMAIL_LINK_TTL = timedelta(hours=1)
COUNTER_LINK_TTL = timedelta(minutes=15)
SESSION_TTL = timedelta(days=30)
CODE_TTL = timedelta(minutes=10)
CODE_TRIES = 5
WINDOW = timedelta(minutes=15)
PER_ADDRESS = 3  # link requests per address per window
PER_IP = 10  # link requests (and wrong codes) per IP per window
_ISSUED = b"i"
_ISSUED_AT_COUNTER = b"c"
COUNTER = "counter"


class LinkRefused(WafaError):
    """A sign-in link that does not open; ``status`` says why (403 or 410)."""

    code = "portal-link"
    status = 403


class LinkGone(LinkRefused):
    status = 410


@dataclass(frozen=True)
class IssuedLink:
    url: str
    expires_at: datetime


def signer(session: Session, settings: Settings) -> LinkSigner:
    """The signer of customer links (the same key as messaging's links)."""
    return LinkSigner(consent.secret_key(session, settings))


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def safe_page(page: str | None) -> str:
    """A portal path to open after signing in; anything else is the home page."""
    if page and page.startswith("/portal/") and "//" not in page and "\\" not in page:
        return page
    return "/portal/"


def issue_link(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    ttl: timedelta = API_LINK_TTL,
    page: str | None = None,
    at_counter: bool = False,
) -> IssuedLink:
    """A sign-in link for ``customer_id`` under ``WAFA_PUBLIC_URL``, opening ``page``;
    ``at_counter``: shown on the cashier's screen (the session it opens cannot download
    the customer's data)."""
    customer = customers.get_live_customer(session, customer_id)
    now = utcnow()
    expires_at = (now + ttl).replace(microsecond=0)
    # The issue instant (for revocation) and three random bytes: two links made in one
    # second are two links, each opening once.
    mark = _ISSUED_AT_COUNTER if at_counter else _ISSUED
    extra = mark + struct.pack(">I", int(now.timestamp())) + secrets.token_bytes(3)
    token = signer(session, settings).sign(PORTAL, customer.id, expires_at=expires_at, extra=extra)
    url = public_link(settings.public_url, f"portal/login/{token}")
    target = safe_page(page)
    if target != "/portal/":
        url += "?next=" + target
    return IssuedLink(url=url, expires_at=expires_at)


def _issued_at(extra: bytes, expires_at: datetime | None) -> datetime:
    if len(extra) == 8 and extra[:1] in (_ISSUED, _ISSUED_AT_COUNTER):
        (stamp,) = struct.unpack(">I", extra[1:5])
        return datetime.fromtimestamp(stamp, UTC)
    if expires_at is None:
        return datetime(1970, 1, 1, tzinfo=UTC)
    return expires_at - timedelta(days=PORTAL_LINK_DAYS)


def sign_in(session: Session, *, settings: Settings, token: str) -> tuple[uuid.UUID, str]:
    """Open a sign-in link: ``(customer_id, session secret)``, or ``LinkRefused``.

    The link is spent in this transaction (a second use is refused, even at the same
    instant); a refused link changes nothing.
    """
    links = signer(session, settings)
    found = links.verify(PORTAL, token)
    if found is None:
        if links.is_expired(PORTAL, token):
            raise LinkGone("this sign-in link has expired", reason="expired")
        raise LinkRefused("this sign-in link is not valid", reason="invalid")
    try:
        customer = customers.get_live_customer(session, found.customer_id)
    except NotFound:
        raise LinkGone("this sign-in link no longer opens", reason="revoked") from None
    cutoff = session.scalar(
        select(func.max(PortalAccess.links_revoked_at)).where(
            PortalAccess.customer_id.in_({found.customer_id, customer.id})
        )
    )
    if cutoff is not None and _issued_at(found.extra, found.expires_at) <= cutoff:
        raise LinkGone("this sign-in link was revoked", reason="revoked")
    claimed = insert_new(
        session,
        PortalLink,
        index_elements=["digest"],
        values={"digest": found.digest, "customer_id": customer.id, "used_at": utcnow()},
    )
    if not claimed:
        raise LinkGone("this sign-in link was already used", reason="used")
    via = COUNTER if len(found.extra) == 8 and found.extra[:1] == _ISSUED_AT_COUNTER else None
    return customer.id, open_session(session, customer_id=customer.id, via=via)


def open_session(session: Session, *, customer_id: uuid.UUID, via: str | None = None) -> str:
    """Start a portal session for ``customer_id``; the secret goes in the cookie."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        PortalSession(
            id=new_id(),
            secret_hash=_digest(secret),
            customer_id=customer_id,
            created_at=now,
            expires_at=now + SESSION_TTL,
            via=via,
        )
    )
    session.flush()
    return secret


def opened_at_counter(session: Session, secret: str | None) -> bool:
    """Whether the session of this cookie was opened by a link shown at the counter."""
    if not secret or len(secret) > 100:
        return False
    via = session.scalar(
        select(PortalSession.via).where(PortalSession.secret_hash == _digest(secret))
    )
    return via == COUNTER


def session_customer(session: Session, secret: str | None) -> Customer | None:
    """The live customer of a session cookie, or ``None`` (unknown, ended, expired, erased).

    One statement for the usual case (the session with its customer); a merged record is
    followed to the surviving one."""
    found = session_customer_with(session, secret)
    return found[0] if found is not None else None


_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _session_statement(columns: tuple[Any, ...]) -> Any:
    """``columns`` of the customer a live session (not ended, not expired) names, by the
    digest of its secret: the one session check, built once per set of columns (a page
    asks on every request: building the statement cost more than sending it)."""
    stmt = _STATEMENTS.get(columns)
    if stmt is None:
        stmt = _STATEMENTS[columns] = (
            select(*columns)
            .select_from(Customer)
            .join(PortalSession, PortalSession.customer_id == Customer.id)
            .where(
                PortalSession.secret_hash == bindparam("p_digest"),
                PortalSession.ended_at.is_(None),
                PortalSession.expires_at > bindparam("p_now", type_=UtcDateTime),
            )
        )
    return stmt


def _session_params(secret: str | None) -> dict[str, Any] | None:
    """The check's parameters for a cookie's ``secret``, or ``None`` (no or a malformed one)."""
    if not secret or len(secret) > 100:
        return None
    return {"p_digest": _digest(secret), "p_now": utcnow()}


def session_customer_with(
    session: Session, secret: str | None, *extra: Any
) -> tuple[Customer, tuple[Any, ...]] | None:
    """``session_customer`` with ``extra`` columns read in the same statement (scalar
    subqueries that may name ``Customer.id``: the session's customer, before a merge is
    followed). ``None`` as ``session_customer``; after following a merge, the extras are
    read again for the surviving record."""
    params = _session_params(secret)
    if params is None:
        return None
    row = session.execute(_session_statement((Customer, *extra)), params).first()
    if row is None:
        return None
    customer: Customer = row[0]
    if customer.merged_into_id is None and customer.erased_at is None:
        return customer, tuple(row[1:])
    try:
        live = customers.get_live_customer(session, customer.id)
    except NotFound:
        return None
    if not extra:
        return live, ()
    again = session.execute(select(*extra).where(Customer.id == live.id)).one()
    return live, tuple(again)


def session_row(conn: Connection, secret: str | None, *columns: Any) -> Row[Any] | None:
    """``columns`` (of ``Customer`` or scalar subqueries naming ``Customer.id``) of the
    customer signed in by ``secret``, read in one Core statement with the session check (no
    entity is built; the statement is built once per set of columns). ``None`` when the
    secret names no live session. A merged or erased customer's row is returned as it is:
    the caller that needs the surviving record uses ``session_customer_with``."""
    params = _session_params(secret)
    if params is None:
        return None
    return conn.execute(_session_statement(columns), params).first()


def end_session(session: Session, secret: str | None) -> None:
    """Sign out this browser."""
    if secret:
        session.execute(
            update(PortalSession)
            .where(PortalSession.secret_hash == _digest(secret), PortalSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )


def revoke_access(session: Session, *, customer_id: uuid.UUID) -> None:
    """Refuse every sign-in link issued until now and end every session of the customer."""
    customer = customers.get_customer(session, customer_id)
    now = utcnow()
    session.execute(
        insert_ignoring_conflicts(session, PortalAccess, index_elements=["customer_id"]).values(
            customer_id=customer.id, links_revoked_at=now
        )
    )
    session.execute(
        update(PortalAccess)
        .where(PortalAccess.customer_id == customer.id)
        .values(links_revoked_at=now)
    )
    session.execute(
        update(PortalSession)
        .where(PortalSession.customer_id == customer.id, PortalSession.ended_at.is_(None))
        .values(ended_at=now)
    )


@dataclass(frozen=True)
class AccessStatus:
    """What staff see of a customer's portal access: browsers signed in now, the latest
    sign-in, and when access was last cancelled."""

    open_sessions: int
    last_sign_in: datetime | None
    revoked_at: datetime | None


def access_status(session: Session, *, customer_id: uuid.UUID) -> AccessStatus:
    """The customer's portal access as staff see it on the profile (two statements)."""
    now = utcnow()
    open_now = func.count().filter(PortalSession.ended_at.is_(None), PortalSession.expires_at > now)
    opened, latest = session.execute(
        select(open_now, func.max(PortalSession.created_at)).where(
            PortalSession.customer_id == customer_id
        )
    ).one()
    revoked = session.scalar(
        select(PortalAccess.links_revoked_at).where(PortalAccess.customer_id == customer_id)
    )
    return AccessStatus(open_sessions=int(opened or 0), last_sign_in=latest, revoked_at=revoked)


def send_link(
    session: Session, *, settings: Settings, customer_id: uuid.UUID, page: str | None = None
) -> str | None:
    """Send the customer a sign-in link (one hour, once, opening ``page``) by email, else by
    SMS, as a transactional message (at the counter, after enrolling; for "download my
    data" from a counter session); the channel, or ``None`` when the customer has neither
    address."""
    customer = customers.get_live_customer(session, customer_id)
    channel = "email" if customer.email else "sms" if customer.phone else None
    if channel is None:
        return None
    link = issue_link(
        session, settings=settings, customer_id=customer.id, ttl=EMAIL_LINK_TTL, page=page
    )
    queue_message(
        session,
        customer_id=customer.id,
        channel=channel,
        kind="transactional",
        reason="portal-link",
        occasion=new_id().hex,
        content=Content.model_validate(LINK_MESSAGE),
        context={"link": link.url},
    )
    return channel


def forget(session: Session, settings: Settings, customer_id: uuid.UUID) -> None:
    """Erasure: the customer's sessions, codes and spent links go."""
    for model in (PortalSession, PortalCode, PortalLink, PortalAccess):
        session.execute(delete(model).where(model.customer_id == customer_id))


# --------------------------------------------------------------------------- send me a link


@dataclass(frozen=True)
class Address:
    """What a visitor typed, read as an email address or a phone number."""

    medium: str  # "email" or "sms"
    value: str


def read_address(raw: str, *, settings: Settings) -> Address:
    """An email address or a phone number, or ``Invalid`` naming the ``address`` field."""
    text = raw.strip()
    try:
        if "@" in text:
            return Address("email", normalize_email(text))
        return Address("sms", normalize_phone(text, settings.phone_region))
    except ContactError:
        raise Invalid.field(("address",), "enter an email address or a phone number") from None


def _key(session: Session, kind: str, value: str) -> str:
    secret = consent.hash_key(session).encode()
    return hmac.new(secret, f"portal:{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _count_and_record(session: Session, kind: str, key: str, limit: int) -> bool:
    """Record one attempt; whether it is within ``limit`` per window."""
    now = utcnow()
    used = session.scalar(
        select(func.count())
        .select_from(PortalAttempt)
        .where(
            PortalAttempt.kind == kind, PortalAttempt.key == key, PortalAttempt.at > now - WINDOW
        )
    )
    session.add(PortalAttempt(id=new_id(), kind=kind, key=key, at=now))
    session.flush()
    return int(used or 0) < limit


def request_link(session: Session, *, settings: Settings, address: Address, ip: str) -> bool:
    """Send a sign-in link (email) or code (SMS) if ``address`` belongs to a customer.

    Answers the same (``True``) either way; ``False`` past the limits, which count every
    request, known or not, refused or not (the refusal is committed with its count).
    """
    by_address = _count_and_record(
        session, "address", _key(session, "a", address.value), PER_ADDRESS
    )
    by_ip = _count_and_record(session, "ip", _key(session, "ip", ip), PER_IP)
    if not (by_address and by_ip):
        return False
    found = customers.find_customer_ids_by_contact(
        session,
        email=address.value if address.medium == "email" else None,
        phone=address.value if address.medium == "sms" else None,
    )
    if not found:
        return True
    customer_id = found[0]
    occasion = new_id().hex
    if address.medium == "email":
        link = issue_link(session, settings=settings, customer_id=customer_id, ttl=EMAIL_LINK_TTL)
        queue_message(
            session,
            customer_id=customer_id,
            channel="email",
            kind="transactional",
            reason="portal-link",
            occasion=occasion,
            content=Content.model_validate(LINK_MESSAGE),
            context={"link": link.url},
        )
        return True
    code = f"{secrets.randbelow(1_000_000):06d}"
    now = utcnow()
    session.add(
        PortalCode(
            id=new_id(),
            address_key=_key(session, "a", address.value),
            customer_id=customer_id,
            code_hash=_digest(f"{address.value}:{code}"),
            created_at=now,
            expires_at=now + CODE_TTL,
            tries=0,
        )
    )
    queue_message(
        session,
        customer_id=customer_id,
        channel="sms",
        kind="transactional",
        reason="portal-code",
        occasion=occasion,
        content=Content.model_validate(code_message()),
        context={"code": code},
        expires_at=now + CODE_TTL,
    )
    session.flush()
    return True


def sign_in_with_code(
    session: Session, *, settings: Settings, address: Address, code: str, ip: str
) -> tuple[uuid.UUID, str] | None:
    """Sign in with the code sent by SMS: ``(customer_id, session secret)``, or ``None``
    for a wrong or expired code.

    The latest unexpired code of the number counts; it opens once and takes five tries.
    Tries count against the IP as link requests do. A wrong code is an answer, not an
    error, so the spent try is committed with it.
    """
    if not _count_and_record(session, "ip-code", _key(session, "ip", ip), PER_IP):
        return None
    now = utcnow()
    held = session.scalar(
        select(PortalCode)
        .where(
            PortalCode.address_key == _key(session, "a", address.value),
            PortalCode.used_at.is_(None),
            PortalCode.expires_at > now,
        )
        .order_by(PortalCode.created_at.desc())
        .limit(1)
    )
    typed = "".join(ch for ch in code if ch.isdigit())
    if held is None or held.tries >= CODE_TRIES:
        return None
    # A guarded update spends one try, so concurrent guesses cannot exceed the limit.
    spent = session.execute(
        update(PortalCode)
        .where(
            PortalCode.id == held.id, PortalCode.tries < CODE_TRIES, PortalCode.used_at.is_(None)
        )
        .values(tries=PortalCode.tries + 1)
    )
    if rowcount(spent) != 1 or not hmac.compare_digest(
        held.code_hash, _digest(f"{address.value}:{typed}")
    ):
        return None
    used = session.execute(
        update(PortalCode)
        .where(PortalCode.id == held.id, PortalCode.used_at.is_(None))
        .values(used_at=now)
    )
    if rowcount(used) != 1:
        return None
    try:
        customer = customers.get_live_customer(session, held.customer_id)
    except NotFound:
        return None
    return customer.id, open_session(session, customer_id=customer.id)
