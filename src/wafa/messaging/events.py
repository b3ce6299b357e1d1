"""Events messaging writes to the outbox (subject: the customer), as typed models.

Each is a frozen pydantic model with its ``topic``; until ``wafa.core.events`` lands
they are written with ``wafa.core.outbox.emit(session, Event.topic, event.model_dump(mode="json"))``.
The customer's timeline shows them; flows and webhooks may subscribe.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)
    topic: ClassVar[str]


class MessageSettled(Event):
    """A message reached a final status (one of the subclasses' topics)."""

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
    topic: ClassVar[str] = "message.sent"


class MessageFailed(MessageSettled):
    topic: ClassVar[str] = "message.failed"


class MessageSkipped(MessageSettled):
    topic: ClassVar[str] = "message.skipped"


class MessageUnknown(MessageSettled):
    topic: ClassVar[str] = "message.unknown"


class CustomerUnsubscribed(Event):
    topic: ClassVar[str] = "messaging.unsubscribed"

    customer_id: uuid.UUID
    channel: str
    message_topic: str | None = None  # None: the whole channel
    source: str


class AddressSuppressed(Event):
    topic: ClassVar[str] = "messaging.suppressed"

    medium: str
    reason: str
    scope: str
    customer_id: uuid.UUID | None = None


class ConsentChanged(Event):
    topic: ClassVar[str] = "messaging.consent_changed"

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
ALL_TOPICS = (
    MessageSent.topic,
    MessageFailed.topic,
    MessageSkipped.topic,
    MessageUnknown.topic,
    CustomerUnsubscribed.topic,
    AddressSuppressed.topic,
    ConsentChanged.topic,
)
