"""The gatherings consumer: a merged customer's RSVPs move to the record that stays."""

from __future__ import annotations

from sqlalchemy.orm import Session

from wafa.core.events import Consumer, Envelope, Handles
from wafa.core.settings import Settings
from wafa.customers.events import CustomerMerged
from wafa.gatherings.service import move_rsvps

CONSUMER = "gatherings"


def consumers(settings: Settings) -> list[Consumer]:
    def merged(session: Session, event: CustomerMerged, _: Envelope) -> None:
        move_rsvps(session, loser_id=event.loser_id, winner_id=event.winner_id)

    return [Consumer(CONSUMER, (Handles(CustomerMerged, merged),))]
