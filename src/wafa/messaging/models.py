"""Messaging tables: messages (the send queue and its log), contents, templates, consent
per topic, suppression, per-customer preferences, the workers' heartbeats and the policy.

A message is a row before it is sent. ``(customer_id, reason, occasion)`` is unique, so
the same order confirmation or the same campaign can never be queued twice. Its status
moves ``queued -> sending -> sent | failed | skipped | unknown`` (``paused`` while its
campaign is paused); see ``wafa.messaging.pipeline`` for who moves it and when.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow


class Channel(StrEnum):
    email = "email"
    sms = "sms"
    whatsapp = "whatsapp"


class Kind(StrEnum):
    """Transactional messages (order news, complaint replies) need no marketing consent."""

    transactional = "transactional"
    marketing = "marketing"


class Topic(StrEnum):
    """What a marketing message is about; a customer may refuse one topic and keep others."""

    newsletters = "newsletters"
    offers = "offers"
    loyalty = "loyalty"
    surveys = "surveys"


class Priority(IntEnum):
    """Which marketing message wins when a frequency cap lets only one through."""

    newsletter = 10
    winback = 20
    loyalty = 30
    service = 40


class OnCap(StrEnum):
    """What happens to a marketing message a frequency cap blocks."""

    hold = "hold"
    skip = "skip"


class Status(StrEnum):
    queued = "queued"
    paused = "paused"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    skipped = "skipped"
    unknown = "unknown"


FINAL_STATUSES = frozenset({Status.sent, Status.failed, Status.skipped, Status.unknown})


class Medium(StrEnum):
    """What an address is: suppression is per address, so SMS and WhatsApp share phones."""

    email = "email"
    phone = "phone"


class SuppressionReason(StrEnum):
    hard_bounce = "hard_bounce"
    soft_bounces = "soft_bounces"
    complaint = "complaint"
    unsubscribe = "unsubscribe"
    erased = "erased"
    manual = "manual"


class SuppressionScope(StrEnum):
    """``all``: nothing is sent, transactional included; ``marketing``: marketing only."""

    all = "all"
    marketing = "marketing"


class MessageContent(Base):
    """Immutable subject, HTML and text per locale (Jinja2 source). Shared by digest."""

    __tablename__ = "message_contents"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    html: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    text: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MessageTemplate(Base):
    """A named, editable template; editing points it at a new content row, so messages
    queued before the edit keep the text they were queued with."""

    __tablename__ = "message_templates"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str | None] = mapped_column(String(16))
    content_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("message_contents.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(200))


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(80))
    occasion: Mapped[str] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer, default=int(Priority.newsletter))
    on_cap: Mapped[str] = mapped_column(String(8), default=OnCap.hold.value)
    content_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("message_contents.id"), index=True)
    template_key: Mapped[str | None] = mapped_column(String(80))
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column()
    flow_id: Mapped[uuid.UUID | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default=Status.queued.value)
    status_reason: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: When a worker took the message (``sending``); frequency caps count from here.
    sending_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: When a worker's connection was about to hand the message to the server (written and
    #: committed just before, a few messages at a time): a ``sending`` message of a stopped
    #: worker without it was never handed over and goes back to the queue.
    handed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(8))
    to_address: Mapped[str | None] = mapped_column(String(320))
    subject_line: Mapped[str | None] = mapped_column(String(300))
    sms_segments: Mapped[int | None] = mapped_column(Integer)
    provider_id: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint("customer_id", "reason", "occasion"),
        # The workers' claim: due queued messages, most important first.
        Index(
            "ix_messages_due",
            "not_before",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
        # Frequency caps and the customer's history.
        Index("ix_messages_customer_sent", "customer_id", "channel", "sending_at"),
        Index("ix_messages_campaign", "campaign_id", "status"),
        Index("ix_messages_status", "status", "settled_at"),
        Index(
            "ix_messages_due_transactional",
            "not_before",
            postgresql_where=text("status = 'queued' AND kind = 'transactional'"),
            sqlite_where=text("status = 'queued' AND kind = 'transactional'"),
        ),
        Index(
            "ix_messages_sending",
            "claimed_by",
            postgresql_where=text("status = 'sending'"),
            sqlite_where=text("status = 'sending'"),
        ),
    )


class TopicConsent(Base):
    """A customer's decision about one topic on one channel (absent: follows channel consent)."""

    __tablename__ = "message_topic_consents"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    topic: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ContactPreferences(Base):
    """What messaging keeps per customer beyond the profile: timezone, WhatsApp consent,
    the pending double opt-in of an email address."""

    __tablename__ = "message_preferences"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    whatsapp_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    whatsapp_source: Mapped[str | None] = mapped_column(String(120))
    whatsapp_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    optin_hash: Mapped[str | None] = mapped_column(String(64))
    optin_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    optin_confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    optin_source: Mapped[str | None] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Suppression(Base):
    """An address nothing (or no marketing) may be sent to, checked at send time.

    ``address_hash`` is a keyed hash of the normalised address; ``address`` is kept
    for the owner's list except for erased customers, whose address is never stored.
    """

    __tablename__ = "message_suppressions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    medium: Mapped[str] = mapped_column(String(8))
    address_hash: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(120))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("medium", "address_hash"),)


class SoftFailure(Base):
    """Consecutive temporary failures of an address; reset by a delivery."""

    __tablename__ = "message_soft_failures"

    medium: Mapped[str] = mapped_column(String(8), primary_key=True)
    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SendWorker(Base):
    """A worker process that sends; its claims lapse when it stops beating."""

    __tablename__ = "messaging_workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ChannelCheck(Base):
    """The last scheduled health check of a channel (the worker's ``messaging.channel_checks``
    task), and since when it has been failing."""

    __tablename__ = "messaging_channel_checks"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text, default="")
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class PolicyRecord(Base):
    """The business's messaging policy (caps, quiet hours, double opt-in), one row."""

    __tablename__ = "messaging_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(200))


class MessagingKey(Base):
    """Keys messaging keeps in the database: the address-hash key survives a change of the
    secret key, so suppressed addresses stay suppressed."""

    __tablename__ = "messaging_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
