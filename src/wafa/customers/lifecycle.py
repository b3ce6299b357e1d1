"""Operations on a whole person that span domains: merge, export, erase, timeline.

These orchestrate the customers and orders services (and, through events, the
domains that come later); they never write another domain's tables directly.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from wafa.core import outbox
from wafa.core.errors import Conflict, Invalid
from wafa.core.modules import import_optional
from wafa.core.time import utcnow
from wafa.customers.models import ConsentRecord, Customer, CustomerExternalId, CustomerMerge
from wafa.customers.service import get_customer, get_live_customer
from wafa.orders import service as orders

CUSTOMER_MERGED = "customer.merged"
CUSTOMER_ERASED = "customer.erased"

# Domains that hold personal data expose ``personal_data(session, customer_id) -> dict``;
# the export includes every one that is installed.
PERSONAL_DATA_PROVIDERS = (
    "wafa.loyalty.service",
    "wafa.analytics.service",
    "wafa.messaging.preferences",
)
# Domains that must act while the person's data is still there expose
# ``before_erase(session, customer)`` (messaging keeps a keyed hash of the addresses on its
# suppression list, so an erased person is never messaged again after an import).
ERASE_HOOKS = ("wafa.messaging.preferences",)


def merge_customers(
    session: Session, *, winner_id: uuid.UUID, loser_id: uuid.UUID, merged_by: str
) -> CustomerMerge:
    """Fold ``loser`` into ``winner``: orders, consent history and external ids move over.

    The winner keeps its own fields and gains the ones it lacks (email, phone,
    birthday, city, ...). The loser stays as a tombstone pointing at the winner, so
    old references resolve. A ``customer.merged`` event lets other domains move
    what they hold (points, coupons) in their own handlers.
    """
    if winner_id == loser_id:
        raise Invalid.field(("other_id",), "a customer cannot be merged into itself")
    winner = get_live_customer(session, winner_id)
    loser = get_customer(session, loser_id)
    if loser.merged_into_id is not None:
        raise Conflict(f"customer {loser_id} was already merged into {loser.merged_into_id}")
    if loser.erased_at is not None:
        raise Conflict(f"customer {loser_id} was erased")
    if winner.id == loser.id:
        raise Invalid.field(("other_id",), "these are the same customer")

    moved_fields: dict[str, Any] = {}
    freed = {}
    for name in ("email", "phone"):
        if getattr(winner, name) is None and getattr(loser, name) is not None:
            freed[name] = getattr(loser, name)
        moved_fields_value = getattr(loser, name)
        if moved_fields_value is not None:
            setattr(loser, name, None)  # unique columns: free them before the winner takes them
    session.flush()
    for name, value in freed.items():
        setattr(winner, name, value)
        moved_fields[name] = value
    for name in ("name", "city", "address", "gender", "marital_status", "language", "notes"):
        if getattr(winner, name) is None and getattr(loser, name) is not None:
            setattr(winner, name, getattr(loser, name))
            moved_fields[name] = getattr(loser, name)
    if winner.name is not None and "name" in moved_fields:
        from wafa.core.text import search_key

        winner.search_name = search_key(winner.name)
    if winner.birth_day is None and loser.birth_day is not None:
        for name in ("birth_day", "birth_month", "birth_year", "birth_calendar", "birthday_set_at"):
            setattr(winner, name, getattr(loser, name))
        moved_fields["birthday"] = f"{loser.birth_day}/{loser.birth_month}"
    winner.tags = sorted(set(winner.tags or []) | set(loser.tags or []))

    orders_moved = orders.reassign_orders(session, from_customer=loser.id, to_customer=winner.id)
    ext_moved = [
        f"{s}:{e}"
        for s, e in session.execute(
            select(CustomerExternalId.source, CustomerExternalId.external_id).where(
                CustomerExternalId.customer_id == loser.id
            )
        )
    ]
    session.execute(
        update(CustomerExternalId)
        .where(CustomerExternalId.customer_id == loser.id)
        .values(customer_id=winner.id)
        .execution_options(synchronize_session=False)
    )
    consent_moved = session.execute(
        update(ConsentRecord)
        .where(ConsentRecord.customer_id == loser.id)
        .values(customer_id=winner.id)
        .execution_options(synchronize_session=False)
    )
    # The current consent flag follows the latest decision across both histories.
    for channel, column in (("email", "email_consent"), ("sms", "sms_consent")):
        latest = session.scalar(
            select(ConsentRecord.granted)
            .where(ConsentRecord.customer_id == winner.id, ConsentRecord.channel == channel)
            .order_by(ConsentRecord.recorded_at.desc())
            .limit(1)
        )
        if latest is not None:
            setattr(winner, column, latest)
    loser.merged_into_id = winner.id
    now = utcnow()
    loser.updated_at = now
    winner.updated_at = now
    merge = CustomerMerge(
        winner_id=winner.id,
        loser_id=loser.id,
        merged_by=merged_by,
        merged_at=now,
        details={
            "orders_moved": orders_moved,
            "external_ids_moved": ext_moved,
            "consent_records_moved": int(getattr(consent_moved, "rowcount", 0)),
            "fields_taken": {k: str(v) for k, v in moved_fields.items()},
        },
    )
    session.add(merge)
    session.flush()
    outbox.emit(
        session,
        CUSTOMER_MERGED,
        {"winner_id": winner.id, "loser_id": loser.id, "merge_id": merge.id},
        subject_id=winner.id,
    )
    return merge


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_customer(session: Session, customer_id: uuid.UUID) -> dict[str, Any]:
    """Everything held on one person, as plain JSON-ready data (GDPR Art. 15 and 20)."""
    customer = get_customer(session, customer_id)
    consent = session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.customer_id == customer.id)
        .order_by(ConsentRecord.recorded_at)
    ).all()
    externals = session.scalars(
        select(CustomerExternalId).where(CustomerExternalId.customer_id == customer.id)
    ).all()
    merges = session.scalars(
        select(CustomerMerge).where(
            (CustomerMerge.winner_id == customer.id) | (CustomerMerge.loser_id == customer.id)
        )
    ).all()
    data: dict[str, Any] = {
        "exported_at": utcnow().isoformat(),
        "customer": {
            "id": str(customer.id),
            "name": customer.name,
            "email": customer.email,
            "phone": customer.phone,
            "birthday": (
                {
                    "day": customer.birth_day,
                    "month": customer.birth_month,
                    "year": customer.birth_year,
                    "calendar": customer.birth_calendar,
                }
                if customer.birth_day
                else None
            ),
            "city": customer.city,
            "address": customer.address,
            "gender": customer.gender,
            "marital_status": customer.marital_status,
            "language": customer.language,
            "tags": customer.tags,
            "notes": customer.notes,
            "source": customer.source,
            "email_consent": customer.email_consent,
            "sms_consent": customer.sms_consent,
            "created_at": _iso(customer.created_at),
            "updated_at": _iso(customer.updated_at),
            "erased_at": _iso(customer.erased_at),
        },
        "consent_history": [
            {
                "channel": c.channel,
                "granted": c.granted,
                "source": c.source,
                "recorded_at": _iso(c.recorded_at),
            }
            for c in consent
        ],
        "external_ids": [{"source": e.source, "external_id": e.external_id} for e in externals],
        "merges": [
            {
                "winner_id": str(m.winner_id),
                "loser_id": str(m.loser_id),
                "merged_at": _iso(m.merged_at),
                "merged_by": m.merged_by,
            }
            for m in merges
        ],
        "orders": [
            {
                "id": str(o.id),
                "source": o.source,
                "external_id": o.external_id,
                "number": o.number,
                "channel": o.channel,
                "status": o.status,
                "currency": o.currency,
                "total": o.total_amount,
                "refunded": o.refunded_amount,
                "placed_at": _iso(o.placed_at),
                "contact": {
                    "email": o.contact_email,
                    "phone": o.contact_phone,
                    "name": o.contact_name,
                    "shipping_address": o.shipping_address,
                },
                "lines": [
                    {
                        "sku": ln.sku,
                        "name": ln.name,
                        "quantity": ln.quantity,
                        "unit_price": ln.unit_price_amount,
                        "total": ln.total_amount,
                    }
                    for ln in o.lines
                ],
                "refunds": [
                    {"amount": r.amount, "refunded_at": _iso(r.refunded_at), "reason": r.reason}
                    for r in o.refunds
                ],
            }
            for o in orders.customer_orders(session, customer.id)
        ],
    }
    for module_name in PERSONAL_DATA_PROVIDERS:
        module = import_optional(module_name)
        provider = getattr(module, "personal_data", None) if module else None
        if provider is not None:
            data[module_name.split(".")[1]] = provider(session, customer.id)
    return data


def erase_customer(session: Session, *, customer_id: uuid.UUID, erased_by: str) -> Customer:
    """Remove a person's personal data; keep order amounts anonymously for the books.

    The record stays as an anonymous shell (so order totals and statistics still add
    up), its contact details, birthday, notes, tags, external ids and consent
    history are deleted, and the contact details on its orders are cleared.
    """
    customer = get_customer(session, customer_id)
    if customer.merged_into_id is not None:
        raise Conflict(
            f"customer {customer_id} was merged into {customer.merged_into_id}; erase that record"
        )
    if customer.erased_at is not None:
        return customer
    for module_name in ERASE_HOOKS:
        module = import_optional(module_name)
        hook = getattr(module, "before_erase", None) if module else None
        if hook is not None:
            hook(session, customer)
    for name in (
        "name",
        "search_name",
        "email",
        "phone",
        "birth_day",
        "birth_month",
        "birth_year",
        "birth_calendar",
        "birthday_set_at",
        "city",
        "address",
        "gender",
        "marital_status",
        "language",
        "notes",
    ):
        setattr(customer, name, None)
    customer.tags = []
    customer.email_consent = False
    customer.sms_consent = False
    now = utcnow()
    customer.erased_at = now
    customer.updated_at = now
    session.execute(delete(CustomerExternalId).where(CustomerExternalId.customer_id == customer.id))
    session.execute(delete(ConsentRecord).where(ConsentRecord.customer_id == customer.id))
    # Tombstones merged into this record carry no contact data, but clear them to be sure.
    session.execute(
        update(Customer)
        .where(Customer.merged_into_id == customer.id)
        .values(name=None, search_name=None, notes=None, address=None, city=None)
        .execution_options(synchronize_session=False)
    )
    orders.anonymize_orders(session, customer_id=customer.id)
    session.flush()
    outbox.emit(
        session,
        CUSTOMER_ERASED,
        {"customer_id": customer.id, "erased_by": erased_by},
        subject_id=customer.id,
    )
    return customer


def timeline(session: Session, customer_id: uuid.UUID, *, limit: int = 200) -> list[dict[str, Any]]:
    """The customer's history, newest first: orders, refunds, consent decisions, merges, events."""
    customer = get_customer(session, customer_id)
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
    # Other domains' events about this person (points earned, tier changes, ...). An event
    # about one of the orders above (its payload names the order) is shown on that order's
    # line, not as a line of its own: the points an order earned read with the order.
    own_topics = {"customer.created", "customer.updated", "customer.merged"}
    by_order = {e["data"]["order_id"]: e for e in entries if e["kind"] == "order"}
    for event in session.scalars(
        select(outbox.OutboxEvent)
        .where(outbox.OutboxEvent.subject_id == customer.id)
        .order_by(outbox.OutboxEvent.id.desc())
        .limit(limit)
    ):
        if event.topic in own_topics:
            continue
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
