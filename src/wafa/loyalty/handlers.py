"""Loyalty's outbox consumer: orders and customer events in, points and the rest out.

Each event is handled once per consumer (``outbox.handle_once`` records a receipt
in the handler's transaction); every handler is also idempotent on its own (claims
and unique keys), so a replay without a receipt changes nothing either.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from wafa.core.outbox import Consumer, OutboxEvent
from wafa.core.settings import Settings
from wafa.customers.lifecycle import CUSTOMER_ERASED, CUSTOMER_MERGED
from wafa.customers.service import CUSTOMER_CREATED, CUSTOMER_UPDATED
from wafa.loyalty import accrual, members
from wafa.orders.service import ORDER_CANCELLED, ORDER_PLACED, ORDER_REFUNDED

CONSUMER = "loyalty"
TOPICS = frozenset(
    {
        ORDER_PLACED,
        ORDER_REFUNDED,
        ORDER_CANCELLED,
        CUSTOMER_CREATED,
        CUSTOMER_UPDATED,
        CUSTOMER_MERGED,
        CUSTOMER_ERASED,
    }
)


def _uuid(payload: dict[str, Any], key: str) -> uuid.UUID | None:
    value = payload.get(key)
    return uuid.UUID(str(value)) if value else None


def handle(session: Session, event: OutboxEvent, *, settings: Settings) -> None:
    """Route one event to the loyalty rule that handles it."""
    payload = event.payload or {}
    topic = event.topic
    if topic == ORDER_PLACED:
        order_id = _uuid(payload, "order_id")
        if order_id is not None:
            accrual.accrue_order(
                session,
                settings=settings,
                order_id=order_id,
                imported=bool(payload.get("imported")),
            )
    elif topic == ORDER_REFUNDED:
        order_id = _uuid(payload, "order_id")
        refund_id = _uuid(payload, "refund_id")
        if order_id is not None:
            accrual.reconcile_order(
                session,
                settings=settings,
                order_id=order_id,
                occasion=f"refund:{refund_id or event.id}",
                refund_id=refund_id,
            )
    elif topic == ORDER_CANCELLED:
        order_id = _uuid(payload, "order_id")
        if order_id is not None:
            accrual.reconcile_order(
                session, settings=settings, order_id=order_id, occasion=f"cancel:{order_id}"
            )
    elif topic == CUSTOMER_CREATED:
        cid = _uuid(payload, "customer_id")
        if cid is not None:
            members.on_customer_created(
                session, settings=settings, customer_id=cid, source=payload.get("source")
            )
    elif topic == CUSTOMER_UPDATED:
        cid = _uuid(payload, "customer_id")
        if cid is not None:
            members.on_customer_updated(session, settings=settings, customer_id=cid)
    elif topic == CUSTOMER_MERGED:
        winner, loser = _uuid(payload, "winner_id"), _uuid(payload, "loser_id")
        if winner is not None and loser is not None:
            members.merge_members(
                session,
                settings=settings,
                winner_id=winner,
                loser_id=loser,
                merge_id=str(payload.get("merge_id") or event.id),
            )
    elif topic == CUSTOMER_ERASED:
        cid = _uuid(payload, "customer_id")
        if cid is not None:
            members.erase_member(session, settings=settings, customer_id=cid)


def consumer(settings: Settings) -> Consumer:
    """The loyalty consumer bound to ``settings`` (timezone, calendar, currency)."""

    def run(session: Session, event: OutboxEvent) -> None:
        handle(session, event, settings=settings)

    return Consumer(name=CONSUMER, topics=TOPICS, handle=run)


def consumers(settings: Settings) -> list[Consumer]:
    """What the worker drains for loyalty."""
    return [consumer(settings)]
