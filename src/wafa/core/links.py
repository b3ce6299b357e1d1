"""Signed links for customers: short, URL-safe tokens bound to a purpose and a customer.

A token is ``version | purpose-bound payload | HMAC-SHA256 tag (truncated)``, base64url
without padding. The key is derived from the secret key per purpose, so a token made
for one purpose (``"unsubscribe"``) never opens another (``"portal"``). Tokens carry
the customer id, an optional expiry (Unix seconds) and a few bytes of extra data
(a channel and a topic for unsubscribe links); they are short enough for an SMS.

Used by messaging (unsubscribe and portal links in messages) and by the customer
portal. Checking a token needs no database; revoking one (single-use sign-in links)
is the caller's business, e.g. by storing the token's ``digest``.

>>> signer = LinkSigner("k" * 40)
>>> token = signer.sign("portal", uuid.UUID(int=1), expires_at=None)
>>> signer.verify("portal", token).customer_id == uuid.UUID(int=1)
True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from wafa.core.time import utcnow

_VERSION = 1
_TAG_BYTES = 12  # 96-bit tag: forging one is out of reach, and it keeps SMS links short
_NO_EXPIRY = 0


@dataclass(frozen=True)
class LinkToken:
    """What a valid token says."""

    customer_id: uuid.UUID
    expires_at: datetime | None
    extra: bytes
    digest: str  # sha256 of the token, for callers that store used or revoked tokens


class LinkSigner:
    """Makes and checks customer link tokens with keys derived from ``secret_key``."""

    def __init__(self, secret_key: str) -> None:
        if len(secret_key) < 16:
            raise ValueError("the secret key is too short to sign links")
        self._root = hashlib.sha256(b"wafa-links\x00" + secret_key.encode()).digest()
        self._keys: dict[str, bytes] = {}

    def _key(self, purpose: str) -> bytes:
        """The purpose's key (derived once per signer: a campaign signs a link per message)."""
        key = self._keys.get(purpose)
        if key is None:
            key = hmac.new(self._root, purpose.encode(), hashlib.sha256).digest()
            self._keys[purpose] = key
        return key

    def sign(
        self,
        purpose: str,
        customer_id: uuid.UUID,
        *,
        expires_at: datetime | None,
        extra: bytes = b"",
    ) -> str:
        """A token for ``customer_id`` and ``purpose``, valid until ``expires_at`` (None: always)."""
        if len(extra) > 32:
            raise ValueError("extra data is limited to 32 bytes")
        expiry = _NO_EXPIRY if expires_at is None else int(expires_at.timestamp())
        body = struct.pack(">BI", _VERSION, expiry) + customer_id.bytes + extra
        tag = hmac.new(self._key(purpose), body, hashlib.sha256).digest()[:_TAG_BYTES]
        return base64.urlsafe_b64encode(body + tag).rstrip(b"=").decode()

    def verify(self, purpose: str, token: str, *, now: datetime | None = None) -> LinkToken | None:
        """The token's content, or ``None`` when it is forged, altered, of another purpose
        or expired. Never raises on bad input."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            return None
        if len(raw) < 5 + 16 + _TAG_BYTES or raw[0] != _VERSION:
            return None
        body, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
        expected = hmac.new(self._key(purpose), body, hashlib.sha256).digest()[:_TAG_BYTES]
        if not hmac.compare_digest(tag, expected):
            return None
        (expiry,) = struct.unpack(">I", body[1:5])
        expires_at = None if expiry == _NO_EXPIRY else datetime.fromtimestamp(expiry, UTC)
        if expires_at is not None and (now or utcnow()) >= expires_at:
            return None
        return LinkToken(
            customer_id=uuid.UUID(bytes=body[5:21]),
            expires_at=expires_at,
            extra=body[21:],
            digest=hashlib.sha256(token.encode()).hexdigest(),
        )

    def is_expired(self, purpose: str, token: str) -> bool:
        """Whether ``token`` is genuine but past its expiry (to answer 410 rather than 403)."""
        far_past = datetime(1970, 1, 2, tzinfo=UTC)
        return (
            self.verify(purpose, token) is None
            and self.verify(purpose, token, now=far_past) is not None
        )


def public_link(public_url: str, path: str) -> str:
    """``path`` under the public base URL (``WAFA_PUBLIC_URL``), segments kept URL-safe."""
    return public_url.rstrip("/") + "/" + quote(path.lstrip("/"), safe="/-_.~?=&")
