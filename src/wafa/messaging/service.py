"""What the API and the dashboard call: send one message, read a history, the log."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from wafa.customers import service as customers
from wafa.messaging.models import Message
from wafa.messaging.queue import Content, queue_message
from wafa.messaging.schemas import MessageCreate


def send_message(session: Session, *, data: MessageCreate) -> tuple[Message, bool]:
    """Queue the message the API describes; ``(message, created)``.

    A repeat of ``(customer, reason, occasion)`` answers with the first message, whatever
    its content; the customer must exist and be neither merged nor erased.
    """
    customers.get_live_customer(session, data.customer_id)
    content = None
    if data.template is None:
        content = Content(subject=data.subject, text=data.body, html=data.html)
    return queue_message(
        session,
        customer_id=data.customer_id,
        channel=data.channel,
        kind=data.kind,
        reason=data.reason,
        occasion=data.occasion,
        content=content,
        template=data.template,
        context=data.context,
        topic=data.topic,
        priority=data.priority,
        on_cap=data.on_cap,
        not_before=data.not_before,
        expires_at=data.expires_at,
    )


def get_message(session: Session, message_id: uuid.UUID) -> Message:
    """One message by id."""
    from wafa.core.errors import NotFound

    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"message {message_id} not found")
    return message
