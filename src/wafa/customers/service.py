"""Customer rules: one person, one record.

Reading and writing records live here. Matching an incoming order to a person is in
``customers.matching`` (re-exported here: ``resolve_contacts``, ``Contact``, ...,
because every channel that takes orders calls it through this service), and the
customers' share of merge, export and erase is in ``customers.records``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wafa.core.calendars import days_in_month, is_valid_month_day
from wafa.core.contacts import ContactError, optional_email, optional_phone
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.events import emit
from wafa.core.ids import new_id
from wafa.core.pagination import decode_cursor, encode_cursor
from wafa.core.settings import CalendarKind
from wafa.core.text import ascii_digits, search_key
from wafa.core.time import utcnow
from wafa.customers.events import CustomerCreated, CustomerUpdated
from wafa.customers.matching import (
    Contact,
    Resolution,
    find_customer_ids_by_contact,
    resolve_contacts,
)
from wafa.customers.models import (
    ConsentChannel,
    ConsentRecord,
    Customer,
    CustomerExternalId,
)
from wafa.customers.schemas import Birthday, ConsentIn, CustomerCreate, CustomerUpdate

# Matching is part of this service's face: every channel that takes orders calls it here.
__all__ = ["Contact", "Resolution", "find_customer_ids_by_contact", "resolve_contacts"]

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


def search_condition(q: str) -> ColumnElement[bool]:
    """Customers whose name, email or phone holds ``q`` (a phone by its typed digits)."""
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
    return or_(*clauses)


def search_query(q: str | None) -> Select[Customer]:
    """Live customers matching ``q`` in name, email or phone (newest first)."""
    stmt = select(Customer).where(Customer.merged_into_id.is_(None), Customer.erased_at.is_(None))
    if q and q.strip():
        stmt = stmt.where(search_condition(q))
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
