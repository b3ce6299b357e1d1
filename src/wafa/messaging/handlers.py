"""Messaging's outbox consumer: a customer merged moves their messaging state to the
survivor; a new or updated customer whose email waits for double opt-in gets the
confirmation request."""

from __future__ import annotations

from sqlalchemy.orm import Session

from wafa.core.events import Consumer, Envelope, Handles
from wafa.core.settings import Settings
from wafa.customers.events import CustomerCreated, CustomerMerged, CustomerUpdated
from wafa.messaging import optin, preferences

CONSUMER = "messaging"


def consumer(settings: Settings) -> Consumer:
    """The messaging consumer bound to ``settings``."""

    def created(session: Session, event: CustomerCreated | CustomerUpdated, _: Envelope) -> None:
        optin.request_if_needed(session, settings=settings, customer_id=event.customer_id)

    def merged(session: Session, event: CustomerMerged, _: Envelope) -> None:
        preferences.move_to(session, loser_id=event.loser_id, winner_id=event.winner_id)

    return Consumer(
        CONSUMER,
        (
            Handles(CustomerCreated, created),
            Handles(CustomerUpdated, created),
            Handles(CustomerMerged, merged),
        ),
    )


def consumers(settings: Settings) -> list[Consumer]:
    """The consumer the worker runs."""
    return [consumer(settings)]
