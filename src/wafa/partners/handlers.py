"""Partners' outbox consumer: an order carrying a partner's reciprocal code attributes its
new customer to the partner (idempotent: one attribution per customer, a unique key)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from wafa.core.events import Consumer, Envelope, Handles
from wafa.core.settings import Settings
from wafa.orders.events import OrderPlaced
from wafa.partners import service

CONSUMER = "partners"


def consumers(settings: Settings) -> list[Consumer]:
    """What the worker drains for partners."""

    def placed(session: Session, event: OrderPlaced, _: Envelope) -> None:
        if not event.imported:
            service.attribute_order(session, order_id=event.order_id)

    return [Consumer(CONSUMER, (Handles(OrderPlaced, placed),))]
