"""Operations on a whole person that span domains: merge, export, erase, timeline.

These orchestrate the domains' own services, each writing only its own tables: the
customers' record (``customers.service``), the orders (``orders.service``), and every
other domain's share through what it declared (``PersonalData`` in its
``declaration.py``, handed in by the assembly as ``Hooks``) or through the events
(``CustomerMerged``: each domain moves what it holds on the merged record). An erasure
runs every domain's eraser in the caller's transaction, so it is all or nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wafa.auth import idempotency
from wafa.core.domain import PersonalData
from wafa.core.events import Event, emit
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers import records as customer_records
from wafa.customers import service as customers
from wafa.customers.events import CustomerErased, CustomerMerged
from wafa.customers.models import ConsentRecord, Customer, CustomerMerge
from wafa.orders import records as order_records
from wafa.orders import service as orders


@dataclass(frozen=True)
class Hooks:
    """What the other domains declared for whole-person operations (built by the assembly).

    ``personal_data``: every domain holding personal data beyond customers and orders,
    by name. ``timeline_events``: the event types shown on a customer's timeline.
    """

    personal_data: Mapping[str, PersonalData]
    timeline_events: tuple[type[Event], ...] = ()


NO_HOOKS = Hooks({})


def merge_customers(
    session: Session, *, winner_id: uuid.UUID, loser_id: uuid.UUID, merged_by: str
) -> CustomerMerge:
    """Fold ``loser`` into ``winner``: orders, consent history and external ids move over.

    The winner keeps its own fields and gains the ones it lacks; the loser stays as a
    tombstone pointing at the winner. A ``customer.merged`` event lets the other
    domains move what they hold (points, coupons, messages) in their own handlers.
    """
    winner, loser = customer_records.check_mergeable(
        session, winner_id=winner_id, loser_id=loser_id
    )
    orders_moved = order_records.reassign_orders(
        session, from_customer=loser.id, to_customer=winner.id
    )
    merge = customer_records.merge_records(
        session,
        winner=winner,
        loser=loser,
        merged_by=merged_by,
        details={"orders_moved": orders_moved},
    )
    emit(session, CustomerMerged(winner_id=winner.id, loser_id=loser.id, merge_id=merge.id))
    return merge


def export_customer(
    session: Session, customer_id: uuid.UUID, *, hooks: Hooks = NO_HOOKS
) -> dict[str, Any]:
    """Everything held on one person, as plain JSON-ready data (GDPR Art. 15 and 20)."""
    data: dict[str, Any] = {"exported_at": utcnow().isoformat()}
    data.update(customer_records.personal_data(session, customer_id))
    data.update(order_records.personal_data(session, customer_id))
    for name, held in hooks.personal_data.items():
        if held.export is not None:
            data[name] = dict(held.export(session, customer_id))
    return data


def erase_customer(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    erased_by: str,
    hooks: Hooks = NO_HOOKS,
) -> Customer:
    """Remove a person's personal data everywhere; keep order amounts anonymously.

    The record stays as an anonymous shell (so order totals and statistics still add
    up); every domain erases its share (first, while the record still holds the
    addresses), then the record and the contact details on its orders are cleared, all in
    the caller's transaction. Erasing twice changes nothing; a merged record is refused.
    """
    customer = customers.get_customer(session, customer_id)
    if customer.erased_at is not None and customer.merged_into_id is None:
        return customer
    # Stored answers to idempotent requests are copies of responses that may name the
    # person: what to look for is read before the record forgets it.
    ids = [customer.id, *customer_records.merged_records(session, customer.id)]
    values = [customer.name, customer.email, customer.phone]
    # The domains erase first, while the record still holds what they may need to forget
    # it for good (messaging suppresses the addresses as keyed hashes).
    if customer.merged_into_id is None:
        for held in hooks.personal_data.values():
            if held.erase is not None:
                held.erase(session, settings, customer.id)
    customer, _ = customer_records.erase_record(session, customer_id=customer_id)
    order_records.anonymize_orders(session, customer_id=customer.id)
    idempotency.forget(session, ids=ids, values=values)
    session.flush()
    emit(session, CustomerErased(customer_id=customer.id, erased_by=erased_by))
    return customer


def timeline(
    session: Session,
    customer_id: uuid.UUID,
    *,
    labelled: Sequence[type[Event]] = (),
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The customer's history, newest first: orders, refunds, consent decisions, merges, and
    the events of ``labelled`` types about them (points earned, tier changes, ...)."""
    customer = customers.get_customer(session, customer_id)
    entries: list[dict[str, Any]] = []
    for order in orders.customer_orders(session, customer.id):
        entries.append(
            {
                "at": order.placed_at,
                "kind": "order",
                "title": order.number or order.external_id,
                "data": {
                    "order_id": str(order.id),
                    "channel": order.channel,
                    "status": order.status,
                    "total": order.total_amount,
                    "currency": order.currency,
                    "items": sum(line.quantity for line in order.lines),
                },
            }
        )
        for refund in order.refunds:
            entries.append(
                {
                    "at": refund.refunded_at,
                    "kind": "refund",
                    "title": order.number or order.external_id,
                    "data": {
                        "order_id": str(order.id),
                        "amount": refund.amount,
                        "currency": refund.currency,
                        "reason": refund.reason,
                    },
                }
            )
    for record in session.scalars(
        select(ConsentRecord).where(ConsentRecord.customer_id == customer.id)
    ):
        entries.append(
            {
                "at": record.recorded_at,
                "kind": "consent",
                "title": f"{record.channel} {'granted' if record.granted else 'withdrawn'}",
                "data": {
                    "channel": record.channel,
                    "granted": record.granted,
                    "source": record.source,
                },
            }
        )
    for merge in session.scalars(
        select(CustomerMerge).where(CustomerMerge.winner_id == customer.id)
    ):
        entries.append(
            {
                "at": merge.merged_at,
                "kind": "merge",
                "title": "merged a duplicate record",
                "data": {"loser_id": str(merge.loser_id), "by": merge.merged_by, **merge.details},
            }
        )
    # Other domains' events about this person that say how to show themselves. An event
    # about one of the orders above (its payload names the order) is shown on that order's
    # line, not as a line of its own: the points an order earned read with the order.
    topics = [e.topic for e in labelled if e.label is not None]
    by_order = {e["data"]["order_id"]: e for e in entries if e["kind"] == "order"}
    for event in session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.subject_id == customer.id, OutboxEvent.topic.in_(topics))
        .order_by(OutboxEvent.id.desc())
        .limit(limit)
    ):
        order_entry = by_order.get(str((event.payload or {}).get("order_id")))
        if order_entry is not None:
            order_entry["data"].setdefault("events", []).append(
                {"topic": event.topic, "payload": event.payload}
            )
            continue
        entries.append(
            {"at": event.occurred_at, "kind": "event", "title": event.topic, "data": event.payload}
        )
    entries.append(
        {"at": customer.created_at, "kind": "created", "title": "customer created", "data": {}}
    )
    entries.sort(key=lambda e: e["at"], reverse=True)
    return entries[:limit]
