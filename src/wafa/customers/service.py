"""Customer rules: one person, one record.

Matching (``resolve_contacts``) is the single place that decides who an incoming
order belongs to; the API, the importer and the POS all go through it. It matches by
external id, then email, then phone; it never joins two people who share nothing,
and when email and phone point at two different records it keeps the email's and
leaves the phone where it is (a merge is an explicit act, with an audit trail).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wafa.core.calendars import days_in_month, is_valid_month_day
from wafa.core.contacts import ContactError, optional_email, optional_phone
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.events import emit
from wafa.core.events import rows as event_rows
from wafa.core.ids import new_id
from wafa.core.outbox import OutboxEvent
from wafa.core.pagination import decode_cursor, encode_cursor
from wafa.core.settings import CalendarKind
from wafa.core.text import ascii_digits, search_key
from wafa.core.time import utcnow
from wafa.customers import duplicates
from wafa.customers.events import CustomerCreated, CustomerUpdated
from wafa.customers.models import (
    ConsentChannel,
    ConsentRecord,
    Customer,
    CustomerExternalId,
    CustomerMerge,
    DuplicateReason,
)
from wafa.customers.schemas import Birthday, ConsentIn, CustomerCreate, CustomerUpdate

# The same span of years in both calendars (Jalali 1279 began in March 1900).
BIRTH_YEARS = {CalendarKind.gregorian: (1900, 2100), CalendarKind.jalali: (1279, 1479)}


class CustomerConflict(Conflict):
    code = "customer-conflict"


# --------------------------------------------------------------------------- reading


def get_customer(session: Session, customer_id: uuid.UUID) -> Customer:
    """The customer with ``customer_id``; merged and erased records are returned as they are."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found", customer_id=customer_id)
    return customer


def get_live_customer(session: Session, customer_id: uuid.UUID) -> Customer:
    """The customer, following merges to the surviving record; erased records are not live."""
    customer = get_customer(session, customer_id)
    seen = {customer.id}
    while customer.merged_into_id is not None:
        customer = get_customer(session, customer.merged_into_id)
        if customer.id in seen:  # pragma: no cover - a cycle is refused by merge
            break
        seen.add(customer.id)
    if customer.erased_at is not None:
        raise NotFound(f"customer {customer_id} was erased", customer_id=customer_id)
    return customer


def search_query(q: str | None) -> Select[Customer]:
    """Live customers matching ``q`` in name, email or phone (newest first)."""
    stmt = select(Customer).where(Customer.merged_into_id.is_(None), Customer.erased_at.is_(None))
    if q and q.strip():
        text = q.strip()
        key = search_key(text) or ""
        digits = "".join(ch for ch in ascii_digits(text) if ch.isdigit())
        clauses = [
            Customer.search_name.contains(key, autoescape=True),
            Customer.email.contains(text.lower(), autoescape=True),
        ]
        if len(digits) >= 3:
            # Phones are stored as E.164; match the typed digits, dropping a leading 0
            # (local trunk prefix) so "0912 345" finds "+98912345...".
            clauses.append(Customer.phone.contains(digits.lstrip("0") or digits, autoescape=True))
        stmt = stmt.where(or_(*clauses))
    return stmt.order_by(Customer.id.desc())


def search_customers(
    session: Session, *, q: str | None = None, limit: int = 50, cursor: str | None = None
) -> tuple[list[Customer], str | None]:
    """A page of customers matching ``q``, newest first, and the cursor of the next page."""
    stmt = search_query(q)
    if cursor:
        stmt = stmt.where(Customer.id < decode_cursor(cursor))
    rows = list(session.scalars(stmt.limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def count_matching(session: Session, *, q: str | None = None) -> int:
    """How many live customers match ``q`` (all of them without ``q``)."""
    if not (q and q.strip()):
        return count_customers(session)
    found = search_query(q).order_by(None).with_only_columns(Customer.id).subquery()
    return int(session.scalar(select(func.count()).select_from(found)) or 0)


def count_customers(session: Session) -> int:
    """Number of live customers."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Customer)
            .where(Customer.merged_into_id.is_(None), Customer.erased_at.is_(None))
        )
        or 0
    )


# --------------------------------------------------------------------------- writing


def _birthday_columns(birthday: Birthday | None, default: CalendarKind) -> dict[str, Any]:
    if birthday is None:
        return {"birth_day": None, "birth_month": None, "birth_year": None, "birth_calendar": None}
    kind = birthday.calendar or default
    if not is_valid_month_day(birthday.month, birthday.day, kind):
        raise Invalid.field(
            ("birthday",), f"{birthday.day}/{birthday.month} is not a day of the {kind} calendar"
        )
    if birthday.year is not None:
        low, high = BIRTH_YEARS[kind]
        if not low <= birthday.year <= high:
            raise Invalid.field(
                ("birthday", "year"), f"{birthday.year} is not a {kind} birth year ({low}-{high})"
            )
        if birthday.day > days_in_month(birthday.year, birthday.month, kind):
            raise Invalid.field(
                ("birthday",),
                f"{birthday.day}/{birthday.month}/{birthday.year} is not a day of the {kind} calendar",
            )
    return {
        "birth_day": birthday.day,
        "birth_month": birthday.month,
        "birth_year": birthday.year,
        "birth_calendar": str(kind),
    }


def _contact_columns(data: CustomerCreate | CustomerUpdate, region: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    fields = data.model_fields_set
    try:
        if "email" in fields:
            values["email"] = optional_email(data.email)
    except ContactError as exc:
        raise Invalid.field(("email",), str(exc)) from None
    try:
        if "phone" in fields:
            values["phone"] = optional_phone(data.phone, region)
    except ContactError as exc:
        raise Invalid.field(("phone",), str(exc)) from None
    return values


def _ensure_unique_contact(
    session: Session, values: dict[str, Any], *, exclude: uuid.UUID | None = None
) -> None:
    for column in ("email", "phone"):
        value = values.get(column)
        if value is None:
            continue
        stmt = select(Customer.id).where(getattr(Customer, column) == value)
        if exclude is not None:
            stmt = stmt.where(Customer.id != exclude)
        other = session.scalar(stmt)
        if other is not None:
            raise CustomerConflict(
                f"{column} {value} already belongs to customer {other}",
                field=column,
                customer_id=str(other),
            )


def create_customer(
    session: Session, *, data: CustomerCreate, region: str, calendar: CalendarKind
) -> Customer:
    """Create a customer; an email or phone already on file is a conflict, never a duplicate."""
    values = _contact_columns(data, region)
    _ensure_unique_contact(session, values)
    now = utcnow()
    customer = Customer(
        id=new_id(),
        name=data.name,
        search_name=search_key(data.name),
        city=data.city,
        address=data.address,
        gender=data.gender,
        marital_status=data.marital_status,
        language=data.language,
        tags=sorted(set(data.tags or [])),
        notes=data.notes,
        source=data.source,
        created_at=now,
        updated_at=now,
        **values,
        **_birthday_columns(data.birthday, calendar),
    )
    if data.birthday is not None:
        customer.birthday_set_at = now
    try:
        with session.begin_nested():
            session.add(customer)
            for ext in data.external_ids:
                _claim_external_id(session, customer.id, ext.source, ext.external_id)
            session.flush()
    except IntegrityError:
        # A concurrent request stored the same email, phone or external id between the
        # check above and this insert (the unique index waited for it): say which.
        _ensure_unique_contact(session, values)
        for ext in data.external_ids:
            _claim_external_id(session, new_id(), ext.source, ext.external_id)
        raise CustomerConflict(
            "this customer was created at the same moment by another request"
        ) from None
    for consent in data.consent:
        record_consent(session, customer=customer, consent=consent, at=now)
    emit(session, CustomerCreated(customer_id=customer.id, source=customer.source))
    return customer


def _claim_external_id(
    session: Session, customer_id: uuid.UUID, source: str, external_id: str
) -> None:
    owner = session.scalar(
        select(CustomerExternalId.customer_id).where(
            CustomerExternalId.source == source, CustomerExternalId.external_id == external_id
        )
    )
    if owner is not None and owner != customer_id:
        raise CustomerConflict(
            f"external id {source}:{external_id} already belongs to customer {owner}",
            customer_id=str(owner),
        )
    if owner is None:
        session.add(
            CustomerExternalId(customer_id=customer_id, source=source, external_id=external_id)
        )


def update_customer(
    session: Session,
    *,
    customer_id: uuid.UUID,
    data: CustomerUpdate,
    region: str,
    calendar: CalendarKind,
) -> Customer:
    """Change the fields given; a birthday change restarts its cool-off clock."""
    customer = get_live_customer(session, customer_id)
    values = _contact_columns(data, region)
    _ensure_unique_contact(session, values, exclude=customer.id)
    fields = data.model_fields_set
    for name in ("name", "city", "address", "gender", "marital_status", "language", "notes"):
        if name in fields:
            values[name] = getattr(data, name)
    if "name" in fields:
        values["search_name"] = search_key(data.name)
    if "tags" in fields:
        values["tags"] = sorted(set(data.tags or []))
    if "birthday" in fields:
        new = _birthday_columns(data.birthday, calendar)
        old = {k: getattr(customer, k) for k in new}
        if new != old:
            values.update(new)
            values["birthday_set_at"] = utcnow() if data.birthday is not None else None
    changed = {k: v for k, v in values.items() if getattr(customer, k) != v}
    for key, value in changed.items():
        setattr(customer, key, value)
    if changed:
        customer.updated_at = utcnow()
        session.flush()
        emit(session, CustomerUpdated(customer_id=customer.id, fields=tuple(sorted(changed))))
    return customer


def record_consent(
    session: Session, *, customer: Customer, consent: ConsentIn, at: datetime | None = None
) -> ConsentRecord:
    """Append a consent decision; the customer's current flag follows the latest decision."""
    at = at or utcnow()
    record = ConsentRecord(
        customer_id=customer.id,
        channel=consent.channel,
        granted=consent.granted,
        source=consent.source,
        recorded_at=at,
    )
    session.add(record)
    latest = session.scalar(
        select(ConsentRecord.recorded_at)
        .where(ConsentRecord.customer_id == customer.id, ConsentRecord.channel == consent.channel)
        .order_by(ConsentRecord.recorded_at.desc())
        .limit(1)
    )
    if latest is None or latest <= at:
        flag = "email_consent" if consent.channel is ConsentChannel.email else "sms_consent"
        setattr(customer, flag, consent.granted)
    session.flush()
    return record


# --------------------------------------------------------------------------- matching


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


# --------------------------------------------------------------------------- whole records
# The customers' share of the whole-person operations that ``wafa.people`` orchestrates
# across domains (merge, export, erase): each writes only the customers' own tables.


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
