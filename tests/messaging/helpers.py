"""Shared steps of the messaging tests."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import create_customer
from wafa.customers import service as customers
from wafa.customers.models import ConsentChannel, Customer
from wafa.customers.schemas import ConsentIn
from wafa.messaging.channels import Health, Outcome, Outgoing, SendResult
from wafa.messaging.models import Message
from wafa.messaging.pipeline.worker import HANDOVER_CHUNK
from wafa.messaging.queue import Content, queue_message

#: Of twelve messages a worker hands over on one connection, those its first mark
#: covers, and the rest (the stopped-worker tests).
MARKED, REST = HANDOVER_CHUNK, 12 - HANDOVER_CHUNK

HELLO = Content(
    subject={"en": "Hello {{ customer.first_name }}", "fa": "سلام {{ customer.first_name }}"},
    text={
        "en": "Dear {{ customer.first_name }}, you have {{ points.available }} points.",
        "fa": "{{ customer.first_name }} عزیز، شما {{ points.available }} امتیاز دارید.",
    },
)


def subscriber(session: Session, **overrides: Any) -> Customer:
    """A customer who agreed to marketing email and SMS."""
    customer = create_customer(session, **overrides)
    for channel in (ConsentChannel.email, ConsentChannel.sms):
        customers.record_consent(
            session,
            customer=customer,
            consent=ConsentIn(channel=channel, granted=True, source="test"),
        )
    session.flush()
    return customer


def queue(
    session: Session,
    customer: Customer,
    *,
    kind: str = "marketing",
    reason: str = "newsletter",
    occasion: str | None = None,
    content: Content = HELLO,
    channel: str = "email",
    **options: Any,
) -> Message:
    message, _ = queue_message(
        session,
        customer_id=customer.id,
        channel=channel,
        kind=kind,
        reason=reason,
        occasion=occasion or uuid.uuid4().hex,
        content=content,
        **options,
    )
    session.flush()
    return message


def reload(session: Session, message: Message) -> Message:
    session.expire_all()
    found = session.scalar(select(Message).where(Message.id == message.id))
    assert found is not None
    return found


class Killed(BaseException):
    """What a fake channel raises to stop its worker dead (no ``except Exception`` stops it)."""


class FakeEmail:
    """An email channel at the outer edge: records what it is handed; before the ``at``-th
    hand-over (counting from 1) it calls ``then`` (which may raise :class:`Killed`)."""

    name = "fake-email"

    def __init__(self, *, at: int = 0, then: Callable[[], None] | None = None) -> None:
        self.handed: list[uuid.UUID] = []
        self.at = at
        self.then = then
        self.lock = threading.Lock()

    def send(self, message: Outgoing) -> SendResult:
        with self.lock:
            if self.then is not None and len(self.handed) + 1 == self.at:
                self.then()
            self.handed.append(message.message_id)
        return SendResult(Outcome.sent, provider_id=f"<{message.message_id}@fake>")

    def health(self) -> Health:
        return Health(True, "fake")

    def close(self) -> None:
        return None


def die() -> None:
    """Stop the worker dead (a ``FakeEmail``'s ``then``)."""
    raise Killed
