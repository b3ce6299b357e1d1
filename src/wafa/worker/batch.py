"""Handling outbox events in batches: one transaction for many events, still exactly once.

Handling each event in its own transaction (``handle_once``: a savepoint for the
receipt, a commit per event) makes the bookkeeping cost as much as the work on the
worker's hot path. Here a batch of a consumer's pending events is claimed with one
``INSERT … ON CONFLICT DO NOTHING RETURNING`` of their receipts, handled in order, and
committed once: the receipts and every handler's writes commit or roll back together,
so an event is handled exactly once as before. Handlers may memoize facts that cannot
change inside the transaction in ``session.info[BATCH_MEMO]`` (``wafa.core.events``).

When a handler fails (or an event's payload does not parse as its type), the batch
rolls back and its events are handled again one per transaction, so one bad event
neither blocks nor undoes the others. The bad event gets no receipt: it is recorded in
``outbox_failures`` with its error and retried with a growing delay
(``wafa.core.outbox.retry_delay``), then left for the owner, who sees it in
``wafa worker failures`` and on the dashboard's Worker page and can retry it after a fix.

A long-running worker remembers, per consumer, a low-water mark below which every event
is handled or failed, so that each pass reads only the recent end of the outbox. Event
ids are made when an event is written, not when its transaction commits: an order placed
just before another may commit just after it, its smaller id becoming visible after the
worker has handled the larger one. The mark therefore never passes the ids made in the
last ``MARK_LAG_SECONDS`` (an event of a transaction younger than that is above the
mark when it commits), and ``wafa.worker.runner`` drops the marks now and then for a
pass over the whole outbox, which finds the events of longer transactions (a large
import). Failed events are not found by that scan but by their ``retry_at``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wafa.core.db import insert_ignoring_conflicts
from wafa.core.events import BATCH_MEMO, Consumer
from wafa.core.ids import id_floor
from wafa.core.outbox import (
    OutboxEvent,
    OutboxFailure,
    OutboxReceipt,
    clear_failure,
    record_failure,
)
from wafa.core.time import utcnow

log = logging.getLogger("wafa.worker")

#: How far behind the newest ids a consumer's low-water mark stays (see the module).
MARK_LAG_SECONDS = 600.0
_RECEIPTS = cast(Table, OutboxReceipt.__table__)


@dataclass(frozen=True)
class FailedEvent:
    """An event a consumer could not handle in this pass, and why."""

    consumer: str
    event_id: uuid.UUID
    topic: str
    error: str
    attempts: int
    gave_up: bool


@dataclass
class Drained:
    """What draining did: events handled, and the ones that failed."""

    handled: int = 0
    failed: list[FailedEvent] | None = None

    def fail(self, failure: FailedEvent) -> None:
        """Remember one failed event."""
        if self.failed is None:
            self.failed = []
        self.failed.append(failure)


def _claim(session: Session, consumer: Consumer, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    stmt = insert_ignoring_conflicts(
        session, _RECEIPTS, index_elements=["consumer", "event_id"]
    ).returning(_RECEIPTS.c.event_id)
    now = utcnow()
    rows = session.execute(
        stmt,
        [{"consumer": consumer.name, "event_id": i, "handled_at": now, "attempts": 1} for i in ids],
    ).all()
    return {row[0] for row in rows}


def handle_batch(session: Session, consumer: Consumer, ids: list[uuid.UUID]) -> int:
    """Claim and handle ``ids`` (oldest first) in the caller's transaction; returns how many."""
    session.info[BATCH_MEMO] = {}
    try:
        claimed = _claim(session, consumer, ids)
        events = session.scalars(
            select(OutboxEvent).where(OutboxEvent.id.in_(claimed)).order_by(OutboxEvent.id)
        ).all()
        consumer.handle_many(session, events)
        return len(events)
    finally:
        session.info.pop(BATCH_MEMO, None)


def handle_once(session: Session, consumer: Consumer, event: OutboxEvent) -> bool:
    """Run ``consumer`` on ``event`` unless it already did; return whether it ran.

    The receipt is inserted first, inside a savepoint: a second worker racing on the
    same event fails on the receipt's primary key and skips. A failure recorded
    earlier is cleared in the same transaction as the successful handling.
    """
    try:
        with session.begin_nested():
            session.add(OutboxReceipt(consumer=consumer.name, event_id=event.id))
            session.flush()
    except IntegrityError:
        return False
    consumer.handle(session, event)
    clear_failure(session, consumer=consumer.name, event_id=event.id)
    return True


def handle_alone(
    session_factory: Callable[[], Session], consumer: Consumer, event_id: uuid.UUID, out: Drained
) -> None:
    """Handle one event in its own transaction; on failure record it (never receipt it)."""
    try:
        with session_factory() as session, session.begin():
            event = session.get(OutboxEvent, event_id)
            if event is not None and handle_once(session, consumer, event):
                out.handled += 1
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.exception("consumer %s failed on event %s", consumer.name, event_id)
        with session_factory() as session, session.begin():
            topic = session.scalar(select(OutboxEvent.topic).where(OutboxEvent.id == event_id))
            if topic is None:
                return
            failure = record_failure(
                session, consumer=consumer.name, event_id=event_id, error=error
            )
            out.fail(
                FailedEvent(
                    consumer.name,
                    event_id,
                    topic,
                    error,
                    failure.attempts,
                    failure.retry_at is None,
                )
            )


def pending_ids(
    session: Session, consumer: Consumer, *, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """Ids of the consumer's events with neither a receipt nor a failure, oldest first.

    ``after`` is a low-water mark (every older event of the consumer is handled or
    failed), so the anti-join reads only the recent end of the outbox, not its whole
    history. Failed events come back through ``due_failures``.
    """
    receipted = (
        select(OutboxReceipt.event_id)
        .where(OutboxReceipt.consumer == consumer.name, OutboxReceipt.event_id == OutboxEvent.id)
        .exists()
    )
    failed = (
        select(OutboxFailure.event_id)
        .where(OutboxFailure.consumer == consumer.name, OutboxFailure.event_id == OutboxEvent.id)
        .exists()
    )
    stmt = select(OutboxEvent.id).where(OutboxEvent.topic.in_(consumer.topics), ~receipted, ~failed)
    if after is not None:
        stmt = stmt.where(OutboxEvent.id >= after)
    return list(session.scalars(stmt.order_by(OutboxEvent.id).limit(limit)))


def due_failures(session: Session, consumer: Consumer, *, limit: int) -> list[uuid.UUID]:
    """Failed events of ``consumer`` whose next retry is due."""
    stmt = (
        select(OutboxFailure.event_id)
        .where(
            OutboxFailure.consumer == consumer.name,
            OutboxFailure.retry_at.is_not(None),
            OutboxFailure.retry_at <= utcnow(),
        )
        .order_by(OutboxFailure.event_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def drain_batched(
    session_factory: Callable[[], Session],
    consumers: Iterable[Consumer],
    *,
    batch: int = 200,
    marks: dict[str, uuid.UUID] | None = None,
    out: Drained | None = None,
) -> int:
    """Handle every pending event of every consumer, ``batch`` events per transaction.

    ``marks`` (kept by a long-running worker between passes) remembers, per
    consumer, the oldest event that may still be pending: the oldest pending event
    seen, or the first id of ``MARK_LAG_SECONDS`` ago if that is older or nothing is
    pending (events of transactions still open may be older than what is visible now).
    Failed events due for a retry are tried first, one by one. Returns how many events
    were handled; ``out`` also collects the failures.
    """
    out = Drained() if out is None else out
    before = out.handled
    marks = {} if marks is None else marks
    for consumer in consumers:
        with session_factory() as session:
            retries = due_failures(session, consumer, limit=batch)
        for event_id in retries:
            handle_alone(session_factory, consumer, event_id, out)
        while True:
            lagging = id_floor(time.time_ns() // 1_000_000 - int(MARK_LAG_SECONDS * 1000))
            with session_factory() as session:
                ids = pending_ids(session, consumer, after=marks.get(consumer.name), limit=batch)
            if not ids:
                # Nothing visible is pending: what an open transaction may still commit
                # is younger than the lag, so the next pass need not look further back
                # (an idle worker does not read the whole outbox every pass).
                marks[consumer.name] = lagging
                break
            marks[consumer.name] = min(ids[0], lagging)
            try:
                with session_factory() as session, session.begin():
                    out.handled += handle_batch(session, consumer, ids)
            except Exception:
                # One by one, each in its own transaction: the bad event fails alone.
                for event_id in ids:
                    handle_alone(session_factory, consumer, event_id, out)
            if len(ids) < batch:
                break
    return out.handled - before


__all__ = [
    "BATCH_MEMO",
    "MARK_LAG_SECONDS",
    "Drained",
    "FailedEvent",
    "drain_batched",
    "due_failures",
    "handle_alone",
    "handle_batch",
    "handle_once",
    "pending_ids",
]
