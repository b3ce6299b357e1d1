"""Domain events written in the same transaction as the change they describe.

Consumers read the ``outbox_events`` table and record each event they handled in
``outbox_receipts`` under a unique ``(consumer, event_id)`` key, so a handler that
runs twice (a crash between the work and the receipt, two workers) is a no-op the
second time: the receipt insert and the handler's writes share one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow


class OutboxEvent(Base):
    __tablename__ = "outbox_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    topic: Mapped[str] = mapped_column(String(64), index=True)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OutboxReceipt(Base):
    """Proof that ``consumer`` handled ``event_id``; its primary key makes replays no-ops."""

    __tablename__ = "outbox_receipts"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outbox_events.id", ondelete="CASCADE"), primary_key=True
    )
    handled_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(BigInteger, default=1)

    __table_args__ = (Index("ix_outbox_receipts_event", "event_id"),)


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def emit(
    session: Session,
    topic: str,
    payload: Mapping[str, Any],
    *,
    subject_id: uuid.UUID | None = None,
) -> OutboxEvent:
    """Add an event to the outbox in the caller's transaction (committed or rolled back with it)."""
    event = OutboxEvent(
        id=new_id(),
        topic=topic,
        subject_id=subject_id,
        payload=_jsonable(payload),
        occurred_at=utcnow(),
    )
    session.add(event)
    return event


Handler = Callable[[Session, OutboxEvent], None]


@dataclass(frozen=True)
class Consumer:
    """A named, idempotent handler of some topics."""

    name: str
    topics: frozenset[str]
    handle: Handler


def pending_events(
    session: Session, consumer: Consumer, *, limit: int = 500
) -> Sequence[OutboxEvent]:
    """Events of the consumer's topics it has no receipt for, oldest first."""
    receipted = select(OutboxReceipt.event_id).where(OutboxReceipt.consumer == consumer.name)
    stmt = (
        select(OutboxEvent)
        .where(OutboxEvent.topic.in_(consumer.topics), OutboxEvent.id.not_in(receipted))
        .order_by(OutboxEvent.id)
        .limit(limit)
    )
    return session.scalars(stmt).all()


def handle_once(session: Session, consumer: Consumer, event: OutboxEvent) -> bool:
    """Run ``consumer`` on ``event`` unless it already did; return whether it ran.

    The receipt is inserted first, inside a savepoint: a second worker racing on the
    same event fails on the receipt's primary key and skips.
    """
    try:
        with session.begin_nested():
            session.add(OutboxReceipt(consumer=consumer.name, event_id=event.id))
            session.flush()
    except IntegrityError:
        return False
    consumer.handle(session, event)
    return True
