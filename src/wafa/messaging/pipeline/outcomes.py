"""What a channel's answer does to a message: sent; failed (a permanent refusal of the
address suppresses it); retried later with backoff (a temporary failure, nothing was
handed over) until the retries or the address's soft-failure allowance run out; unknown."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from wafa.messaging import consent
from wafa.messaging.channels import Outcome, Outgoing, SendResult
from wafa.messaging.models import (
    SoftFailure,
    Status,
    SuppressionReason,
)
from wafa.messaging.policy import MessagingPolicy


@dataclass
class Handover:
    """A message decided for sending, with what goes on the wire."""

    message_id: uuid.UUID
    outgoing: Outgoing
    medium: str
    address: str
    attempts: int
    customer_id: uuid.UUID
    event: dict[str, Any]
    locale: str
    subject_line: str
    sms_segments: int | None


def settle(
    session: Session,
    secret: str,
    policy: MessagingPolicy,
    item: Handover,
    result: SendResult,
    now: datetime,
) -> tuple[Status, str | None]:
    """The status a send's result leads to (suppressing the address where it must)."""
    if result.outcome is Outcome.sent:
        return Status.sent, None
    if result.outcome is Outcome.unknown:
        return Status.unknown, "no_answer"
    if result.outcome is Outcome.permanent:
        if result.address_fault:
            consent.suppress(
                session,
                secret=secret,
                medium=item.medium,
                address=item.address,
                reason=SuppressionReason.hard_bounce,
                source=f"send {item.message_id}",
                detail=result.detail,
                customer_id=item.customer_id,
            )
            return Status.failed, "hard_bounce"
        return Status.failed, "refused"
    # Temporary: retry with backoff, unless the address has failed too often in a row.
    failures = count_soft(session, secret, item, now)
    if failures >= policy.soft_bounce_limit:
        consent.suppress(
            session,
            secret=secret,
            medium=item.medium,
            address=item.address,
            reason=SuppressionReason.soft_bounces,
            source=f"{failures} temporary failures in a row",
            detail=result.detail,
            customer_id=item.customer_id,
        )
        return Status.failed, "soft_bounces"
    if item.attempts > len(policy.retry_minutes):
        return Status.failed, "retries_exhausted"
    return Status.queued, "retry"


def count_soft(session: Session, secret: str, item: Handover, now: datetime) -> int:
    digest = consent.address_hash(secret, item.medium, item.address)
    row = session.get(SoftFailure, (item.medium, digest))
    if row is None:
        row = SoftFailure(medium=item.medium, address_hash=digest, count=0, last_at=now)
        session.add(row)
    row.count += 1
    row.last_at = now
    session.flush()
    return row.count
