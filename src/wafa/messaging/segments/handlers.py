"""The segments' outbox consumer: keeps each customer's order figures current.

An order placed, refunded, cancelled or changed, or a merge or an erasure, names the
customers whose figures may have moved; their rows are recomputed from their orders
(:func:`wafa.messaging.segments.stats.refresh_customers`). A recomputation is
idempotent, so an event handled twice changes nothing. In a worker batch a customer is
recomputed once: every event of the batch is already committed with its order, so the
first recomputation sees them all.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from wafa.core.outbox import Consumer, OutboxEvent
from wafa.core.settings import Settings
from wafa.customers.lifecycle import CUSTOMER_ERASED, CUSTOMER_MERGED
from wafa.messaging.segments.stats import refresh_customers
from wafa.orders.service import (
    ORDER_CANCELLED,
    ORDER_PLACED,
    ORDER_REFUNDED,
    ORDER_STATUS_CHANGED,
)

CONSUMER = "messaging-segments"
TOPICS = frozenset(
    {
        ORDER_PLACED,
        ORDER_REFUNDED,
        ORDER_CANCELLED,
        ORDER_STATUS_CHANGED,
        CUSTOMER_MERGED,
        CUSTOMER_ERASED,
    }
)
# The worker's per-batch memo (see wafa.worker.batch); domains do not import the worker.
_BATCH = "wafa.batch"
_MEMO_KEY = "segments.refreshed"


def _ids(payload: dict[str, Any], *keys: str) -> list[uuid.UUID]:
    out = []
    for key in keys:
        value = payload.get(key)
        if value:
            out.append(uuid.UUID(str(value)))
    return out


def customers_named(event: OutboxEvent) -> list[uuid.UUID]:
    """The customers whose order figures ``event`` may have changed."""
    payload = event.payload or {}
    if event.topic == CUSTOMER_MERGED:
        return _ids(payload, "winner_id", "loser_id")
    return _ids(payload, "customer_id")


def handle(session: Session, event: OutboxEvent, *, settings: Settings) -> None:
    """Recompute the figures of the customers ``event`` names (once per worker batch)."""
    ids = customers_named(event)
    memo = session.info.get(_BATCH)
    if isinstance(memo, dict):
        done: set[uuid.UUID] = memo.setdefault(_MEMO_KEY, set())
        ids = [i for i in ids if i not in done]
        done.update(ids)
    if ids:
        refresh_customers(session, ids, currency=settings.currency)


def consumer(settings: Settings) -> Consumer:
    """The consumer bound to ``settings`` (the business currency)."""

    def run(session: Session, event: OutboxEvent) -> None:
        handle(session, event, settings=settings)

    return Consumer(name=CONSUMER, topics=TOPICS, handle=run)


def consumers(settings: Settings) -> list[Consumer]:
    """What the worker drains for segments."""
    return [consumer(settings)]
