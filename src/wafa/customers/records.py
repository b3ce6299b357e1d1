"""The customers' share of the whole-person operations ``wafa.people`` orchestrates.

Merge, export and erase span every domain; ``wafa.people`` calls each domain's share.
These functions write only the customers' own tables (and read merge chains for
``wafa doctor``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.time import utcnow
from wafa.customers.models import (
    ConsentRecord,
    Customer,
    CustomerExternalId,
    CustomerMerge,
)
from wafa.customers.service import get_customer


def check_mergeable(
    session: Session, *, winner_id: uuid.UUID, loser_id: uuid.UUID
) -> tuple[Customer, Customer]:
    """The live ``winner`` and the ``loser`` to fold into it, or why they cannot merge.

    Both rows are locked, always in the order of their ids, and read again under the
    lock: of two opposite merges (A into B, B into A) started together, the second waits
    for the first and then finds its winner merged, so it is refused instead of making
    each record point at the other. Neither side may be merged or erased already; a
    merge names the surviving record, never a tombstone (on SQLite the write
    transaction's ``BEGIN IMMEDIATE`` already serialises merges).
    """
    if winner_id == loser_id:
        raise Invalid.field(("other_id",), "a customer cannot be merged into itself")
    locked = {
        c.id: c
        for c in session.scalars(
            select(Customer)
            .where(Customer.id.in_([winner_id, loser_id]))
            .order_by(Customer.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    winner, loser = locked.get(winner_id), locked.get(loser_id)
    if winner is None:
        raise NotFound(f"customer {winner_id} not found", customer_id=winner_id)
    if loser is None:
        raise NotFound(f"customer {loser_id} not found", customer_id=loser_id)
    if winner.merged_into_id is not None:
        raise Conflict(
            f"customer {winner_id} was merged into {winner.merged_into_id}; "
            "merge into that record instead",
            merged_into_id=winner.merged_into_id,
        )
    if winner.erased_at is not None:
        raise Conflict(f"customer {winner_id} was erased")
    if loser.merged_into_id is not None:
        raise Conflict(f"customer {loser_id} was already merged into {loser.merged_into_id}")
    if loser.erased_at is not None:
        raise Conflict(f"customer {loser_id} was erased")
    return winner, loser


def merge_records(
    session: Session,
    *,
    winner: Customer,
    loser: Customer,
    merged_by: str,
    details: dict[str, Any],
) -> CustomerMerge:
    """Fold ``loser``'s record into ``winner``'s: fields it lacks, external ids, consent.

    The winner keeps its own fields and gains the ones it lacks (email, phone,
    birthday, city, ...). The loser stays as a tombstone pointing at the winner, so
    old references resolve. ``details`` (what other domains moved) is kept on the
    audit row.
    """
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
            **details,
            "external_ids_moved": ext_moved,
            "consent_records_moved": int(getattr(consent_moved, "rowcount", 0)),
            "fields_taken": {k: str(v) for k, v in moved_fields.items()},
        },
    )
    session.add(merge)
    session.flush()
    return merge


def erase_record(session: Session, *, customer_id: uuid.UUID) -> tuple[Customer, bool]:
    """Remove a person's personal data from their record; return it and whether it was live.

    The record stays as an anonymous shell (so order totals and statistics still add
    up); its contact details, birthday, notes, tags, external ids and consent history
    are deleted. Erasing an erased record changes nothing.
    """
    customer = get_customer(session, customer_id)
    if customer.merged_into_id is not None:
        raise Conflict(
            f"customer {customer_id} was merged into {customer.merged_into_id}; erase that record"
        )
    if customer.erased_at is not None:
        return customer, False
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
    session.flush()
    return customer, True


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def personal_data(session: Session, customer_id: uuid.UUID) -> dict[str, Any]:
    """The customer record, consent history, external ids and merges (for the export)."""
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
    return {
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
    }


def merge_cycles(session: Session) -> list[list[uuid.UUID]]:
    """Every loop of tombstones pointing at each other (``A → B → A``), for ``wafa doctor``.

    A merge chain must end at a live record; a loop has none, so every record on it has
    vanished from search and lists. Each loop is listed once, starting at its smallest id.
    """
    rows = session.execute(
        select(Customer.id, Customer.merged_into_id).where(Customer.merged_into_id.is_not(None))
    ).all()
    points_to = {row[0]: row[1] for row in rows if row[1] is not None}
    cycles: list[list[uuid.UUID]] = []
    done: set[uuid.UUID] = set()
    for start in points_to:
        path: list[uuid.UUID] = []
        on_path: set[uuid.UUID] = set()
        node: uuid.UUID | None = start
        while node is not None and node not in done and node not in on_path:
            path.append(node)
            on_path.add(node)
            node = points_to.get(node)
        if node is not None and node in on_path:
            loop = path[path.index(node) :]
            first = loop.index(min(loop))
            cycles.append(loop[first:] + loop[:first])
        done.update(path)
    return cycles


def merged_records(session: Session, customer_id: uuid.UUID) -> list[uuid.UUID]:
    """The tombstones that resolve to ``customer_id`` (merged into it, directly or not)."""
    found: list[uuid.UUID] = []
    frontier = [customer_id]
    while frontier:
        children = list(
            session.scalars(select(Customer.id).where(Customer.merged_into_id.in_(frontier)))
        )
        children = [c for c in children if c not in found and c != customer_id]
        found.extend(children)
        frontier = children
    return found
