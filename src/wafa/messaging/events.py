"""Events messaging writes to the outbox (subject: the customer), as typed models.

Written with ``wafa.core.events.emit`` (the send pipeline writes its settled messages in
bulk with ``wafa.core.events.rows``). The customer's timeline shows them; flows and
webhooks may subscribe.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from wafa.core.events import Event
from wafa.core.i18n import N_


class MessageSettled(Event):
    """A message reached a final status (one of the subclasses' topics)."""

    icon: ClassVar[str] = "mail"

    message_id: uuid.UUID
    customer_id: uuid.UUID
    channel: str
    kind: str
    reason: str
    occasion: str
    status: str
    status_reason: str | None = None
    campaign_id: uuid.UUID | None = None
    flow_id: uuid.UUID | None = None
    subject: str | None = None


class MessageSent(MessageSettled):
    """A message was accepted by its channel's server or provider."""

    topic: ClassVar[str] = "message.sent"
    label: ClassVar[str | None] = N_("Message sent")


class MessageFailed(MessageSettled):
    """A message could not be delivered (a permanent error, or retries spent)."""

    topic: ClassVar[str] = "message.failed"
    label: ClassVar[str | None] = N_("Message failed")


class MessageSkipped(MessageSettled):
    """A message was not sent, and why (``status_reason``: no consent, suppressed, a cap, ...)."""

    topic: ClassVar[str] = "message.skipped"
    label: ClassVar[str | None] = N_("Message not sent")


class MessageUnknown(MessageSettled):
    """A worker stopped between handing a message over and recording it: never re-sent."""

    topic: ClassVar[str] = "message.unknown"
    label: ClassVar[str | None] = N_("Message status unknown")


class CustomerUnsubscribed(Event):
    """A customer unsubscribed from a channel (``message_topic``: one topic, or all)."""

    topic: ClassVar[str] = "messaging.unsubscribed"
    label: ClassVar[str | None] = N_("Unsubscribed")
    icon: ClassVar[str] = "mail"

    customer_id: uuid.UUID
    channel: str
    message_topic: str | None = None  # None: the whole channel
    source: str


class AddressSuppressed(Event):
    """An address went on the suppression list (a hard bounce, a complaint, an erasure)."""

    topic: ClassVar[str] = "messaging.suppressed"
    label: ClassVar[str | None] = N_("Address suppressed")
    icon: ClassVar[str] = "mail"

    medium: str
    reason: str
    scope: str
    customer_id: uuid.UUID | None = None


class ConsentChanged(Event):
    """A customer's consent for a channel (or one topic of it) was granted or withdrawn."""

    topic: ClassVar[str] = "messaging.consent_changed"
    label: ClassVar[str | None] = N_("Message preferences changed")
    icon: ClassVar[str] = "mail"

    customer_id: uuid.UUID
    channel: str
    message_topic: str | None = None
    granted: bool
    source: str


SETTLED_EVENTS: dict[str, type[MessageSettled]] = {
    "sent": MessageSent,
    "failed": MessageFailed,
    "skipped": MessageSkipped,
    "unknown": MessageUnknown,
}
EVENTS = (
    MessageSent,
    MessageFailed,
    MessageSkipped,
    MessageUnknown,
    CustomerUnsubscribed,
    AddressSuppressed,
    ConsentChanged,
)
ALL_TOPICS = tuple(e.topic for e in EVENTS)
