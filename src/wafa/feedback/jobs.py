"""Feedback's timed work: the SLA sweep (warnings before a breach, escalation on breach).

Every pass looks at open complaints (not waiting on the customer) whose first response or
resolution is due within the policy's ``warn_before_hours`` or overdue. Each warning and
each breach is claimed once by a unique key (``complaint_alerts``) in the same transaction
as what it does, so a crash or a second worker repeats nothing: a warning is a line in the
complaint's history and an event; a breach also assigns the complaint to the owner (the
first active owner by email) unless an owner holds it already, and queues an email to the
staff member who held it and to the owner (``complaint_alert_mails``, unique per
complaint, breach and address), in their dashboard language.

The emails go out after the sweep's commit, through messaging's email channel, as
transactional mail (no quiet hours, no unsubscribe: it is work, not marketing). Each is
claimed (``sending``, committed) before the SMTP exchange, so a crash or a second worker
never sends one twice; a temporary failure is tried again on the next pass (five times).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wafa.auth import service as auth
from wafa.auth.models import Role, StaffUser
from wafa.core.db import insert_new
from wafa.core.domain import Factory, IntervalTask, Task
from wafa.core.events import emit
from wafa.core.ids import new_id
from wafa.core.links import public_link
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.feedback import texts
from wafa.feedback.complaints import record_entry, timers
from wafa.feedback.events import ComplaintSlaAlert
from wafa.feedback.models import (
    AlertMailStatus,
    Complaint,
    ComplaintAlert,
    ComplaintAlertMail,
    ComplaintEntryKind,
    ComplaintKind,
)
from wafa.feedback.policy import load_policy
from wafa.messaging.channels import Outcome, Outgoing, build_email
from wafa.messaging.channels.base import Channel

logger = logging.getLogger(__name__)

SWEEP_SECONDS = 300.0
MAX_ATTEMPTS = 5
BATCH = 50


def _queue_mails(
    session: Session,
    complaint: Complaint,
    kind: str,
    recipients: list[StaffUser],
    *,
    due: object,
    public_url: str,
) -> int:
    """Queue the breach email to each recipient once (by address); how many were new."""
    made = 0
    for user in {u.email: u for u in recipients if u.active and u.email}.values():
        locale = user.locale if user.locale in texts.LOCALES else "en"

        def say(message: str, locale: str = locale) -> str:
            return texts.gettext(locale, message)

        what = say(texts.ALERTS[kind])
        values = {
            "what": what,
            "category": say(texts.CATEGORIES.get(complaint.category, complaint.category)),
            "severity": say(texts.SEVERITIES.get(complaint.severity, complaint.severity)),
            "due": f"{due:%Y-%m-%d %H:%M}",
            "filed": f"{complaint.created_at:%Y-%m-%d %H:%M}",
            "link": public_link(public_url, f"feedback/complaints/{complaint.id}"),
        }
        made += insert_new(
            session,
            ComplaintAlertMail,
            index_elements=["complaint_id", "kind", "to_address"],
            values={
                "id": new_id(),
                "complaint_id": complaint.id,
                "kind": kind,
                "staff_id": user.id,
                "to_address": user.email,
                "locale": locale,
                "subject": say(texts.BREACH_MAIL_SUBJECT) % {"what": what},
                "text": say(texts.BREACH_MAIL_TEXT) % values,
                "status": AlertMailStatus.queued.value,
                "attempts": 0,
                "created_at": utcnow(),
            },
        )
    return made


def sweep(session: Session, settings: Settings | None = None) -> dict[str, int]:
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
    counts = {"warnings": 0, "breaches": 0, "mails": 0}
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
            held_by = complaint.assignee_id
            if level == "breach" and owner is not None and complaint.assignee_id != owner.id:
                complaint.assignee_id = owner.id
                escalated = owner.id
            if level == "breach":
                holder = session.get(StaffUser, held_by) if held_by is not None else None
                counts["mails"] += _queue_mails(
                    session,
                    complaint,
                    f"{clock}_{level}",
                    [u for u in (holder, owner) if u is not None],
                    due=timer.due_at,
                    public_url=settings.public_url if settings else "",
                )
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


def _claim(session: Session) -> list[ComplaintAlertMail]:
    query = (
        select(ComplaintAlertMail)
        .where(ComplaintAlertMail.status == AlertMailStatus.queued.value)
        .order_by(ComplaintAlertMail.created_at)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )
    claimed = list(session.scalars(query))
    for mail in claimed:
        mail.status = AlertMailStatus.sending.value
        mail.attempts += 1
    session.flush()
    return claimed


def send_mails(factory: Factory, settings: Settings, channel: Channel | None = None) -> int:
    """Send the queued breach emails (claimed and committed first); how many were sent."""
    with factory() as session, session.begin():
        claimed = [
            (m.id, m.to_address, m.subject, m.text, m.locale, m.attempts) for m in _claim(session)
        ]
    if not claimed:
        return 0
    own = channel is None
    email = build_email(settings) if channel is None else channel
    sent = 0
    try:
        for mail_id, to, subject, text, locale, attempts in claimed:
            result = email.send(
                Outgoing(
                    message_id=mail_id,
                    channel="email",
                    kind="transactional",
                    to=to,
                    subject=subject,
                    text=text,
                    locale=locale,
                )
            )
            if result.outcome == Outcome.sent:
                status = AlertMailStatus.sent
                sent += 1
            elif result.outcome == Outcome.unknown:
                status = AlertMailStatus.unknown
            elif result.outcome == Outcome.temporary and attempts < MAX_ATTEMPTS:
                status = AlertMailStatus.queued
            else:
                status = AlertMailStatus.failed
            with factory() as session, session.begin():
                mail = session.get(ComplaintAlertMail, mail_id)
                assert mail is not None
                mail.status = status.value
                mail.error = result.detail
                if status == AlertMailStatus.sent:
                    mail.sent_at = utcnow()
            if status != AlertMailStatus.sent:
                logger.warning("SLA alert mail to %s: %s (%s)", to, status.value, result.detail)
    finally:
        if own:
            email.close()
    return sent


def run_sweep(factory: Factory, settings: Settings) -> dict[str, int]:
    with factory() as session, session.begin():
        counts = sweep(session, settings)
    counts["sent"] = send_mails(factory, settings)
    return counts


def tasks() -> list[Task]:
    """What the worker runs for feedback: the SLA sweep every five minutes."""
    return [IntervalTask("feedback.sla", every=SWEEP_SECONDS, run=run_sweep)]
