"""The portal's tables: spent sign-in links, revocations, customer sessions, one-time
codes and the attempts that rate-limit "send me a link".

Nothing here holds a customer's data beyond their id: addresses and IP addresses are kept
only as keyed hashes (``key``), long enough to count attempts.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id


class PortalLink(Base):
    """A sign-in link that was used: its token's digest is unique, so it opens once."""

    __tablename__ = "portal_links"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    used_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PortalAccess(Base):
    """A customer's revocation: links issued up to ``links_revoked_at`` no longer open."""

    __tablename__ = "portal_access"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    links_revoked_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PortalSession(Base):
    """A signed-in browser: the cookie holds a random secret, the table its hash."""

    __tablename__ = "portal_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: How it was opened: ``"counter"`` by the QR code on the cashier's screen (which a
    #: cashier could scan), else ``None``. A counter session cannot download the data.
    via: Mapped[str | None] = mapped_column(String(16))


class PortalCode(Base):
    """A one-time code sent by SMS to sign in from a phone number."""

    __tablename__ = "portal_codes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    address_key: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PortalAttempt(Base):
    """One request for a link or one code tried, counted per address and per IP."""

    __tablename__ = "portal_attempts"
    __table_args__ = (Index("ix_portal_attempts_key_at", "kind", "key", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class PortalSubmission(Base):
    """A form sent from the portal, by its one-time nonce: a second send (a double tap, a
    reload) finds the first one's result instead of doing the work again."""

    __tablename__ = "portal_submissions"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    result_id: Mapped[uuid.UUID | None] = mapped_column()
    at: Mapped[datetime] = mapped_column(UtcDateTime)
