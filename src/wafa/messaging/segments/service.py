"""Saved segments: create, change, archive, count, list members, export.

A segment is counted when it is saved and whenever it is opened; the figure is kept
on the row (``last_count``) for lists, and every count is one query
(:func:`wafa.messaging.segments.compiler.count_forms`; on PostgreSQL the cheaper of its
forms, run without JIT: :func:`count_rules`). Members are live customers
(not merged, not erased), listed newest first with the house's keyset cursor.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ClauseElement, Executable

from wafa.core.calendars import local_date
from wafa.core.csvsafe import csv_chunks as csv_chunks
from wafa.core.db import dialect_name
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.money import Money
from wafa.core.pagination import decode_cursor, encode_cursor
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.loyalty.models import LoyaltyAccount
from wafa.loyalty.program import rules_at
from wafa.loyalty.tiers import effective_tier, effective_tier_rank, rank
from wafa.messaging.segments import compiler
from wafa.messaging.segments.compiler import Context
from wafa.messaging.segments.models import CustomerOrderStats, Segment
from wafa.messaging.segments.rules import Rules
from wafa.messaging.segments.schemas import SegmentCreate, SegmentUpdate
from wafa.orders.models import Location


class SegmentNameTaken(Conflict):
    code = "segment-name-taken"


# ---------------------------------------------------------------------- compiling


def context_for(session: Session, settings: Settings, *, now: datetime | None = None) -> Context:
    """What rules are compiled against now: today in the business's zone and calendar,
    the loyalty program's tiers, the shop's locations, the database's dialect."""
    now = now or utcnow()
    today = local_date(now, settings.zone)
    program = rules_at(session, settings, now).rules
    tiers = program.tiers
    codes = tuple(level.code for level in tiers.levels) if tiers.enabled else ()
    return Context(
        today=today,
        zone=settings.zone,
        calendar=settings.calendar,
        currency=settings.currency,
        dialect=dialect_name(session),
        tiers=codes,
        tier_rank=effective_tier_rank(program, today=today) if codes else None,
        # A customer without an account reads as a blank account (a new member).
        tier_rank_absent=rank(tiers, effective_tier(program, LoyaltyAccount(), today=today)),
        locations=frozenset(session.scalars(select(Location.code))),
    )


def stored_rules(segment: Segment) -> Rules:
    """The segment's saved rule, validated again (the catalogue may have changed)."""
    try:
        return Rules.model_validate(segment.rules)
    except ValidationError as exc:
        errors = [(("rules", *e["loc"]), str(e["msg"])) for e in exc.errors()]
        raise Invalid(
            f"segment {segment.name!r} has a rule that is no longer valid; edit it", errors
        ) from None


def count_rules(session: Session, *, settings: Settings, rules: Rules) -> int:
    """How many live customers ``rules`` selects now (one query).

    On PostgreSQL the count runs without JIT compilation, and a rule with two forms
    (:func:`~.compiler.count_forms`) is counted by the one the planner estimates
    cheaper (see :func:`_count_pg`).
    """
    ctx = context_for(session, settings)
    forms = compiler.count_forms(rules, ctx)
    if ctx.dialect != "postgresql":
        return int(session.scalar(forms[0]) or 0)
    return _count_pg(session, forms)


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <statement>``: the planner's estimate, nothing run."""

    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(_Explain, "postgresql")
def _explain_pg(element: _Explain, compiler_: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + str(compiler_.process(element.statement, **kw))


def _estimated_cost(session: Session, query: Select[Any]) -> float:
    plan = session.execute(_Explain(query)).scalar_one()
    if isinstance(plan, str):  # pragma: no cover - a driver that does not decode json
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Total Cost"])


def _count_pg(session: Session, forms: Sequence[Select[int]]) -> int:
    """Count on PostgreSQL by the form of least estimated cost, JIT off.

    A count is interactive (the builder counts while the rule is edited) and reads
    every customer once: JIT compilation costs 0.1-0.45 s whenever the plan's cost
    passes ``jit_above_cost``, which most counts on a large store do, and does not pay
    it back in one scan (``benchmarks/results/segments.md``). ``jit`` is set for this
    statement only (``set_config(..., true)``, put back after), so a count inside a
    saving transaction changes nothing else in it. Choosing the form costs one
    ``EXPLAIN`` each (a few milliseconds of planning).
    """
    before = session.execute(
        text("SELECT current_setting('jit'), set_config('jit', 'off', true)")
    ).one()[0]
    query = forms[0]
    if len(forms) > 1:
        query = min(forms, key=lambda form: _estimated_cost(session, form))
    count = int(session.scalar(query) or 0)
    session.execute(text("SELECT set_config('jit', :before, true)"), {"before": before})
    return count


# ---------------------------------------------------------------------- segments


def _check_name(session: Session, name: str, *, other_than: uuid.UUID | None = None) -> None:
    stmt = select(Segment.id).where(
        func.lower(Segment.name) == name.lower(), Segment.archived_at.is_(None)
    )
    if other_than is not None:
        stmt = stmt.where(Segment.id != other_than)
    if session.scalar(stmt.limit(1)) is not None:
        raise SegmentNameTaken(f"a segment named {name!r} exists already", name=name)


def _flush(session: Session, name: str) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise SegmentNameTaken(f"a segment named {name!r} exists already", name=name) from None


def create_segment(
    session: Session, *, settings: Settings, data: SegmentCreate, by: str | None
) -> Segment:
    """Save a named rule and count it. The rule must compile (tiers and locations exist);
    live segments have unique names."""
    _check_name(session, data.name)
    count = count_rules(session, settings=settings, rules=data.rules)
    segment = Segment(
        name=data.name,
        description=data.description,
        rules=data.rules.as_json(),
        last_count=count,
        counted_at=utcnow(),
        created_by=by,
    )
    session.add(segment)
    _flush(session, data.name)
    return segment


def get_segment(session: Session, segment_id: uuid.UUID) -> Segment:
    """A segment, archived or not."""
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFound(f"no segment {segment_id}", segment_id=segment_id)
    return segment


def get_live_segment(session: Session, segment_id: uuid.UUID) -> Segment:
    """A segment that is not archived."""
    segment = get_segment(session, segment_id)
    if segment.archived_at is not None:
        raise NotFound(f"segment {segment.name!r} is archived", segment_id=segment_id)
    return segment


def update_segment(
    session: Session, *, settings: Settings, segment_id: uuid.UUID, data: SegmentUpdate
) -> Segment:
    """Rename, describe or change the rule of a live segment (a new rule is counted)."""
    segment = get_live_segment(session, segment_id)
    fields = data.model_fields_set
    if "name" in fields and data.name is not None and data.name != segment.name:
        _check_name(session, data.name, other_than=segment.id)
        segment.name = data.name
    if "description" in fields:
        segment.description = data.description
    if "rules" in fields and data.rules is not None:
        segment.last_count = count_rules(session, settings=settings, rules=data.rules)
        segment.counted_at = utcnow()
        segment.rules = data.rules.as_json()
    segment.updated_at = utcnow()
    _flush(session, segment.name)
    return segment


def archive_segment(session: Session, *, segment_id: uuid.UUID) -> Segment:
    """Hide a segment from lists and choices; campaigns that used it keep their record."""
    segment = get_segment(session, segment_id)
    if segment.archived_at is None:
        segment.archived_at = utcnow()
        session.flush()
    return segment


def recount_segment(session: Session, *, settings: Settings, segment_id: uuid.UUID) -> Segment:
    """Count a live segment now and keep the figure on it."""
    segment = get_live_segment(session, segment_id)
    segment.last_count = count_rules(session, settings=settings, rules=stored_rules(segment))
    segment.counted_at = utcnow()
    session.flush()
    return segment


def count_segment(session: Session, *, settings: Settings, segment_id: uuid.UUID) -> int:
    """Count a live segment now (read only)."""
    segment = get_live_segment(session, segment_id)
    return count_rules(session, settings=settings, rules=stored_rules(segment))


def list_segments(
    session: Session, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[Segment], str | None]:
    """Live segments, newest first, and the cursor of the next page."""
    stmt = select(Segment).where(Segment.archived_at.is_(None)).order_by(Segment.id.desc())
    if cursor:
        stmt = stmt.where(Segment.id < decode_cursor(cursor))
    rows = list(session.scalars(stmt.limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def segment_choices(session: Session) -> list[Segment]:
    """Every live segment by name (for a campaign's choice)."""
    return list(
        session.scalars(
            select(Segment).where(Segment.archived_at.is_(None)).order_by(func.lower(Segment.name))
        )
    )


# ---------------------------------------------------------------------- members


def members_query(session: Session, *, settings: Settings, rules: Rules) -> Select[uuid.UUID]:
    """The ids of the customers ``rules`` selects now (for campaigns to snapshot)."""
    return compiler.members_query(rules, context_for(session, settings))


def members_page(
    session: Session,
    *,
    settings: Settings,
    segment_id: uuid.UUID,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Customer], str | None]:
    """A page of the segment's customers, newest first, and the next page's cursor."""
    segment = get_live_segment(session, segment_id)
    ids = members_query(session, settings=settings, rules=stored_rules(segment))
    if cursor:
        ids = ids.where(Customer.id < decode_cursor(cursor))
    page_ids = list(session.scalars(ids.order_by(Customer.id.desc()).limit(limit + 1)))
    next_cursor = encode_cursor(page_ids[limit - 1]) if len(page_ids) > limit else None
    page_ids = page_ids[:limit]
    found = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_(page_ids)))}
    return [found[i] for i in page_ids if i in found], next_cursor


@dataclass(frozen=True)
class MemberFigures:
    """What a member row shows beside the profile: orders, spend, last order."""

    orders: int
    spent: int
    last_order_at: datetime | None


def member_figures(
    session: Session, customer_ids: list[uuid.UUID]
) -> dict[uuid.UUID, MemberFigures]:
    """Order figures of the listed customers (customers without a sale are absent)."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(
            CustomerOrderStats.customer_id,
            CustomerOrderStats.orders_count,
            CustomerOrderStats.spent_amount,
            CustomerOrderStats.last_order_at,
        ).where(CustomerOrderStats.customer_id.in_(customer_ids))
    )
    return {cid: MemberFigures(n, spent, last) for cid, n, spent, last in rows}


EXPORT_HEADER = (
    "customer_id",
    "name",
    "email",
    "phone",
    "city",
    "language",
    "tags",
    "email_consent",
    "sms_consent",
    "orders",
    "total_spent",
    "currency",
    "last_order_on",
)


def export_rows(
    session: Session, *, settings: Settings, segment_id: uuid.UUID, batch: int = 2000
) -> Iterator[list[Any]]:
    """The segment's members as rows under :data:`EXPORT_HEADER` (a stream, any size).

    Spend is in major units of the business currency (``12.50``); the last order is a
    local date. Cells are plain values: the caller writes them with the formula-safe
    CSV writer.
    """
    segment = get_live_segment(session, segment_id)
    compiled = compiler.compile_rules(stored_rules(segment), context_for(session, settings))
    stats = CustomerOrderStats
    joined = compiled.from_clause()
    if "stats" not in compiled.sources:
        joined = joined.outerjoin(stats, stats.customer_id == Customer.id)
    stmt = (
        select(
            Customer.id,
            Customer.name,
            Customer.email,
            Customer.phone,
            Customer.city,
            Customer.language,
            Customer.tags,
            Customer.email_consent,
            Customer.sms_consent,
            stats.orders_count,
            stats.spent_amount,
            stats.last_order_at,
        )
        .select_from(joined)
        .where(compiler.live(), compiled.where)
        .order_by(Customer.id)
        .execution_options(yield_per=batch)
    )
    yield list(EXPORT_HEADER)
    currency = settings.currency
    for row in session.execute(stmt):
        spent = Money(amount=int(row.spent_amount or 0), currency=currency).to_decimal()
        last: date | None = (
            local_date(row.last_order_at, settings.zone) if row.last_order_at else None
        )
        yield [
            str(row.id),
            row.name or "",
            row.email or "",
            row.phone or "",
            row.city or "",
            row.language or "",
            " ".join(row.tags or []),
            "yes" if row.email_consent else "no",
            "yes" if row.sms_consent else "no",
            int(row.orders_count or 0),
            spent,
            currency,
            last.isoformat() if last else "",
        ]
