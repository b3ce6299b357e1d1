"""Messaging's outbox consumer: a customer merged moves their messaging state to the
survivor; a new or updated customer whose email waits for double opt-in gets the
confirmation request."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from wafa.core.outbox import Consumer, OutboxEvent
from wafa.core.settings import Settings
from wafa.customers.lifecycle import CUSTOMER_MERGED
from wafa.customers.service import CUSTOMER_CREATED, CUSTOMER_UPDATED
from wafa.messaging import optin, preferences

CONSUMER = "messaging"
TOPICS = frozenset({CUSTOMER_CREATED, CUSTOMER_UPDATED, CUSTOMER_MERGED})


def _uuid(payload: dict[str, Any], key: str) -> uuid.UUID | None:
    value = payload.get(key)
    return uuid.UUID(str(value)) if value else None


def handle(session: Session, event: OutboxEvent, *, settings: Settings) -> None:
    """Route one event."""
    payload = event.payload or {}
    if event.topic in (CUSTOMER_CREATED, CUSTOMER_UPDATED):
        customer_id = _uuid(payload, "customer_id")
        if customer_id is not None:
            optin.request_if_needed(session, settings=settings, customer_id=customer_id)
    elif event.topic == CUSTOMER_MERGED:
        winner, loser = _uuid(payload, "winner_id"), _uuid(payload, "loser_id")
        if winner is not None and loser is not None:
            preferences.move_to(session, loser_id=loser, winner_id=winner)


def consumers(settings: Settings) -> list[Consumer]:
    """The consumer the worker runs."""
    return [
        Consumer(
            name=CONSUMER,
            topics=TOPICS,
            handle=lambda session, event: handle(session, event, settings=settings),
        )
    ]
