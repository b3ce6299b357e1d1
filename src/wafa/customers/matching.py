"""Who an incoming order belongs to: matching by external id, email and phone.

``resolve_contacts`` is the single place that decides it; the API, the importer, the
shop webhooks and the POS all go through it (``customers.service`` re-exports it). It
matches by external id, then email, then phone; it never joins two people who share
nothing, and when email and phone point at two different records it keeps the email's
and leaves the phone where it is (a merge is an explicit act, with an audit trail).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from wafa.core.events import rows as event_rows
from wafa.core.ids import new_id
from wafa.core.outbox import OutboxEvent
from wafa.core.text import search_key
from wafa.core.time import utcnow
from wafa.customers import duplicates
from wafa.customers.events import CustomerCreated
from wafa.customers.models import (
    ConsentRecord,
    Customer,
    CustomerExternalId,
    DuplicateReason,
)


@dataclass
class Contact:
    """Who an incoming order says it is from; all fields normalised already."""

    email: str | None = None
    phone: str | None = None
    name: str | None = None
    external_source: str | None = None
    external_id: str | None = None
    city: str | None = None
    address: str | None = None
    email_opt_in: bool | None = None
    sms_opt_in: bool | None = None
    consent_source: str | None = None
    seen_at: datetime | None = None
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def identifiable(self) -> bool:
        """Whether there is anything to know this person by again (a name alone is not)."""
        return bool(self.email or self.phone or (self.external_source and self.external_id))


@dataclass
class _Known:
    id: uuid.UUID
    email: str | None
    phone: str | None
    name: str | None
    city: str | None
    address: str | None
    new: bool = False
    changes: dict[str, Any] = field(default_factory=dict)


def _load_known(
    session: Session, contacts: Sequence[Contact]
) -> tuple[dict[str, _Known], dict[str, _Known], dict[tuple[str, str], _Known]]:
    emails = {c.email for c in contacts if c.email}
    phones = {c.phone for c in contacts if c.phone}
    externals = {
        (c.external_source, c.external_id) for c in contacts if c.external_source and c.external_id
    }
    conditions = []
    if emails:
        conditions.append(Customer.email.in_(emails))
    if phones:
        conditions.append(Customer.phone.in_(phones))
    ext_rows: list[tuple[str, str, uuid.UUID]] = []
    if externals:
        by_source: dict[str, list[str]] = {}
        for source, ext in externals:
            by_source.setdefault(source, []).append(ext)
        for source, ids in by_source.items():
            ext_rows.extend(
                session.execute(
                    select(
                        CustomerExternalId.source,
                        CustomerExternalId.external_id,
                        CustomerExternalId.customer_id,
                    ).where(
                        CustomerExternalId.source == source,
                        CustomerExternalId.external_id.in_(ids),
                    )
                )
            )
        conditions.append(Customer.id.in_({row[2] for row in ext_rows}))
    by_id: dict[uuid.UUID, _Known] = {}
    if conditions:
        cols = (
            Customer.id,
            Customer.email,
            Customer.phone,
            Customer.name,
            Customer.city,
            Customer.address,
            Customer.merged_into_id,
        )
        rows = list(session.execute(select(*cols).where(or_(*conditions))))
        # Follow merges so that a matched tombstone resolves to the surviving record.
        targets = {r[6] for r in rows if r[6] is not None}
        while targets:
            more = list(session.execute(select(*cols).where(Customer.id.in_(targets))))
            rows.extend(more)
            targets = {r[6] for r in more if r[6] is not None} - {r[0] for r in rows}
        raw = {r[0]: r for r in rows}

        def live(cid: uuid.UUID) -> uuid.UUID:
            nxt = raw[cid][6]
            while nxt is not None and nxt in raw:
                cid, nxt = nxt, raw[nxt][6]
            return cid

        for r in rows:
            target = raw[live(r[0])]
            by_id.setdefault(target[0], _Known(*target[:6]))
        by_email = {r[1]: by_id[live(r[0])] for r in rows if r[1]}
        by_phone = {r[2]: by_id[live(r[0])] for r in rows if r[2]}
        by_ext = {(s, e): by_id[live(cid)] for s, e, cid in ext_rows if cid in raw}
        return by_email, by_phone, by_ext
    return {}, {}, {}


@dataclass
class Resolution:
    """What ``resolve_contacts`` decided for each contact, plus what it created."""

    customer_ids: list[uuid.UUID | None]
    created: list[uuid.UUID]
    # (contact index, reason) where email and phone pointed at two different records.
    ambiguous: list[tuple[int, str]]


# ``bulk_insert(table, rows)``: how ``resolve_contacts`` inserts its new rows (dicts of
# column values, as for ``session.execute(insert(...), rows)``) when the caller has a
# faster way (the order importer's ``COPY``); the default is ``_insert_rows``.
BulkInsert = Callable[[Table, list[dict[str, Any]]], None]


def _insert_rows(
    session: Session, model: Any, rows: list[dict[str, Any]], bulk_insert: BulkInsert | None
) -> None:
    if bulk_insert is None:
        session.execute(insert(model), rows)
    else:
        bulk_insert(model.__table__, rows)


def resolve_contacts(
    session: Session,
    contacts: Sequence[Contact],
    *,
    source: str,
    bulk_insert: BulkInsert | None = None,
) -> Resolution:
    """Find or create the customer behind each contact, in order, in bulk.

    Rules, applied per contact and seeing earlier contacts of the same batch:
    external id, then email, then phone identify an existing record; a known
    record gains an email, phone, name, city or address it lacked when no other
    record holds it; a contact nobody matches and that carries an email, a phone
    or an external id becomes a new customer; a contact with none of these (a
    guest) gets ``None``. Consent given with the contact is recorded with its
    source and time. ``bulk_insert`` only changes how new rows are inserted.
    """
    by_email, by_phone, by_ext = _load_known(session, contacts)
    ids: list[uuid.UUID | None] = []
    created: list[_Known] = []
    ambiguous: list[tuple[int, str]] = []
    clashes: list[tuple[uuid.UUID, uuid.UUID]] = []
    new_ext: list[dict[str, Any]] = []
    consents: list[tuple[_Known, Contact]] = []
    touched: dict[uuid.UUID, _Known] = {}
    now = utcnow()
    for index, contact in enumerate(contacts):
        if not contact.identifiable:
            ids.append(None)
            continue
        ext_key = (
            (contact.external_source, contact.external_id)
            if contact.external_source and contact.external_id
            else None
        )
        known = by_ext.get(ext_key) if ext_key else None
        email_match = by_email.get(contact.email) if contact.email else None
        phone_match = by_phone.get(contact.phone) if contact.phone else None
        if known is None:
            known = email_match or phone_match
        if email_match is not None and phone_match is not None and email_match is not phone_match:
            ambiguous.append((index, "email and phone belong to two different customers"))
            clashes.append((email_match.id, phone_match.id))
        if known is None:
            known = _Known(
                id=new_id(),
                email=contact.email,
                phone=contact.phone,
                name=contact.name,
                city=contact.city,
                address=contact.address,
                new=True,
            )
            created.append(known)
        else:
            for attr, index_map in (("email", by_email), ("phone", by_phone)):
                value = getattr(contact, attr)
                if value and getattr(known, attr) is None and value not in index_map:
                    setattr(known, attr, value)
                    known.changes[attr] = value
                    touched[known.id] = known
            for attr in ("name", "city", "address"):
                value = getattr(contact, attr)
                if value and getattr(known, attr) is None:
                    setattr(known, attr, value)
                    known.changes[attr] = value
                    touched[known.id] = known
        if known.email:
            by_email.setdefault(known.email, known)
        if known.phone:
            by_phone.setdefault(known.phone, known)
        if ext_key and ext_key not in by_ext:
            by_ext[ext_key] = known
            new_ext.append(
                {
                    "id": new_id(),
                    "customer_id": known.id,
                    "source": ext_key[0],
                    "external_id": ext_key[1],
                    "created_at": now,
                }
            )
        if contact.email_opt_in is not None or contact.sms_opt_in is not None:
            consents.append((known, contact))
        ids.append(known.id)

    if created:
        # A new customer starts with the latest consent given with its contacts (nothing
        # is on file yet), rather than off and then updated.
        flags = _latest_decisions([(k, c) for k, c in consents if k.new], now)
        _insert_rows(
            session,
            Customer,
            [
                {
                    "id": k.id,
                    "name": k.name,
                    "search_name": search_key(k.name),
                    "email": k.email,
                    "phone": k.phone,
                    "city": k.city,
                    "address": k.address,
                    "tags": [],
                    "source": source,
                    "email_consent": flags.get((k.id, "email"), (now, False))[1],
                    "sms_consent": flags.get((k.id, "sms"), (now, False))[1],
                    "created_at": now,
                    "updated_at": now,
                }
                for k in created
            ],
            bulk_insert,
        )
        _insert_rows(
            session,
            OutboxEvent,
            event_rows(CustomerCreated(customer_id=k.id, source=source) for k in created),
            bulk_insert,
        )
    for k in touched.values():
        values = dict(k.changes)
        if "name" in values:
            values["search_name"] = search_key(values["name"])
        session.execute(
            update(Customer).where(Customer.id == k.id).values(updated_at=now, **values)
        )
        k.changes.clear()
    if new_ext:
        _insert_rows(session, CustomerExternalId, new_ext, bulk_insert)
    if consents:
        _record_contact_consents(session, consents, now, bulk_insert)
    if clashes:
        # Both records exist (a clash needs two matches): the owner decides on the
        # Possible duplicates page instead of the pair being kept apart silently.
        duplicates.record(session, clashes, reason=DuplicateReason.contact_clash)
    return Resolution(ids, [k.id for k in created], ambiguous)


def _latest_decisions(
    consents: Sequence[tuple[_Known, Contact]], now: datetime
) -> dict[tuple[uuid.UUID, str], tuple[datetime, bool]]:
    """The latest decision per (customer, channel) among ``consents``, with its time."""
    latest: dict[tuple[uuid.UUID, str], tuple[datetime, bool]] = {}
    for known, contact in consents:
        at = contact.seen_at or now
        for channel, value in (("email", contact.email_opt_in), ("sms", contact.sms_opt_in)):
            if value is None:
                continue
            key = (known.id, channel)
            if key not in latest or latest[key][0] <= at:
                latest[key] = (at, value)
    return latest


def _record_contact_consents(
    session: Session,
    consents: Sequence[tuple[_Known, Contact]],
    now: datetime,
    bulk_insert: BulkInsert | None = None,
) -> None:
    records: list[dict[str, Any]] = []
    for known, contact in consents:
        at = contact.seen_at or now
        for channel, value in (("email", contact.email_opt_in), ("sms", contact.sms_opt_in)):
            if value is None:
                continue
            records.append(
                {
                    "id": new_id(),
                    "customer_id": known.id,
                    "channel": channel,
                    "granted": value,
                    "source": contact.consent_source or "order",
                    "recorded_at": at,
                }
            )
    # Customers created by this very call have no consent on file and were created with
    # the flags of their latest decision: only the others need looking at.
    latest = _latest_decisions([(k, c) for k, c in consents if not k.new], now)
    # Only decisions newer than what is on file change the current flag.
    existing: dict[tuple[uuid.UUID, str], datetime] = {}
    customer_ids = {k[0] for k in latest}
    repeated: set[tuple[uuid.UUID, str, datetime]] = set()
    if customer_ids:
        for cid, channel, at in session.execute(
            select(
                ConsentRecord.customer_id,
                ConsentRecord.channel,
                func.max(ConsentRecord.recorded_at),
            )
            .where(ConsentRecord.customer_id.in_(customer_ids))
            .group_by(ConsentRecord.customer_id, ConsentRecord.channel)
        ):
            existing[(cid, channel)] = at
        # Skip exact repeats (a re-import of the same opt-in at the same time).
        repeated = {
            (cid, channel, at)
            for cid, channel, at in session.execute(
                select(
                    ConsentRecord.customer_id, ConsentRecord.channel, ConsentRecord.recorded_at
                ).where(ConsentRecord.customer_id.in_(customer_ids))
            )
        }
    fresh = [
        r for r in records if (r["customer_id"], r["channel"], r["recorded_at"]) not in repeated
    ]
    if fresh:
        _insert_rows(session, ConsentRecord, fresh, bulk_insert)
    # One UPDATE per (channel, decision) rather than one per customer: bulk imports
    # resolve thousands of contacts per call.
    changes: dict[tuple[str, bool], list[uuid.UUID]] = {}
    for (cid, channel), (at, value) in latest.items():
        previous = existing.get((cid, channel))
        if previous is None or previous <= at:
            changes.setdefault((channel, value), []).append(cid)
    for (channel, value), ids in changes.items():
        column = Customer.email_consent if channel == "email" else Customer.sms_consent
        for start in range(0, len(ids), 5000):
            session.execute(
                update(Customer)
                .where(Customer.id.in_(ids[start : start + 5000]))
                .values({column: value})
            )


def find_customer_ids_by_contact(
    session: Session, *, email: str | None, phone: str | None
) -> list[uuid.UUID]:
    """Live customers holding this email or phone (for the POS and duplicate checks)."""
    conds = []
    if email:
        conds.append(Customer.email == email)
    if phone:
        conds.append(Customer.phone == phone)
    if not conds:
        return []
    return list(
        session.scalars(
            select(Customer.id).where(
                or_(*conds), and_(Customer.merged_into_id.is_(None), Customer.erased_at.is_(None))
            )
        )
    )
