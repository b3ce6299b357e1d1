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

from pydantic import ValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from wafa.core.calendars import anniversary, ymd
from wafa.core.errors import Conflict, Invalid
from wafa.core.events import Event
from wafa.core.money import minor_digits
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.models import ConsentRecord, Customer, CustomerExternalId, CustomerMerge
from wafa.loyalty.models import LoyaltyAccount
from wafa.messaging.segments import compiler as segment_compiler
from wafa.messaging.segments import service as segment_service
from wafa.messaging.segments.models import CustomerOrderStats
from wafa.messaging.segments.rules import Rules, parse_rules
from wafa.orders import queries as order_queries
from wafa.orders import records as order_records
from wafa.people import service as people

# --------------------------------------------------------------------------- directory


@dataclass(frozen=True)
class DirectoryRow:
    """A customer in the list, with their purchases and points."""

    customer: Customer
    totals: order_queries.CustomerTotals
    points: int = 0


@dataclass(frozen=True)
class DirectoryPage:
    """One page of the customer list."""

    rows: list[DirectoryRow]
    next_cursor: str | None
    total: int = 0  # every customer matching the search, on every page
    page: int = 1
    size: int = 25

    @property
    def pages(self) -> int:
        """How many pages the list has (at least one)."""
        return max(1, -(-self.total // self.size))

    @property
    def has_next(self) -> bool:
        """Whether a page follows this one."""
        return self.page < self.pages


#: What the list sorts by: ``newest`` (the record's creation), the name, the last sale,
#: net spend in the business currency, and points available now.
SORTS = ("newest", "name", "last_order", "spend", "points")
#: The consent filter: accepts email marketing, accepts text messages, accepts neither.
CONSENTS = ("email", "sms", "none")


@dataclass(frozen=True)
class ListFilters:
    """The customer list's filters; every one optional, all of them must hold.

    They are written as a segment rule (:mod:`wafa.messaging.segments`), so "spend",
    "last order", "tier" and "RFM segment" mean here exactly what they mean in a
    segment: net spend in the business currency, local dates in the business's zone,
    the tier that applies today, the RFM segment of the last analytics refresh.
    ``spend_min``/``spend_max`` are minor units; ``last_from``/``last_to`` local days,
    both ends included.
    """

    tier: str | None = None
    tag: str | None = None
    city: str | None = None
    consent: str | None = None
    spend_min: int | None = None
    spend_max: int | None = None
    last_from: date | None = None
    last_to: date | None = None
    rfm: str | None = None

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return bool(self.conditions())

    def conditions(self) -> list[dict[str, Any]]:
        """The filters as the conditions of a segment rule."""
        out: list[dict[str, Any]] = []
        if self.tier:
            out.append({"field": "tier", "op": "=", "value": self.tier})
        if self.tag:
            out.append({"field": "tags", "op": "=", "value": self.tag})
        if self.city:
            out.append({"field": "city", "op": "=", "value": self.city})
        if self.consent == "email":
            out.append({"field": "consent_email", "op": "=", "value": True})
        elif self.consent == "sms":
            out.append({"field": "consent_sms", "op": "=", "value": True})
        elif self.consent == "none":
            out.append({"field": "consent_email", "op": "=", "value": False})
            out.append({"field": "consent_sms", "op": "=", "value": False})
        if self.spend_min is not None:
            out.append({"field": "total_spent", "op": ">=", "value": self.spend_min})
        if self.spend_max is not None:
            out.append({"field": "total_spent", "op": "<=", "value": self.spend_max})
        if self.last_from is not None:
            out.append({"field": "last_order_on", "op": ">=", "value": self.last_from.isoformat()})
        if self.last_to is not None:
            out.append({"field": "last_order_on", "op": "<=", "value": self.last_to.isoformat()})
        if self.rfm:
            out.append({"field": "rfm_segment", "op": "=", "value": self.rfm})
        return out

    def rules(self) -> Rules:
        """The filters as one segment rule (``all`` of them); a bad value is ``Invalid``."""
        try:
            return parse_rules({"all": self.conditions()})
        except ValidationError as exc:
            errors = [(("filters", *e["loc"]), str(e["msg"])) for e in exc.errors()]
            raise Invalid(f"a filter is not valid: {errors[0][1]}", errors) from None


@dataclass(frozen=True)
class ListQuery:
    """What the list shows: the search, the filters, the order."""

    q: str | None = None
    filters: ListFilters = field(default_factory=ListFilters)
    sort: str = "newest"
    descending: bool = True


def _sort_keys(sort: str, descending: bool) -> list[Any]:
    """ORDER BY for ``sort``: customers without a value (no name, never ordered) last in
    both directions, then the id in the same direction, so the order is total and stable."""
    stats, account = CustomerOrderStats, LoyaltyAccount
    column: Any
    if sort == "name":
        column = Customer.search_name
    elif sort == "last_order":
        column = stats.last_order_at
    elif sort == "spend":
        column = func.coalesce(stats.spent_amount, 0)
    elif sort == "points":
        column = func.coalesce(account.available, 0)
    elif sort == "newest":
        column = None
    else:
        raise Invalid.field(("sort",), f"sort by one of: {', '.join(SORTS)}")
    keys: list[Any] = []
    if column is not None:
        keys.append((column.desc() if descending else column.asc()).nulls_last())
    keys.append(Customer.id.desc() if descending else Customer.id.asc())
    return keys


def directory_query(session: Session, *, settings: Settings, query: ListQuery) -> Select[Customer]:
    """Live customers of the list in the list's order (unpaginated).

    Spend and last order sort and filter by the order figures that segments count on
    (:class:`~wafa.messaging.segments.models.CustomerOrderStats`), kept current from
    order events by the worker and rebuilt every day. Only the tables that the filters
    and the order need are joined.
    """
    compiled = segment_compiler.compile_rules(
        query.filters.rules(), segment_service.context_for(session, settings), loc=("filters",)
    )
    joined = compiled.from_clause()
    if "stats" not in compiled.sources and query.sort in ("last_order", "spend"):
        joined = joined.outerjoin(CustomerOrderStats, CustomerOrderStats.customer_id == Customer.id)
    if "loyalty" not in compiled.sources and query.sort == "points":
        joined = joined.outerjoin(LoyaltyAccount, LoyaltyAccount.customer_id == Customer.id)
    stmt = select(Customer).select_from(joined).where(segment_compiler.live(), compiled.where)
    if query.q and query.q.strip():
        stmt = stmt.where(customers.search_condition(query.q))
    return stmt.order_by(*_sort_keys(query.sort, query.descending))


def points_available(session: Session, customer_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Points each of ``customer_ids`` can spend now (members only; others have none)."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(LoyaltyAccount.customer_id, LoyaltyAccount.available).where(
            LoyaltyAccount.customer_id.in_(list(customer_ids))
        )
    )
    return {cid: int(points) for cid, points in rows}


def directory(
    session: Session,
    *,
    q: str | None,
    limit: int = 50,
    cursor: str | None = None,
    settings: Settings | None = None,
    query: ListQuery | None = None,
    page: int = 1,
) -> DirectoryPage:
    """Live customers matching ``q`` (name, email, phone; newest first), with their totals.

    With ``settings`` and ``query``: the list filtered and sorted, page ``page`` of
    ``limit`` customers (offset paging: any page of any order can be linked to).
    """
    if settings is None or query is None:
        found, next_cursor = customers.search_customers(session, q=q, limit=limit, cursor=cursor)
        totals = order_queries.customer_totals(session, [c.id for c in found])
        empty = order_queries.CustomerTotals()
        return DirectoryPage(
            [DirectoryRow(c, totals.get(c.id, empty)) for c in found],
            next_cursor,
            customers.count_matching(session, q=q),
        )
    stmt = directory_query(session, settings=settings, query=query)
    if query.filters.active:
        counted = stmt.order_by(None).with_only_columns(Customer.id).subquery()
        total = int(session.scalar(select(func.count()).select_from(counted)) or 0)
    else:
        total = customers.count_matching(session, q=query.q)
    page = max(1, page)
    found = list(session.scalars(stmt.limit(limit).offset((page - 1) * limit)))
    ids = [c.id for c in found]
    totals = order_queries.customer_totals(session, ids)
    points = points_available(session, ids)
    empty = order_queries.CustomerTotals()
    return DirectoryPage(
        [DirectoryRow(c, totals.get(c.id, empty), points.get(c.id, 0)) for c in found],
        None,
        total,
        page,
        limit,
    )


#: The columns of the customer list's CSV export.
EXPORT_COLUMNS = (
    "customer_id",
    "name",
    "email",
    "phone",
    "city",
    "tags",
    "email_consent",
    "sms_consent",
    "orders",
    "spend",
    "currency",
    "points",
    "last_order_at",
    "created_at",
)


def directory_rows(
    session: Session, *, settings: Settings, query: ListQuery, batch: int = 500
) -> Iterator[list[object]]:
    """Every customer of the list (search, filters and order as on the page), header
    first, for a CSV export.

    Spend is in the business currency, in major units as text (``12.50``).
    """
    yield list(EXPORT_COLUMNS)
    currency = settings.currency
    digits = minor_digits(currency)
    stmt = directory_query(session, settings=settings, query=query)
    result = session.scalars(stmt.execution_options(yield_per=batch))
    for chunk in result.partitions():
        ids = [c.id for c in chunk]
        totals = order_queries.customer_totals(session, ids)
        points = points_available(session, ids)
        for c in chunk:
            t = totals.get(c.id) or order_queries.CustomerTotals()
            spend = t.spend.get(currency, 0)
            yield [
                str(c.id),
                c.name or "",
                c.email or "",
                c.phone or "",
                c.city or "",
                " ".join(c.tags or []),
                "yes" if c.email_consent else "no",
                "yes" if c.sms_consent else "no",
                t.orders,
                f"{spend / 10**digits:.{digits}f}" if digits else str(spend),
                currency,
                points.get(c.id, 0),
                t.last_order_at.isoformat() if t.last_order_at else "",
                c.created_at.isoformat(),
            ]


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
