"""Feedback's timed work: the SLA sweep (warnings before a breach, escalation on breach).

Every pass looks at open complaints (not waiting on the customer) whose first response or
resolution is due within the policy's ``warn_before_hours`` or overdue. Each warning and
each breach is claimed once by a unique key (``complaint_alerts``) in the same transaction
as what it does, so a crash or a second worker repeats nothing: a warning is a line in the
complaint's history and an event; a breach also assigns the complaint to the owner (the
first active owner by email) unless an owner holds it already.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import insert_new
from wafa.core.domain import Factory, IntervalTask, Task
from wafa.core.events import emit
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.feedback.complaints import record_entry, timers
from wafa.feedback.events import ComplaintSlaAlert
from wafa.feedback.models import Complaint, ComplaintAlert, ComplaintEntryKind, ComplaintKind
from wafa.feedback.policy import load_policy

SWEEP_SECONDS = 300.0


def sweep(session: Session) -> dict[str, int]:
    """Warn and escalate what is due; returns counts."""
    now = utcnow()
    policy = load_policy(session)
    horizon = now + timedelta(hours=policy.warn_before_hours)
    due = session.scalars(
        select(Complaint).where(
            Complaint.kind == ComplaintKind.complaint.value,
            Complaint.status.in_(["new", "acknowledged", "in_progress"]),
            or_(
                Complaint.first_response_at.is_(None) & (Complaint.first_response_due_at < horizon),
                Complaint.resolution_due_at < horizon,
            ),
        )
    ).all()
    owner = next((u for u in auth.list_users(session) if u.role == Role.owner and u.active), None)
    counts = {"warnings": 0, "breaches": 0}
    for complaint in due:
        for clock, timer in zip(
            ("first_response", "resolution"), timers(complaint, now=now, policy=policy), strict=True
        ):
            if timer.state not in ("warning", "overdue"):
                continue
            level = "warning" if timer.state == "warning" else "breach"
            if not insert_new(
                session,
                ComplaintAlert,
                index_elements=["complaint_id", "kind"],
                values={"complaint_id": complaint.id, "kind": f"{clock}_{level}", "at": now},
            ):
                continue
            escalated = None
            if level == "breach" and owner is not None and complaint.assignee_id != owner.id:
                complaint.assignee_id = owner.id
                escalated = owner.id
            record_entry(
                session,
                complaint,
                ComplaintEntryKind.alert,
                text=f"{clock}_{level}",
                by="wafa",
                at=now,
            )
            emit(
                session,
                ComplaintSlaAlert(
                    customer_id=complaint.customer_id,
                    complaint_id=complaint.id,
                    clock=clock,
                    level=level,
                    escalated_to=escalated,
                ),
            )
            counts["warnings" if level == "warning" else "breaches"] += 1
    session.flush()
    return counts


def run_sweep(factory: Factory, settings: Settings) -> dict[str, int]:
    with factory() as session, session.begin():
        return sweep(session)


def tasks() -> list[Task]:
    """What the worker runs for feedback: the SLA sweep every five minutes."""
    return [IntervalTask("feedback.sla", every=SWEEP_SECONDS, run=run_sweep)]
