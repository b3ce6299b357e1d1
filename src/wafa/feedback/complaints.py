"""The complaint log: file, answer, assign, wait, resolve, close, reopen; SLA timers.

Rules, each in one place:

* Workflow: ``new → acknowledged → in_progress → resolved → closed``; ``waiting`` (on the
  customer) from any open status and back; a resolved or closed complaint can be reopened
  (``in_progress``, resolution clock running again from where it stood).
* SLA timers (``wafa.feedback.policy``): the first response and resolution are due a number
  of business hours after filing, per severity. Time waiting on the customer does not
  count: leaving ``waiting`` moves both due times later by the business time waited.
  The first reply to the customer is the first response.
* The customer is told when the complaint is received, answered (each reply) and resolved,
  through messaging (transactional, in their language); the resolution message carries a
  link to the "how did we handle it?" survey (touchpoint ``complaint``) when one is active.
* A survey answer that is unhappy (NPS 0–6, CSAT 1–2, CES 1–3) opens one complaint,
  linked to the answer by a unique key, unless the policy says otherwise.
* Praise is filed like a complaint (``kind="praise"``) and routed to the staff member it
  names; see ``staff_feedback`` for what a staff member sees.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import Session

from wafa.auth import service as auth
from wafa.auth.models import StaffUser
from wafa.core.db import insert_new
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.events import emit
from wafa.core.ids import new_id
from wafa.core.pagination import decode_cursor, encode_cursor
from wafa.core.settings import Settings
from wafa.core.text import search_key
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.feedback import texts
from wafa.feedback.events import ComplaintFiled, ComplaintResolved
from wafa.feedback.models import (
    Compensation,
    Complaint,
    ComplaintChannel,
    ComplaintEntry,
    ComplaintEntryKind,
    ComplaintKind,
    ComplaintStatus,
    Severity,
    Survey,
    SurveyResponse,
)
from wafa.feedback.policy import BusinessClock, Policy, clock_for, load_policy
from wafa.feedback.schemas import ComplaintCreate
from wafa.messaging.queue import Content, queue_message

OPEN = frozenset(
    {
        ComplaintStatus.new,
        ComplaintStatus.acknowledged,
        ComplaintStatus.in_progress,
        ComplaintStatus.waiting,
    }
)
# Where each status may go (reopen: resolved/closed -> in_progress).
MOVES: dict[str, frozenset[str]] = {
    "new": frozenset({"acknowledged", "in_progress", "waiting", "resolved", "closed"}),
    "acknowledged": frozenset({"in_progress", "waiting", "resolved", "closed"}),
    "in_progress": frozenset({"waiting", "resolved", "closed"}),
    "waiting": frozenset({"in_progress", "resolved", "closed"}),
    "resolved": frozenset({"closed", "in_progress"}),
    "closed": frozenset({"in_progress"}),
}


class ComplaintNotFound(NotFound):
    code = "complaint-not-found"


class StatusRefused(Conflict):
    code = "complaint-status"


def get_complaint(session: Session, complaint_id: uuid.UUID) -> Complaint:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise ComplaintNotFound("no such complaint", complaint_id=str(complaint_id))
    return complaint


def _staff(session: Session, staff_id: uuid.UUID | None, field: str) -> StaffUser | None:
    if staff_id is None:
        return None
    try:
        return auth.get_user(session, staff_id)
    except NotFound:
        raise Invalid.field((field,), "no such staff member") from None


def _customer_channel(session: Session, customer_id: uuid.UUID) -> str | None:
    customer = customers.get_customer(session, customer_id)
    if customer.email:
        return "email"
    if customer.phone:
        return "sms"
    return None


def _tell(
    session: Session,
    complaint: Complaint,
    *,
    reason: str,
    occasion: str,
    subject: str,
    text: dict[str, str],
    context: dict[str, Any] | None = None,
) -> None:
    """Queue a transactional message to the complaint's customer (once per reason, occasion)."""
    channel = _customer_channel(session, complaint.customer_id)
    if channel is None:
        return
    queue_message(
        session,
        customer_id=complaint.customer_id,
        channel=channel,
        kind="transactional",
        reason=reason,
        occasion=occasion,
        content=Content(subject=texts.in_every_language(subject), text=text),
        context={"complaint_id": str(complaint.id), **(context or {})},
    )


def record_entry(
    session: Session,
    complaint: Complaint,
    kind: ComplaintEntryKind,
    *,
    text: str | None = None,
    status: str | None = None,
    staff_id: uuid.UUID | None = None,
    by: str | None = None,
    at: datetime,
) -> ComplaintEntry:
    entry = ComplaintEntry(
        id=new_id(),
        complaint_id=complaint.id,
        kind=kind.value,
        text=text,
        status=status,
        staff_id=staff_id,
        by=by,
        at=at,
    )
    session.add(entry)
    return entry


# --------------------------------------------------------------------------- filing


def _due(
    clock: BusinessClock, policy: Policy, severity: str, at: datetime
) -> tuple[datetime, datetime]:
    target = policy.targets[severity]
    return (
        clock.add(at, target.first_response_hours * 3600),
        clock.add(at, target.resolution_hours * 3600),
    )


def search_text(*parts: str | None) -> str | None:
    """What the inbox's search reads: the parts folded (``search_key``) and joined."""
    return search_key(" | ".join(p for p in parts if p and p.strip()))


def _check(policy: Policy, data: ComplaintCreate) -> None:
    if data.category not in policy.categories:
        raise Invalid.field(("category",), f"one of {', '.join(policy.categories)}")


def _values(
    session: Session,
    settings: Settings,
    data: ComplaintCreate,
    *,
    channel: ComplaintChannel,
    by: str | None,
    survey_response_id: uuid.UUID | None,
) -> dict[str, Any]:
    policy = load_policy(session)
    _check(policy, data)
    customer = customers.get_live_customer(session, data.customer_id)
    _staff(session, data.staff_id, "staff_id")
    _staff(session, data.assignee_id, "assignee_id")
    now = utcnow()
    first_due, resolution_due = _due(
        clock_for(session, settings, policy), policy, data.severity, now
    )
    return {
        "id": new_id(),
        "kind": data.kind.value,
        "customer_id": customer.id,
        "category": data.category,
        "severity": data.severity.value,
        "channel": channel.value,
        "status": ComplaintStatus.new.value,
        "text": data.text.strip(),
        "search_text": search_text(data.text, data.product, data.location),
        "order_id": data.order_id,
        "product": data.product,
        "location": data.location,
        "staff_id": data.staff_id,
        "assignee_id": data.assignee_id,
        "survey_response_id": survey_response_id,
        "language": customer.language,
        "created_by": by,
        "created_at": now,
        "updated_at": now,
        "paused_seconds": 0,
        "first_response_due_at": first_due,
        "resolution_due_at": resolution_due,
    }


def _filed(session: Session, complaint: Complaint) -> None:
    record_entry(
        session,
        complaint,
        ComplaintEntryKind.status,
        status="new",
        by=complaint.created_by,
        at=complaint.created_at,
    )
    emit(
        session,
        ComplaintFiled(
            customer_id=complaint.customer_id,
            complaint_id=complaint.id,
            kind=complaint.kind,
            category=complaint.category,
            severity=complaint.severity,
            channel=complaint.channel,
            staff_id=complaint.staff_id,
        ),
    )
    if complaint.kind == ComplaintKind.complaint:
        _tell(
            session,
            complaint,
            reason="complaint.received",
            occasion=str(complaint.id),
            subject=texts.RECEIVED_SUBJECT,
            text=texts.in_every_language(texts.RECEIVED_TEXT),
        )
    session.flush()


def file_complaint(
    session: Session,
    *,
    settings: Settings,
    data: ComplaintCreate,
    channel: ComplaintChannel,
    by: str | None,
) -> Complaint:
    """Log a complaint (or praise) with its SLA due times; tell the customer it was received."""
    values = _values(session, settings, data, channel=channel, by=by, survey_response_id=None)
    complaint = Complaint(**values)
    session.add(complaint)
    session.flush()
    _filed(session, complaint)
    return complaint


def open_from_answer(
    session: Session, *, settings: Settings, survey: Survey, response: SurveyResponse
) -> Complaint | None:
    """The complaint an unhappy answer opens (once per answer: a unique key), or ``None``
    when the policy turns this off or one exists already."""
    policy = load_policy(session)
    if not policy.complaint_from_surveys:
        return None
    category = "other" if "other" in policy.categories else policy.categories[-1]
    data = ComplaintCreate(
        customer_id=response.customer_id,
        category=category,
        severity=Severity.normal,
        text=response.comment or f"{survey.name}: {response.score}",
    )
    values = _values(
        session,
        settings,
        data,
        channel=ComplaintChannel.survey,
        by=None,
        survey_response_id=response.id,
    )
    if not insert_new(session, Complaint, index_elements=["survey_response_id"], values=values):
        return None
    complaint = get_complaint(session, values["id"])
    _filed(session, complaint)
    return complaint


# --------------------------------------------------------------------------- working


def _move(
    session: Session,
    settings: Settings,
    complaint: Complaint,
    status: ComplaintStatus,
    *,
    by: str | None,
    staff_id: uuid.UUID | None,
    now: datetime,
) -> None:
    if status.value == complaint.status:
        return
    if status.value not in MOVES[complaint.status]:
        raise StatusRefused(
            f"a {complaint.status} complaint cannot become {status.value}",
            status=complaint.status,
            to=status.value,
        )
    if complaint.status == ComplaintStatus.waiting and complaint.waiting_since is not None:
        clock = clock_for(session, settings)
        waited = clock.seconds_between(complaint.waiting_since, now)
        complaint.paused_seconds += waited
        if complaint.first_response_at is None:
            complaint.first_response_due_at = clock.add(complaint.first_response_due_at, waited)
        complaint.resolution_due_at = clock.add(complaint.resolution_due_at, waited)
        complaint.waiting_since = None
    if status == ComplaintStatus.waiting:
        complaint.waiting_since = now
    if status == ComplaintStatus.resolved:
        complaint.resolved_at = now
    if status == ComplaintStatus.closed:
        complaint.closed_at = now
        complaint.resolved_at = complaint.resolved_at or now
    if status == ComplaintStatus.in_progress and complaint.status in ("resolved", "closed"):
        complaint.resolved_at = None
        complaint.closed_at = None
    complaint.status = status.value
    complaint.updated_at = now
    record_entry(
        session,
        complaint,
        ComplaintEntryKind.status,
        status=status.value,
        staff_id=staff_id,
        by=by,
        at=now,
    )


def set_status(
    session: Session,
    *,
    settings: Settings,
    complaint_id: uuid.UUID,
    status: ComplaintStatus,
    by: str | None,
    staff_id: uuid.UUID | None = None,
    note: str | None = None,
) -> Complaint:
    """Move a complaint along its workflow (see ``MOVES``); resolving tells the customer and
    asks how it was handled."""
    complaint = get_complaint(session, complaint_id)
    now = utcnow()
    _move(session, settings, complaint, status, by=by, staff_id=staff_id, now=now)
    if note and note.strip():
        record_entry(
            session,
            complaint,
            ComplaintEntryKind.note,
            text=note.strip(),
            staff_id=staff_id,
            by=by,
            at=now,
        )
    if status == ComplaintStatus.resolved and complaint.kind == ComplaintKind.complaint:
        _resolved(session, settings, complaint, now)
    session.flush()
    return complaint


def _resolved(session: Session, settings: Settings, complaint: Complaint, now: datetime) -> None:
    from wafa.feedback import service  # service opens complaints from answers

    link = service.survey_link(
        session,
        settings=settings,
        customer_id=complaint.customer_id,
        occasion=f"complaint:{complaint.id}",
        touchpoint="complaint",
    )
    text = texts.in_every_language(texts.RESOLVED_TEXT)
    if link is not None:
        text = {k: v + "\n\n" + texts.gettext(k, texts.RESOLVED_SURVEY) for k, v in text.items()}
    # A complaint resolved twice (after a reopen) tells the customer each time.
    resolutions = sum(
        1
        for e in session.scalars(
            select(ComplaintEntry).where(
                ComplaintEntry.complaint_id == complaint.id, ComplaintEntry.status == "resolved"
            )
        )
    )
    _tell(
        session,
        complaint,
        reason="complaint.resolved",
        occasion=f"{complaint.id}:{resolutions}",
        subject=texts.RESOLVED_SUBJECT,
        text=text,
        context={"survey_url": link.url if link else ""},
    )
    emit(
        session,
        ComplaintResolved(
            customer_id=complaint.customer_id,
            complaint_id=complaint.id,
            category=complaint.category,
            survey_url=link.url if link else None,
        ),
    )


def reply(
    session: Session,
    *,
    settings: Settings,
    complaint_id: uuid.UUID,
    text: str,
    by: str | None,
    staff_id: uuid.UUID | None = None,
) -> ComplaintEntry:
    """Answer the customer: the reply is kept on the complaint and sent through messaging
    (transactional, once per reply). The first reply is the first response; a new or
    acknowledged complaint moves to ``in_progress``."""
    body = (text or "").strip()
    if not body:
        raise Invalid.field(("text",), "write the reply")
    if len(body) > 5000:
        raise Invalid.field(("text",), "at most 5000 characters")
    complaint = get_complaint(session, complaint_id)
    now = utcnow()
    entry = record_entry(
        session, complaint, ComplaintEntryKind.reply, text=body, staff_id=staff_id, by=by, at=now
    )
    if complaint.first_response_at is None:
        complaint.first_response_at = now
    if complaint.status in (ComplaintStatus.new, ComplaintStatus.acknowledged):
        _move(
            session,
            settings,
            complaint,
            ComplaintStatus.in_progress,
            by=by,
            staff_id=staff_id,
            now=now,
        )
    complaint.updated_at = now
    session.flush()
    _tell(
        session,
        complaint,
        reason="complaint.reply",
        occasion=str(entry.id),
        subject=texts.REPLY_SUBJECT,
        # The staff's words go in as a value, never as template text.
        text={"en": "{{ reply }}"},
        context={"reply": body},
    )
    return entry


def add_note(
    session: Session,
    *,
    complaint_id: uuid.UUID,
    text: str,
    by: str | None,
    staff_id: uuid.UUID | None = None,
) -> ComplaintEntry:
    """An internal note: never shown or sent to the customer."""
    body = (text or "").strip()
    if not body:
        raise Invalid.field(("text",), "write the note")
    complaint = get_complaint(session, complaint_id)
    entry = record_entry(
        session,
        complaint,
        ComplaintEntryKind.note,
        text=body[:5000],
        staff_id=staff_id,
        by=by,
        at=utcnow(),
    )
    session.flush()
    return entry


def assign(
    session: Session,
    *,
    complaint_id: uuid.UUID,
    assignee_id: uuid.UUID | None,
    by: str | None,
    staff_id: uuid.UUID | None = None,
) -> Complaint:
    """Give the complaint to a staff member (``None``: nobody)."""
    complaint = get_complaint(session, complaint_id)
    assignee = _staff(session, assignee_id, "assignee_id")
    complaint.assignee_id = assignee_id
    now = utcnow()
    complaint.updated_at = now
    label = (assignee.name or assignee.email) if assignee is not None else None
    record_entry(
        session, complaint, ComplaintEntryKind.assign, text=label, staff_id=staff_id, by=by, at=now
    )
    session.flush()
    return complaint


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Clock:
    """One SLA timer as the dashboard shows it."""

    due_at: datetime
    done_at: datetime | None
    state: str  # met, breached, running, warning, overdue, paused

    @property
    def overdue(self) -> bool:
        return self.state in ("overdue", "breached")


def _timer(
    due: datetime, done: datetime | None, *, paused: bool, now: datetime, warn: timedelta
) -> Clock:
    if done is not None:
        return Clock(due, done, "met" if done <= due else "breached")
    if paused:
        return Clock(due, None, "paused")
    if now > due:
        return Clock(due, None, "overdue")
    if now > due - warn:
        return Clock(due, None, "warning")
    return Clock(due, None, "running")


def timers(complaint: Complaint, *, now: datetime, policy: Policy) -> tuple[Clock, Clock]:
    """The first-response and resolution timers of ``complaint`` at ``now``."""
    paused = complaint.status == ComplaintStatus.waiting
    warn = timedelta(hours=policy.warn_before_hours)
    return (
        _timer(
            complaint.first_response_due_at,
            complaint.first_response_at,
            paused=paused,
            now=now,
            warn=warn,
        ),
        _timer(
            complaint.resolution_due_at, complaint.resolved_at, paused=paused, now=now, warn=warn
        ),
    )


def complaints_query(
    *,
    customer_id: uuid.UUID | None = None,
    status: str | None = None,
    category: str | None = None,
    severity: str | None = None,
    assignee_id: uuid.UUID | None = None,
    staff_id: uuid.UUID | None = None,
    kind: str | None = None,
    open_only: bool = False,
    overdue_at: datetime | None = None,
    q: str | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> Select[Complaint]:
    """Complaints matching the filters, newest first; ``q`` finds the folded words in the
    text, product or location (so "كيك" finds "کیک"); ``after`` (a row's ``(created_at,
    id)``) starts the page after that row."""
    query = select(Complaint).order_by(Complaint.created_at.desc(), Complaint.id.desc())
    needle = search_key(q) if q else None
    if needle:
        query = query.where(Complaint.search_text.contains(needle, autoescape=True))
    if after is not None:
        at, last = after
        query = query.where(
            or_(
                Complaint.created_at < at,
                and_(Complaint.created_at == at, Complaint.id < last),
            )
        )
    if customer_id is not None:
        query = query.where(Complaint.customer_id == customer_id)
    if status:
        query = query.where(Complaint.status == status)
    if category:
        query = query.where(Complaint.category == category)
    if severity:
        query = query.where(Complaint.severity == severity)
    if assignee_id is not None:
        query = query.where(Complaint.assignee_id == assignee_id)
    if staff_id is not None:
        query = query.where(Complaint.staff_id == staff_id)
    if kind:
        query = query.where(Complaint.kind == kind)
    if open_only:
        query = query.where(Complaint.status.in_([s.value for s in OPEN]))
    if overdue_at is not None:
        query = query.where(
            Complaint.status.in_(["new", "acknowledged", "in_progress"]),
            or_(
                (Complaint.first_response_at.is_(None))
                & (Complaint.first_response_due_at < overdue_at),
                Complaint.resolution_due_at < overdue_at,
            ),
        )
    return query


def list_complaints(session: Session, *, limit: int = 50, **filters: Any) -> list[Complaint]:
    """Complaints matching ``filters`` (see ``complaints_query``), newest first."""
    return list(session.scalars(complaints_query(**filters).limit(limit)))


def page(
    session: Session, *, limit: int = 50, cursor: str | None = None, **filters: Any
) -> tuple[list[Complaint], str | None]:
    """One page of ``list_complaints`` and the cursor of the next (``None`` at the end).

    Keyset pagination over ``(created_at, id)``: the cursor names the page's last complaint,
    so a page never repeats or skips one however many are filed meanwhile."""
    after = None
    if cursor:
        last_id = decode_cursor(cursor)
        at = session.scalar(select(Complaint.created_at).where(Complaint.id == last_id))
        if at is None:
            raise Invalid.field(("cursor",), "not a cursor returned by this list")
        after = (at, last_id)
    found = list(session.scalars(complaints_query(after=after, **filters).limit(limit + 1)))
    more = len(found) > limit
    found = found[:limit]
    return found, (encode_cursor(found[-1].id) if more and found else None)


def history(
    session: Session, complaint_id: uuid.UUID, *, internal: bool = True
) -> list[ComplaintEntry]:
    """The complaint's entries, oldest first (``internal=False``: only replies, for the customer)."""
    query = select(ComplaintEntry).where(ComplaintEntry.complaint_id == complaint_id)
    if not internal:
        query = query.where(ComplaintEntry.kind == ComplaintEntryKind.reply.value)
    return list(session.scalars(query.order_by(ComplaintEntry.at, ComplaintEntry.id)))


def customer_replies(
    session: Session, customer_id: uuid.UUID
) -> list[tuple[Complaint, list[ComplaintEntry]]]:
    """The customer's complaints with the replies sent to them (for their portal)."""
    found = list_complaints(session, customer_id=customer_id, kind="complaint", limit=100)
    return [(c, history(session, c.id, internal=False)) for c in found]


# --------------------------------------------------------------------------- personal data


def personal_data(session: Session, customer_id: uuid.UUID) -> list[dict[str, Any]]:
    """The person's complaints with the replies sent to them and the files they see (export)."""
    from wafa.feedback import attachments

    held = customer_replies(session, customer_id)
    files = attachments.export(session, [c.id for c, _ in held])
    return [
        {
            "kind": c.kind,
            "category": c.category,
            "status": c.status,
            "text": c.text,
            "created_at": c.created_at.isoformat(),
            "resolved_at": c.resolved_at.isoformat() if c.resolved_at else None,
            "replies": [{"text": e.text, "at": e.at.isoformat()} for e in entries],
            "attachments": files[c.id],
        }
        for c, entries in held
    ]


def erase(session: Session, customer_id: uuid.UUID) -> None:
    """Blank what the person wrote and what was written to or about them; the complaints
    stay counted (category, dates, SLA) for the reports; their files are deleted."""
    from wafa.feedback import attachments

    attachments.erase(session, customer_id)
    ids = select(Complaint.id).where(Complaint.customer_id == customer_id)
    session.execute(
        update(Compensation)
        .where(Compensation.customer_id == customer_id)
        .values(reason="")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(ComplaintEntry)
        .where(ComplaintEntry.complaint_id.in_(ids), ComplaintEntry.kind.in_(["reply", "note"]))
        .values(text=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Complaint)
        .where(Complaint.customer_id == customer_id)
        .values(text="", product=None, language=None, search_text=None)
        .execution_options(synchronize_session=False)
    )


# --------------------------------------------------------------------------- staff


def anonymous_for(complaint: Complaint, *, staff_id: uuid.UUID, full_view: bool) -> bool:
    """Whether ``staff_id`` sees ``complaint`` without the customer: criticism of a staff
    member is shown to them with nothing that identifies the customer (owners and managers,
    ``full_view``, see everything)."""
    return (
        complaint.kind == ComplaintKind.complaint
        and complaint.staff_id == staff_id
        and not full_view
    )


def staff_feedback(
    session: Session, staff_id: uuid.UUID, *, limit: int = 100
) -> list[dict[str, Any]]:
    """What a staff member sees about themselves: praise with the customer's first name,
    criticism with nothing that identifies the customer (no name, order, product or id)."""
    from wafa.messaging.personalize import first_name

    found = list_complaints(session, staff_id=staff_id, limit=limit)
    shown: list[dict[str, Any]] = []
    for c in found:
        praise = c.kind == ComplaintKind.praise
        shown.append(
            {
                "kind": c.kind,
                "category": c.category,
                "text": c.text,
                "on": c.created_at,
                "status": c.status,
                "first_name": first_name(customers.get_customer(session, c.customer_id).name)
                if praise
                else None,
            }
        )
    return shown


# --------------------------------------------------------------------------- reports


def _quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None, "count": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        # Linear interpolation between closest ranks (numpy's default "linear" method).
        pos = q * (len(ordered) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(ordered) - 1)
        return round(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo), 2)

    return {"median": at(0.5), "p90": at(0.9), "count": len(ordered)}


def response_times(
    session: Session, *, settings: Settings, since: datetime, until: datetime | None = None
) -> dict[str, dict[str, float | None]]:
    """Median and 90th percentile of the first-response and resolution times, in business
    hours (time waiting on the customer left out), of complaints filed in ``[since, until)``."""
    clock = clock_for(session, settings)
    query = select(Complaint).where(
        Complaint.kind == ComplaintKind.complaint.value, Complaint.created_at >= since
    )
    if until is not None:
        query = query.where(Complaint.created_at < until)
    first: list[float] = []
    resolution: list[float] = []
    for c in session.scalars(query):
        if c.first_response_at is not None:
            first.append(clock.seconds_between(c.created_at, c.first_response_at) / 3600)
        if c.resolved_at is not None:
            spent = clock.seconds_between(c.created_at, c.resolved_at) - c.paused_seconds
            resolution.append(max(spent, 0) / 3600)
    return {"first_response": _quantiles(first), "resolution": _quantiles(resolution)}
