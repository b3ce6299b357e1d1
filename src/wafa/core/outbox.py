"""The outbox: domain events stored in the same transaction as the change they describe.

Three tables. ``outbox_events`` holds every event (written by ``wafa.core.events.emit``).
Consumers record each event they handled in ``outbox_receipts`` under a unique
``(consumer, event_id)`` key, so a handler that runs twice (a crash between the work and
the receipt, two workers) is a no-op the second time: the receipt insert and the
handler's writes share one transaction. An event whose handler raised (or whose payload
does not parse) gets a row in ``outbox_failures`` with the error, and stays unreceipted:
the worker retries it with a growing delay, and after ``MAX_ATTEMPTS`` leaves it for the
owner to look at and retry (``wafa worker failures``, the dashboard's Worker page).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow

#: Automatic retries of a failed event before it waits for a person.
MAX_ATTEMPTS = 8


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


class OutboxFailure(Base):
    """An event ``consumer`` could not handle: the last error, how often, when to retry.

    ``retry_at`` is ``None`` once the automatic retries are spent: the event then waits
    for a person (``retry_failures``). The row is deleted when the event is handled.
    """

    __tablename__ = "outbox_failures"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outbox_events.id", ondelete="CASCADE"), primary_key=True
    )
    attempts: Mapped[int] = mapped_column(BigInteger, default=1)
    error: Mapped[str] = mapped_column(Text)
    first_failed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_failed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)

    __table_args__ = (Index("ix_outbox_failures_event", "event_id"),)


def retry_delay(attempts: int) -> timedelta | None:
    """How long to wait after the ``attempts``-th failure (1, 2, 4, ... minutes); ``None``
    once ``MAX_ATTEMPTS`` are spent."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return timedelta(minutes=2 ** (attempts - 1))


def record_failure(
    session: Session, *, consumer: str, event_id: uuid.UUID, error: str
) -> OutboxFailure:
    """Count one more failure of ``event_id`` for ``consumer`` (in the caller's transaction)."""
    now = utcnow()
    failure = session.get(OutboxFailure, (consumer, event_id))
    if failure is None:
        failure = OutboxFailure(
            consumer=consumer, event_id=event_id, attempts=0, first_failed_at=now, error=""
        )
        session.add(failure)
    failure.attempts += 1
    failure.error = error[:4000]
    failure.last_failed_at = now
    delay = retry_delay(failure.attempts)
    failure.retry_at = now + delay if delay is not None else None
    session.flush()
    return failure


def clear_failure(session: Session, *, consumer: str, event_id: uuid.UUID) -> None:
    """Forget the failures of an event that has now been handled."""
    session.execute(
        delete(OutboxFailure).where(
            OutboxFailure.consumer == consumer, OutboxFailure.event_id == event_id
        )
    )


def failures(session: Session, *, limit: int = 200) -> list[tuple[OutboxFailure, OutboxEvent]]:
    """Failed events, those waiting for a person first, then by their next retry."""
    stmt = (
        select(OutboxFailure, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == OutboxFailure.event_id)
        .order_by(OutboxFailure.retry_at.is_not(None), OutboxFailure.retry_at, OutboxEvent.id)
        .limit(limit)
    )
    return [(f, e) for f, e in session.execute(stmt)]


def retry_failures(
    session: Session, *, consumer: str | None = None, event_id: uuid.UUID | None = None
) -> int:
    """Make failed events due again now (all, one consumer's, or one event); return how many."""
    stmt = select(OutboxFailure)
    if consumer is not None:
        stmt = stmt.where(OutboxFailure.consumer == consumer)
    if event_id is not None:
        stmt = stmt.where(OutboxFailure.event_id == event_id)
    now = utcnow()
    count = 0
    for failure in session.scalars(stmt):
        failure.retry_at = now
        failure.attempts = min(failure.attempts, MAX_ATTEMPTS - 1)
        count += 1
    session.flush()
    return count
