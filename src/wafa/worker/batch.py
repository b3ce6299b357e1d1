"""Handling outbox events in batches: one transaction for many events, still exactly once.

Handling each event in its own transaction (``wafa.core.outbox.handle_once``: a
savepoint for the receipt, a commit per event) makes the bookkeeping cost as much as
the work on the worker's hot path. Here a batch of a consumer's pending events is claimed with
one ``INSERT … ON CONFLICT DO NOTHING RETURNING`` of their receipts, handled in
order, and committed once: the receipts and every handler's writes commit or roll
back together, so an event is handled exactly once as before. Handlers may memoize
facts that cannot change inside the transaction in ``session.info["wafa.batch"]``.

When a handler fails, the batch rolls back and its events are handled again one
per transaction (``handle_once``), so one bad event neither blocks nor undoes the
others; its error is raised.

A long-running worker remembers, per consumer, a low-water mark below which every event
is handled, so that each pass reads only the recent end of the outbox. Event ids are
made when an event is written, not when its transaction commits: an order placed just
before another may commit just after it, its smaller id becoming visible after the
worker has handled the larger one. The mark therefore never passes the ids made in the
last ``MARK_LAG_SECONDS`` (an event of a transaction younger than that is above the
mark when it commits), and ``wafa.worker.runner`` drops the marks now and then for a
pass over the whole outbox, which finds the events of longer transactions (a large
import).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from wafa.core.db import insert_ignoring_conflicts
from wafa.core.ids import id_floor
from wafa.core.outbox import Consumer, OutboxEvent, OutboxReceipt, handle_once, pending_events
from wafa.core.time import utcnow

BATCH_MEMO = "wafa.batch"
#: How far behind the newest ids a consumer's low-water mark stays (see the module).
MARK_LAG_SECONDS = 600.0
_RECEIPTS = cast(Table, OutboxReceipt.__table__)


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
        for event in events:
            consumer.handle(session, event)
        return len(events)
    finally:
        session.info.pop(BATCH_MEMO, None)


def pending_ids(
    session: Session, consumer: Consumer, *, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """Ids of the consumer's events without a receipt, oldest first, from ``after`` on.

    ``after`` is a low-water mark (every older event of the consumer is handled),
    so the anti-join reads only the recent end of the outbox, not its whole history.
    """
    receipted = (
        select(OutboxReceipt.event_id)
        .where(OutboxReceipt.consumer == consumer.name, OutboxReceipt.event_id == OutboxEvent.id)
        .exists()
    )
    stmt = select(OutboxEvent.id).where(OutboxEvent.topic.in_(consumer.topics), ~receipted)
    if after is not None:
        stmt = stmt.where(OutboxEvent.id >= after)
    return list(session.scalars(stmt.order_by(OutboxEvent.id).limit(limit)))


def drain_batched(
    session_factory: Callable[[], Session],
    consumers: Iterable[Consumer],
    *,
    batch: int = 200,
    marks: dict[str, uuid.UUID] | None = None,
) -> int:
    """Handle every pending event of every consumer, ``batch`` events per transaction.

    ``marks`` (kept by a long-running worker between passes) remembers, per
    consumer, the oldest event that may still be pending: the oldest pending event
    seen, or the first id of ``MARK_LAG_SECONDS`` ago if that is older or nothing is
    pending (events of transactions still open may be older than what is visible now).
    """
    handled = 0
    marks = {} if marks is None else marks
    for consumer in consumers:
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
                    handled += handle_batch(session, consumer, ids)
            except Exception:
                # One by one, each in its own transaction: the bad event raises alone.
                for event_id in ids:
                    with session_factory() as session, session.begin():
                        event = session.get(OutboxEvent, event_id)
                        if event is not None and handle_once(session, consumer, event):
                            handled += 1
            if len(ids) < batch:
                break
    return handled


__all__ = [
    "BATCH_MEMO",
    "MARK_LAG_SECONDS",
    "drain_batched",
    "handle_batch",
    "pending_events",
    "pending_ids",
]
