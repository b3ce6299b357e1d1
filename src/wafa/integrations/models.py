"""Connections to live shops, the deliveries they send, and what each shop order last said."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow


class Shop(StrEnum):
    shopify = "shopify"
    woocommerce = "woocommerce"


class DeliveryStatus(StrEnum):
    processed = "processed"  # applied
    ignored = "ignored"  # understood, nothing to do (a stale update, an unknown topic)
    waiting = "waiting"  # a refund for an order not seen yet: applied when it arrives
    failed = "failed"  # the payload did not validate: see ``error``; replayable


class Connection(Base):
    """One shop sending webhooks: its intake token (stored hashed) and signing secrets.

    ``previous_secret`` is still accepted until ``previous_until`` (a rotation's grace).
    A paused connection answers 503 and stores nothing, so the shop retries later.
    """

    __tablename__ = "integration_connections"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    shop: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Delivery(Base):
    """One webhook received, once per ``(connection, delivery_id)``; its raw body is kept.

    The body is cleared after ``Settings``' retention (``purge_bodies``); a failed
    delivery can be replayed while it is kept.
    """

    __tablename__ = "integration_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integration_connections.id", ondelete="CASCADE")
    )
    delivery_id: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    #: What the delivery is about in the shop (an order id), for refunds that wait.
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        UniqueConstraint("connection_id", "delivery_id", name="uq_integration_deliveries_key"),
        Index("ix_integration_deliveries_recent", "connection_id", "received_at"),
        Index("ix_integration_deliveries_waiting", "connection_id", "status", "subject"),
    )


class ShopOrder(Base):
    """The newest state of one shop order Wafa applied (``updated_at``) and its line ids.

    An update whose ``updated_at`` is not newer is stale and changes nothing; ``lines``
    maps the shop's line ids to the order's line numbers (for refunds of lines).
    """

    __tablename__ = "integration_orders"

    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integration_connections.id", ondelete="CASCADE"), primary_key=True
    )
    external_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lines: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# --------------------------------------------------------------------------- out


class MessageStatus(StrEnum):
    pending = "pending"  # to be sent (or being sent: ``next_attempt_at`` is its lease)
    delivered = "delivered"  # a 2xx answer
    failed = "failed"  # every retry spent; replayable


class Endpoint(Base):
    """A receiver of Wafa's events: its URL, the topics it wants, its signing secret.

    ``secret`` is a Standard Webhooks key (``whsec_`` + base64), shown once, stored sealed.
    An endpoint whose deliveries keep failing past the retries is disabled (``disabled_at``
    and why) and the owner told once (``notified_at``).
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(200))
    topics: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    #: When the owner was told of the current disabling (at most once per disabling).
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Message(Base):
    """One event for one endpoint, sent until a 2xx answer or the retries are spent.

    ``(endpoint, event)`` is unique: the fan-out runs at least once and adds nothing the
    second time. ``ordering`` is the customer the event is about: an endpoint gets one
    customer's events in order (a later one waits while an earlier one is pending).
    """

    __tablename__ = "webhook_messages"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID] = mapped_column()
    topic: Mapped[str] = mapped_column(String(64))
    ordering: Mapped[uuid.UUID | None] = mapped_column()
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_messages_event"),
        Index("ix_webhook_messages_due", "status", "next_attempt_at"),
        Index("ix_webhook_messages_order", "endpoint_id", "ordering", "status"),
    )


class Attempt(Base):
    """One try at sending a message: when, the answer's status code or the error, how long."""

    __tablename__ = "webhook_attempts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_messages.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    milliseconds: Mapped[int] = mapped_column(Integer, default=0)
