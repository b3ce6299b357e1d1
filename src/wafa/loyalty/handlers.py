"""Loyalty's outbox consumer: orders and customer events in, points and the rest out.

Each event is handled once per consumer (the worker records a receipt in the
handler's transaction); every handler is also idempotent on its own (claims and
unique keys), so a replay without a receipt changes nothing either. A payload that
does not parse as its event type never reaches these handlers: the worker records it
as failed and retries it, instead of receipting an event it could not read.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from wafa.core.events import Consumer, Envelope, Handles
from wafa.core.settings import Settings
from wafa.customers.events import CustomerCreated, CustomerMerged, CustomerUpdated
from wafa.loyalty import accrual, members
from wafa.orders.events import OrderCancelled, OrderPlaced, OrderRefunded

CONSUMER = "loyalty"


def consumer(settings: Settings) -> Consumer:
    """The loyalty consumer bound to ``settings`` (timezone, calendar, currency)."""

    def placed(session: Session, event: OrderPlaced, _: Envelope) -> None:
        accrual.accrue_order(
            session, settings=settings, order_id=event.order_id, imported=event.imported
        )

    def refunded(session: Session, event: OrderRefunded, _: Envelope) -> None:
        accrual.reconcile_order(
            session,
            settings=settings,
            order_id=event.order_id,
            occasion=f"refund:{event.refund_id}",
            refund_id=event.refund_id,
        )

    def cancelled(session: Session, event: OrderCancelled, _: Envelope) -> None:
        accrual.reconcile_order(
            session, settings=settings, order_id=event.order_id, occasion=f"cancel:{event.order_id}"
        )

    def created(session: Session, event: CustomerCreated, _: Envelope) -> None:
        members.on_customer_created(
            session, settings=settings, customer_id=event.customer_id, source=event.source
        )

    def updated(session: Session, event: CustomerUpdated, _: Envelope) -> None:
        members.on_customer_updated(session, settings=settings, customer_id=event.customer_id)

    def merged(session: Session, event: CustomerMerged, _: Envelope) -> None:
        members.merge_members(
            session,
            settings=settings,
            winner_id=event.winner_id,
            loser_id=event.loser_id,
            merge_id=str(event.merge_id),
        )

    return Consumer(
        CONSUMER,
        (
            Handles(OrderPlaced, placed),
            Handles(OrderRefunded, refunded),
            Handles(OrderCancelled, cancelled),
            Handles(CustomerCreated, created),
            Handles(CustomerUpdated, updated),
            Handles(CustomerMerged, merged),
        ),
    )


def consumers(settings: Settings) -> list[Consumer]:
    """What the worker drains for loyalty."""
    return [consumer(settings)]
