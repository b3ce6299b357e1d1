"""Helpers for the loyalty tests: a program, orders through the real services, the consumer."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import create_customer, order_payload
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.loyalty import handlers, ledger, program
from wafa.loyalty.schemas.program import ProgramRules
from wafa.orders import service as orders
from wafa.orders.models import Order
from wafa.orders.schemas import OrderCreate, RefundCreate
from wafa.worker.batch import handle_once, pending_ids


def set_rules(session: Session, **changes: Any) -> ProgramRules:
    """Save a program version: the defaults (1 point per dollar, 14 days pending) plus ``changes``."""
    base: dict[str, Any] = {"earning": {"rate_bp": 100}, "pending_days": 14}
    base.update(changes)
    rules = ProgramRules.model_validate(base)
    program.save_rules(session, rules=rules, by="test")
    session.flush()
    return rules


# Numbered, not random: fifty random four-digit phone endings collide one time in eight.
_members = itertools.count(1)


def member(session: Session, **overrides: Any) -> Customer:
    """A customer with a phone (the POS needs one), unique within the test run."""
    n = next(_members)
    # Endings 1000-9999: tests that name a phone use 0100-0199.
    overrides.setdefault("phone", f"+1202555{1000 + n % 9000:04d}")
    overrides.setdefault("email", f"m{n}@example.com")
    return create_customer(session, **overrides)


def place(
    session: Session,
    customer: Customer | None,
    *,
    lines: list[dict[str, Any]] | None = None,
    placed_at: datetime | None = None,
    **extra: Any,
) -> Order:
    """An order for ``customer`` (by email) through the real orders service."""
    payload = order_payload(
        customer={"email": customer.email, "name": customer.name} if customer is not None else None,
        lines=lines or [{"sku": "COF-1", "name": "Flat white", "quantity": 2, "unit_price": 500}],
        placed_at=(placed_at or utcnow()).isoformat(),
        **extra,
    )
    order, _ = orders.create_order(session, data=OrderCreate.model_validate(payload), region="US")
    return order


def refund(
    session: Session,
    order: Order,
    *,
    lines: list[dict[str, Any]] | None = None,
    amount: int | None = None,
    ref: str | None = None,
) -> None:
    data: dict[str, Any] = {"external_id": ref or f"r-{uuid.uuid4().hex[:8]}"}
    if lines is not None:
        data["lines"] = lines
    if amount is not None:
        data["amount"] = amount
    orders.refund_order(session, order_id=order.id, data=RefundCreate.model_validate(data))


def deliver(session: Session, settings: Settings) -> int:
    """Hand every pending event to the loyalty consumer, in order, in this session."""
    consumer = handlers.consumer(settings)
    handled = 0
    while True:
        batch = pending_ids(session, consumer, after=None, limit=500)
        if not batch:
            return handled
        for event_id in batch:
            event = session.get(OutboxEvent, event_id)
            assert event is not None
            with session.begin_nested():
                handled += handle_once(session, consumer, event)


def replay(session: Session, settings: Settings, event: OutboxEvent) -> None:
    """Run the handler again on an event, receipts aside (a redelivery)."""
    with session.begin_nested():
        handlers.consumer(settings).handle(session, event)


def events_of(session: Session, topic: str, subject: uuid.UUID | None = None) -> list[OutboxEvent]:
    stmt = select(OutboxEvent).where(OutboxEvent.topic == topic).order_by(OutboxEvent.id)
    if subject is not None:
        stmt = stmt.where(OutboxEvent.subject_id == subject)
    return list(session.scalars(stmt))


def consistent(session: Session, customer_id: uuid.UUID) -> None:
    problems = ledger.check(session, customer_id)
    assert problems == [], problems


def at(y: int, m: int, d: int, h: int = 12) -> datetime:
    return datetime(y, m, d, h, 0, tzinfo=UTC)
