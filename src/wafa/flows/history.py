"""A customer's way through the flows: for their profile and their personal-data export."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wafa.flows.models import Enrolment, Flow, Skip


@dataclass(frozen=True)
class Way:
    """One enrolment as shown: the flow, where the customer stands, since when."""

    flow_key: str
    flow_name: str
    status: str
    step: str | None
    due_at: datetime | None
    entered_at: datetime
    finished_at: datetime | None
    exit_reason: str | None
    holdout: bool


def ways(session: Session, customer_id: uuid.UUID, *, limit: int = 20) -> list[Way]:
    """The customer's most recent enrolments, newest first."""
    rows = session.execute(
        select(Enrolment, Flow.key, Flow.name)
        .join(Flow, Flow.id == Enrolment.flow_id)
        .where(Enrolment.customer_id == customer_id)
        .order_by(Enrolment.entered_at.desc(), Enrolment.id.desc())
        .limit(limit)
    )
    return [
        Way(
            flow_key=key,
            flow_name=name,
            status=e.status,
            step=e.step,
            due_at=e.due_at,
            entered_at=e.entered_at,
            finished_at=e.finished_at,
            exit_reason=e.exit_reason,
            holdout=e.holdout,
        )
        for e, key, name in rows
    ]


def personal_data(session: Session, customer_id: uuid.UUID) -> dict[str, Any]:
    """Every flow the customer went through, for their export."""
    return {
        "flows": [
            {
                "flow": w.flow_key,
                "status": w.status,
                "step": w.step,
                "entered_at": w.entered_at.isoformat(),
                "finished_at": w.finished_at.isoformat() if w.finished_at else None,
                "exit_reason": w.exit_reason,
                "holdout": w.holdout,
            }
            for w in ways(session, customer_id, limit=1000)
        ],
        "skipped": [
            {"flow": s.flow_key, "topic": s.topic, "reason": s.reason, "at": s.at.isoformat()}
            for s in session.scalars(
                select(Skip).where(Skip.customer_id == customer_id).order_by(Skip.at)
            )
        ],
    }
