"""Reads for the dashboard: the delivery log, the suppression list, the queue at a glance."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.messaging.models import Message, SendWorker, Status, Suppression


@dataclass(frozen=True)
class LogFilters:
    status: str | None = None
    channel: str | None = None
    reason: str | None = None
    customer_id: uuid.UUID | None = None
    campaign_id: uuid.UUID | None = None


def log_query(filters: LogFilters) -> Select[Message, str | None]:
    """Messages matching ``filters`` with the customer's name, newest first."""
    stmt = select(Message, Customer.name).join(Customer, Customer.id == Message.customer_id)
    if filters.status:
        stmt = stmt.where(Message.status == filters.status)
    if filters.channel:
        stmt = stmt.where(Message.channel == filters.channel)
    if filters.reason:
        stmt = stmt.where(Message.reason == filters.reason)
    if filters.customer_id:
        stmt = stmt.where(Message.customer_id == filters.customer_id)
    if filters.campaign_id:
        stmt = stmt.where(Message.campaign_id == filters.campaign_id)
    return stmt.order_by(Message.id.desc())


def log_page(
    session: Session, filters: LogFilters, *, before: uuid.UUID | None, limit: int
) -> tuple[list[tuple[Message, str | None]], uuid.UUID | None]:
    """One page of the log and the id the next page starts before."""
    stmt = log_query(filters)
    if before is not None:
        stmt = stmt.where(Message.id < before)
    rows = [(m, n) for m, n in session.execute(stmt.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1][0].id if more and rows else None)


LOG_COLUMNS = (
    "id",
    "queued_at",
    "settled_at",
    "customer_id",
    "customer",
    "channel",
    "kind",
    "topic",
    "reason",
    "occasion",
    "status",
    "status_reason",
    "to",
    "subject",
    "attempts",
    "campaign_id",
    "flow_id",
    "sms_segments",
    "provider_id",
    "error",
)


def log_rows(session: Session, filters: LogFilters) -> Iterator[list[object]]:
    """Every matching message as CSV cells (streamed in chunks of 1,000)."""
    stmt = log_query(filters).execution_options(yield_per=1000)
    for message, name in session.execute(stmt):
        yield [
            message.id,
            message.queued_at.isoformat(),
            message.settled_at.isoformat() if message.settled_at else "",
            message.customer_id,
            name or "",
            message.channel,
            message.kind,
            message.topic or "",
            message.reason,
            message.occasion,
            message.status,
            message.status_reason or "",
            message.to_address or "",
            message.subject_line or "",
            message.attempts,
            message.campaign_id or "",
            message.flow_id or "",
            message.sms_segments or "",
            message.provider_id or "",
            message.error or "",
        ]


def status_counts(session: Session, *, days: int = 30) -> dict[str, int]:
    """Messages per status queued in the last ``days`` days (every status, zero when none)."""
    counts = {s.value: 0 for s in Status}
    since = utcnow() - timedelta(days=days)
    for status, n in session.execute(
        select(Message.status, func.count())
        .where(Message.queued_at >= since)
        .group_by(Message.status)
    ):
        counts[status] = int(n)
    return counts


def live_workers(session: Session, *, lapse_seconds: float) -> list[SendWorker]:
    """Workers that beat within the lapse."""
    cutoff = utcnow() - timedelta(seconds=lapse_seconds)
    return list(session.scalars(select(SendWorker).where(SendWorker.seen_at >= cutoff)))


def suppression_page(
    session: Session, *, before: uuid.UUID | None, limit: int, reason: str | None = None
) -> tuple[list[Suppression], uuid.UUID | None]:
    """The suppression list, newest first."""
    stmt = select(Suppression)
    if reason:
        stmt = stmt.where(Suppression.reason == reason)
    if before is not None:
        stmt = stmt.where(Suppression.id < before)
    rows = list(session.scalars(stmt.order_by(Suppression.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)
