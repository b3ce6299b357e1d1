"""A partner's way in: a signed link (no staff account), then a session on their phone.

The same primitives as the customer portal's (``wafa.portal.access``):

* The link is a ``wafa.core.links`` token for the ``"partner"`` purpose (its own derived
  key: a portal or unsubscribe token never opens a partner page, nor the other way),
  bound to the partner's id, with an expiry and the instant it was issued.
* Unlike a customer's sign-in link it opens more than once, until it expires or is
  revoked: the partner's cashiers each open it on the counter's phone or tablet.
* Revoking (``revoke_links``) refuses every link issued up to that instant and ends every
  session the partner has; archiving a partner revokes too.
* A session is a random secret in an ``HttpOnly`` cookie; the table keeps its SHA-256.
  It lasts as long as the link that opened it, at most ``SESSION_TTL``.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wafa.core.errors import WafaError
from wafa.core.ids import new_id
from wafa.core.links import LinkSigner, public_link
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.messaging import consent
from wafa.partners.models import Partner, PartnerSession
from wafa.partners.service import get_partner

PURPOSE = "partner"
LINK_TTL = timedelta(days=90)
SESSION_TTL = timedelta(days=30)
_ISSUED = b"i"


class LinkRefused(WafaError):
    """A partner link that does not open: altered or unknown (403), expired or revoked (410)."""

    code = "partner-link"
    status = 403


class LinkGone(LinkRefused):
    status = 410


@dataclass(frozen=True)
class IssuedLink:
    url: str
    expires_at: datetime


def signer(session: Session, settings: Settings) -> LinkSigner:
    """The signer of links (the app's key; the purpose derives a key of its own)."""
    return LinkSigner(consent.secret_key(session, settings))


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def issue_link(
    session: Session, *, settings: Settings, partner_id: uuid.UUID, ttl: timedelta = LINK_TTL
) -> IssuedLink:
    """A link to the partner's page under ``WAFA_PUBLIC_URL``, good until ``ttl`` from now."""
    partner = get_partner(session, partner_id)
    if partner.archived_at is not None:
        raise LinkGone("this partner is archived", reason="revoked")
    now = utcnow()
    expires_at = (now + ttl).replace(microsecond=0)
    # The issue instant in milliseconds (for revocation) and three random bytes.
    extra = _ISSUED + struct.pack(">Q", int(now.timestamp() * 1000)) + secrets.token_bytes(3)
    token = signer(session, settings).sign(PURPOSE, partner.id, expires_at=expires_at, extra=extra)
    return IssuedLink(public_link(settings.public_url, f"partner/login/{token}"), expires_at)


def _issued_at(extra: bytes) -> datetime:
    if len(extra) == 12 and extra[:1] == _ISSUED:
        (stamp,) = struct.unpack(">Q", extra[1:9])
        return datetime.fromtimestamp(stamp / 1000, UTC)
    return datetime(1970, 1, 1, tzinfo=UTC)


def sign_in(session: Session, *, settings: Settings, token: str) -> tuple[uuid.UUID, str]:
    """Open a partner link: ``(partner_id, session secret)``, or ``LinkRefused``/``LinkGone``."""
    links = signer(session, settings)
    found = links.verify(PURPOSE, token)
    if found is None:
        if links.is_expired(PURPOSE, token):
            raise LinkGone("this link has expired", reason="expired")
        raise LinkRefused("this link is not valid", reason="invalid")
    partner = session.get(Partner, found.customer_id)
    if partner is None:
        raise LinkRefused("this link is not valid", reason="invalid")
    if partner.archived_at is not None:
        raise LinkGone("this link was revoked", reason="revoked")
    cutoff = partner.links_revoked_at
    if cutoff is not None and _issued_at(found.extra) <= cutoff.replace(
        microsecond=cutoff.microsecond // 1000 * 1000
    ):
        raise LinkGone("this link was revoked", reason="revoked")
    now = utcnow()
    ends = now + SESSION_TTL
    if found.expires_at is not None and found.expires_at < ends:
        ends = found.expires_at
    secret = secrets.token_urlsafe(32)
    session.add(
        PartnerSession(
            id=new_id(),
            secret_hash=_digest(secret),
            partner_id=partner.id,
            created_at=now,
            expires_at=ends,
        )
    )
    session.flush()
    return partner.id, secret


def session_partner(session: Session, secret: str | None) -> Partner | None:
    """The partner of a session cookie, or ``None`` (unknown, ended, expired, archived)."""
    if not secret or len(secret) > 100:
        return None
    partner_id = session.scalar(
        select(PartnerSession.partner_id).where(
            PartnerSession.secret_hash == _digest(secret),
            PartnerSession.ended_at.is_(None),
            PartnerSession.expires_at > utcnow(),
        )
    )
    if partner_id is None:
        return None
    partner = session.get(Partner, partner_id)
    if partner is None or partner.archived_at is not None:
        return None
    return partner


def end_session(session: Session, secret: str | None) -> None:
    """Sign this phone out."""
    if secret:
        session.execute(
            update(PartnerSession)
            .where(PartnerSession.secret_hash == _digest(secret), PartnerSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )


def revoke_links(session: Session, *, partner_id: uuid.UUID) -> None:
    """Refuse every link issued until now and end every session of the partner (links
    carry their issue instant to the millisecond: a link made just after still opens)."""
    partner = get_partner(session, partner_id)
    now = utcnow()
    partner.links_revoked_at = now
    session.execute(
        update(PartnerSession)
        .where(PartnerSession.partner_id == partner.id, PartnerSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    session.flush()
