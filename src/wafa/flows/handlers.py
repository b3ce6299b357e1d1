"""The flows consumer: an outbox event enters its customer into the flows it starts.

The customer is entered (keyed on the event's id, so a replay enters nobody twice) and
the steps that are due at once run in the same transaction as the event's receipt: an
order confirmation is queued while the worker handles ``order.placed`` and goes out in
the same worker pass.

History is not news: an imported order, or one placed more than ``STALE_AFTER`` ago
(a late webhook, a back-filled record), starts no flow.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wafa.core.events import Consumer, Envelope, Event, Handles
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers.events import CustomerCreated
from wafa.flows.engine import advance, definition_of, enrol
from wafa.flows.models import Flow
from wafa.flows.presets import ensure_presets
from wafa.flows.spec import EventTrigger
from wafa.loyalty.events import (
    BirthdayRewardGranted,
    PointsExpiring,
    ReferralRewarded,
    SurpriseGranted,
    TierChanged,
)
from wafa.orders.events import OrderPlaced, OrderStatusChanged

CONSUMER = "flows"
#: An order placed longer ago than this is history: it starts no flow.
STALE_AFTER = timedelta(hours=48)


def _context(event: Event) -> dict[str, Any]:
    data = event.model_dump(mode="json")
    data.pop("customer_id", None)
    return data


def start_flows(
    session: Session,
    settings: Settings,
    *,
    topic: str,
    customer_id: uuid.UUID,
    occasion: str,
    context: dict[str, Any],
    status_to: str | None = None,
) -> int:
    """Enter the customer into every switched-on flow that ``topic`` starts; how many."""
    ensure_presets(session)
    entered = 0
    for flow in session.scalars(select(Flow).where(Flow.enabled.is_(True)).order_by(Flow.key)):
        trigger = definition_of(flow).trigger
        if not isinstance(trigger, EventTrigger) or trigger.topic != topic:
            continue
        if not trigger.starts_on(status_to):
            continue
        enrolment = enrol(
            session,
            settings=settings,
            flow=flow,
            customer_id=customer_id,
            occasion=occasion,
            context=context,
        )
        if enrolment is not None:
            entered += 1
            advance(session, settings=settings, flow=flow, enrolment=enrolment)
    return entered


def consumer(settings: Settings) -> Consumer:
    """The flows consumer bound to ``settings``."""

    def placed(session: Session, event: OrderPlaced, envelope: Envelope) -> None:
        if event.customer_id is None or event.imported:
            return
        if event.placed_at < utcnow() - STALE_AFTER:
            return
        start_flows(
            session,
            settings,
            topic=event.topic,
            customer_id=event.customer_id,
            occasion=f"event:{envelope.id}",
            context=_context(event),
        )

    def moved(session: Session, event: OrderStatusChanged, envelope: Envelope) -> None:
        if event.customer_id is None or event.at < utcnow() - STALE_AFTER:
            return
        start_flows(
            session,
            settings,
            topic=event.topic,
            customer_id=event.customer_id,
            occasion=f"event:{envelope.id}",
            context=_context(event),
            status_to=event.to_status,
        )

    def about_customer(
        session: Session,
        event: CustomerCreated
        | PointsExpiring
        | TierChanged
        | ReferralRewarded
        | BirthdayRewardGranted
        | SurpriseGranted,
        envelope: Envelope,
    ) -> None:
        start_flows(
            session,
            settings,
            topic=event.topic,
            customer_id=event.customer_id,
            occasion=f"event:{envelope.id}",
            context=_context(event),
        )

    return Consumer(
        CONSUMER,
        (
            Handles(OrderPlaced, placed),
            Handles(OrderStatusChanged, moved),
            Handles(CustomerCreated, about_customer),
            Handles(PointsExpiring, about_customer),
            Handles(TierChanged, about_customer),
            Handles(ReferralRewarded, about_customer),
            Handles(BirthdayRewardGranted, about_customer),
            Handles(SurpriseGranted, about_customer),
        ),
    )


def consumers(settings: Settings) -> list[Consumer]:
    """The consumer the worker runs."""
    return [consumer(settings)]
