"""Read-side queries over customers for the dashboard: the directory, the profile, merge previews.

Functions named ``*_query`` return a ``Select``; the others assemble what one page
shows from them and from the customers, orders and people services.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from wafa.core.calendars import anniversary, ymd
from wafa.core.errors import Conflict, Invalid
from wafa.core.events import Event
from wafa.core.money import minor_digits
from wafa.core.settings import CalendarKind
from wafa.customers import service as customers
from wafa.customers.models import ConsentRecord, Customer, CustomerExternalId, CustomerMerge
from wafa.orders import queries as order_queries
from wafa.orders import records as order_records
from wafa.people import service as people

# --------------------------------------------------------------------------- directory


@dataclass(frozen=True)
class DirectoryRow:
    """A customer in the list, with their purchases."""

    customer: Customer
    totals: order_queries.CustomerTotals


@dataclass(frozen=True)
class DirectoryPage:
    """One page of the customer list."""

    rows: list[DirectoryRow]
    next_cursor: str | None
    total: int = 0  # every customer matching the search, on every page


def directory(
    session: Session, *, q: str | None, limit: int = 50, cursor: str | None = None
) -> DirectoryPage:
    """Live customers matching ``q`` (name, email, phone; newest first), with their totals."""
    found, next_cursor = customers.search_customers(session, q=q, limit=limit, cursor=cursor)
    totals = order_queries.customer_totals(session, [c.id for c in found])
    empty = order_queries.CustomerTotals()
    return DirectoryPage(
        [DirectoryRow(c, totals.get(c.id, empty)) for c in found],
        next_cursor,
        customers.count_matching(session, q=q),
    )


#: The columns of the customer list's CSV export.
EXPORT_COLUMNS = (
    "customer_id",
    "name",
    "email",
    "phone",
    "city",
    "orders",
    "spend",
    "currency",
    "last_order_at",
    "created_at",
)


def directory_rows(
    session: Session, *, q: str | None, currency: str, batch: int = 500
) -> Iterator[list[object]]:
    """Every customer of the list (``q`` as on the page), header first, for a CSV export.

    Spend is in ``currency`` (the business's), in major units as text (``12.50``).
    """
    yield list(EXPORT_COLUMNS)
    cursor: str | None = None
    digits = minor_digits(currency)
    while True:
        found, cursor = customers.search_customers(session, q=q, limit=batch, cursor=cursor)
        totals = order_queries.customer_totals(session, [c.id for c in found])
        for c in found:
            t = totals.get(c.id) or order_queries.CustomerTotals()
            spend = t.spend.get(currency, 0)
            yield [
                str(c.id),
                c.name or "",
                c.email or "",
                c.phone or "",
                c.city or "",
                t.orders,
                f"{spend / 10**digits:.{digits}f}" if digits else str(spend),
                currency,
                t.last_order_at.isoformat() if t.last_order_at else "",
                c.created_at.isoformat(),
            ]
        if cursor is None:
            return


# --------------------------------------------------------------------------- profile


def external_ids_query(customer_id: uuid.UUID) -> Select[CustomerExternalId]:
    """The customer's ids in other systems, by source."""
    return (
        select(CustomerExternalId)
        .where(CustomerExternalId.customer_id == customer_id)
        .order_by(CustomerExternalId.source, CustomerExternalId.external_id)
    )


def consent_history_query(customer_id: uuid.UUID) -> Select[ConsentRecord]:
    """Every consent decision, newest first."""
    return (
        select(ConsentRecord)
        .where(ConsentRecord.customer_id == customer_id)
        .order_by(ConsentRecord.recorded_at.desc())
    )


def merged_from_query(customer_id: uuid.UUID) -> Select[CustomerMerge]:
    """The merges that folded duplicates into this customer, newest first."""
    return (
        select(CustomerMerge)
        .where(CustomerMerge.winner_id == customer_id)
        .order_by(CustomerMerge.merged_at.desc())
    )


def next_birthday(customer: Customer, today: date) -> date | None:
    """The next (Gregorian) date of the customer's birthday on or after ``today``.

    The birthday is kept in its own calendar (a Jalali birthday moves against the
    Gregorian one every year); a day the year lacks (29 February, 30 Esfand) falls
    on the month's last day, as ``calendars.anniversary`` rules.
    """
    birthday = customer.birthday
    if birthday is None:
        return None
    kind = CalendarKind(birthday.calendar)
    year = ymd(today, kind)[0]
    for candidate_year in (year, year + 1):
        day = anniversary(birthday.month, birthday.day, candidate_year, kind)
        if day >= today:
            return day
    return None  # pragma: no cover - next year's anniversary is always ahead


@dataclass(frozen=True)
class CustomerProfile:
    """Everything the customer page shows."""

    customer: Customer
    stats: dict[str, Any]
    external_ids: list[CustomerExternalId]
    consent: list[ConsentRecord]
    merges: list[CustomerMerge]
    timeline: list[dict[str, Any]]
    next_birthday: date | None
    spend: dict[str, int] = field(default_factory=dict)


def customer_profile(
    session: Session,
    customer_id: uuid.UUID,
    *,
    today: date,
    timeline_events: Sequence[type[Event]] = (),
    timeline_limit: int = 100,
) -> CustomerProfile:
    """The customer (merged records included, as they are), their history and purchases."""
    customer = customers.get_customer(session, customer_id)
    totals = order_queries.customer_totals(session, [customer.id]).get(customer.id)
    return CustomerProfile(
        customer=customer,
        stats=order_records.order_stats(session, customer.id),
        external_ids=list(session.scalars(external_ids_query(customer.id))),
        consent=list(session.scalars(consent_history_query(customer.id))),
        merges=list(session.scalars(merged_from_query(customer.id))),
        timeline=people.timeline(
            session, customer.id, labelled=timeline_events, limit=timeline_limit
        ),
        next_birthday=next_birthday(customer, today),
        spend=totals.spend if totals else {},
    )


# --------------------------------------------------------------------------- merging


@dataclass(frozen=True)
class MergeCandidates:
    """The customer being kept and the records that could be folded into it."""

    customer: Customer
    q: str
    rows: list[DirectoryRow]


def merge_candidates(
    session: Session, customer_id: uuid.UUID, *, q: str | None, limit: int = 20
) -> MergeCandidates:
    """Live customers matching ``q`` (by default the customer's own name), this one left out."""
    customer = customers.get_live_customer(session, customer_id)
    query = (q if q is not None else customer.name or customer.email or "").strip()
    page = directory(session, q=query, limit=limit + 1) if query else DirectoryPage([], None)
    rows = [row for row in page.rows if row.customer.id != customer.id][:limit]
    return MergeCandidates(customer, query, rows)


# Fields the kept record takes from the duplicate when it has none (customers.records.merge_records).
MERGE_FIELDS = (
    "name",
    "email",
    "phone",
    "city",
    "address",
    "gender",
    "marital_status",
    "language",
    "notes",
)


@dataclass(frozen=True)
class MergePreview:
    """What merging ``duplicate`` into ``keep`` will do."""

    keep: Customer
    duplicate: Customer
    keep_stats: dict[str, Any]
    duplicate_stats: dict[str, Any]
    fields_taken: dict[str, Any]
    external_ids: list[CustomerExternalId]


def merge_preview(session: Session, *, keep_id: uuid.UUID, duplicate_id: uuid.UUID) -> MergePreview:
    """Both records side by side and the fields that will move; refused as the merge would be."""
    if keep_id == duplicate_id:
        raise Invalid.field(("other_id",), "a customer cannot be merged into itself")
    keep = customers.get_live_customer(session, keep_id)
    duplicate = customers.get_customer(session, duplicate_id)
    if duplicate.merged_into_id is not None:
        raise Conflict(
            f"customer {duplicate_id} was already merged into {duplicate.merged_into_id}"
        )
    if duplicate.erased_at is not None:
        raise Conflict(f"customer {duplicate_id} was erased")
    if keep.id == duplicate.id:
        raise Invalid.field(("other_id",), "these are the same customer")
    taken = {
        name: getattr(duplicate, name)
        for name in MERGE_FIELDS
        if getattr(keep, name) is None and getattr(duplicate, name) is not None
    }
    if keep.birthday is None and duplicate.birthday is not None:
        taken["birthday"] = duplicate.birthday
    return MergePreview(
        keep=keep,
        duplicate=duplicate,
        keep_stats=order_records.order_stats(session, keep.id),
        duplicate_stats=order_records.order_stats(session, duplicate.id),
        fields_taken=taken,
        external_ids=list(session.scalars(external_ids_query(duplicate.id))),
    )
