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

from sqlalchemy.orm import Session

from wafa.core.events import BATCH_MEMO, Consumer, Envelope, Event, Handles
from wafa.core.settings import Settings
from wafa.customers.events import CustomerErased, CustomerMerged
from wafa.messaging.segments.stats import refresh_customers
from wafa.orders.events import OrderCancelled, OrderPlaced, OrderRefunded, OrderStatusChanged

CONSUMER = "messaging-segments"
_MEMO_KEY = "segments.refreshed"


def customers_named(event: Event) -> list[uuid.UUID]:
    """The customers whose order figures ``event`` may have changed."""
    if isinstance(event, CustomerMerged):
        return [event.winner_id, event.loser_id]
    customer_id = getattr(event, "customer_id", None)
    return [customer_id] if isinstance(customer_id, uuid.UUID) else []


def refresh_named(session: Session, event: Event, *, settings: Settings) -> None:
    """Recompute the figures of the customers ``event`` names (once per worker batch)."""
    ids = customers_named(event)
    memo = session.info.get(BATCH_MEMO)
    if isinstance(memo, dict):
        done: set[uuid.UUID] = memo.setdefault(_MEMO_KEY, set())
        ids = [i for i in ids if i not in done]
        done.update(ids)
    if ids:
        refresh_customers(session, ids, currency=settings.currency)


def consumer(settings: Settings) -> Consumer:
    """The consumer bound to ``settings`` (the business currency)."""

    def run(session: Session, event: Event, _: Envelope) -> None:
        refresh_named(session, event, settings=settings)

    return Consumer(
        CONSUMER,
        tuple(
            Handles(kind, run)
            for kind in (
                OrderPlaced,
                OrderRefunded,
                OrderCancelled,
                OrderStatusChanged,
                CustomerMerged,
                CustomerErased,
            )
        ),
    )


def consumers(settings: Settings) -> list[Consumer]:
    """What the worker drains for segments."""
    return [consumer(settings)]
