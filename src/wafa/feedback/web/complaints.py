"""The complaints inbox (filters, SLA badges), filing a complaint, and a complaint's page
(history, reply, internal note, status, assignment, compensation in one click)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.auth import service as auth
from wafa.auth.models import Role, StaffUser
from wafa.auth.permissions import Permission
from wafa.core.contacts import normalize_email, normalize_phone
from wafa.core.errors import NotFound, WafaError
from wafa.core.ids import new_id
from wafa.core.text import ascii_number
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.feedback import attachments, compensation, complaints
from wafa.feedback.models import Complaint, ComplaintChannel, ComplaintStatus
from wafa.feedback.policy import load_policy
from wafa.feedback.schemas import CompensationCreate, ComplaintCreate
from wafa.feedback.web.common import labels, refusal, refused_params
from wafa.messaging.personalize import first_name
from wafa.web.auth import Counter, may, see_other, staff_label
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

NAV = NavItem(
    N_("Complaints"),
    "/feedback/complaints",
    min_role=Role.cashier,
    icon="alert",
    order=70,
    section=N_("Feedback"),
)
STATUS_ACTIONS = (
    ("acknowledged", N_("Acknowledge")),
    ("waiting", N_("Waiting on the customer")),
    ("in_progress", N_("Back in progress")),
    ("resolved", N_("Resolve")),
    ("closed", N_("Close")),
)


def _full_view(user: StaffUser) -> bool:
    return may(user, Permission.view_reports)


def _row(
    session: Any, complaint: Complaint, user: StaffUser, now: Any, policy: Any
) -> dict[str, Any]:
    anonymous = complaints.anonymous_for(complaint, staff_id=user.id, full_view=_full_view(user))
    first, resolution = complaints.timers(complaint, now=now, policy=policy)
    customer = None if anonymous else customers.get_customer(session, complaint.customer_id)
    name = customer.name if customer is not None else None
    if customer is not None and complaint.staff_id == user.id and not _full_view(user):
        name = first_name(customer.name)  # praise reaches the staff member with a first name
    return {
        "c": complaint,
        "customer": customer,
        "name": name,
        "anonymous": anonymous,
        "first": first,
        "resolution": resolution,
    }


PAGE = 50


def _next_url(request: Request, cursor: str | None) -> str:
    """The inbox with the same filters, at ``cursor`` (``None``: the first page)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    if cursor:
        kept.append(("cursor", cursor))
    return "/feedback/complaints" + (f"?{urlencode(kept)}" if kept else "")


@router.get("/feedback/complaints", response_class=HTMLResponse)
def inbox(
    request: Request,
    session: ReadSession,
    user: Counter,
    status: Annotated[str | None, Query(max_length=16)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    severity: Annotated[str | None, Query(max_length=16)] = None,
    mine: Annotated[bool, Query()] = False,
    overdue: Annotated[bool, Query()] = False,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    policy = load_policy(session)
    now = utcnow()
    found, next_cursor = complaints.page(
        session,
        limit=PAGE,
        cursor=cursor or None,
        q=q or None,
        status=status or None,
        category=category or None,
        severity=severity or None,
        assignee_id=user.id if mine else None,
        open_only=status is None and not overdue,
        overdue_at=now if overdue else None,
    )
    rows = [_row(session, c, user, now, policy) for c in found]
    return render(
        request,
        "feedback/complaints.html",
        {
            "rows": rows,
            "filters": {
                "status": status,
                "category": category,
                "severity": severity,
                "mine": mine,
                "overdue": overdue,
                "q": q or "",
            },
            "next_url": _next_url(request, next_cursor) if next_cursor else None,
            "first_url": _next_url(request, None) if cursor else None,
            **labels(policy),
        },
    )


@router.get("/feedback/complaints/new", response_class=HTMLResponse)
def new_complaint(
    request: Request,
    session: ReadSession,
    user: Counter,
    customer: uuid.UUID | None = None,
) -> HTMLResponse:
    chosen = customers.get_customer(session, customer) if customer else None
    return render(
        request,
        "feedback/complaint_new.html",
        {"customer": chosen, "staff": auth.list_users(session), **labels(load_policy(session))},
    )


@router.post("/feedback/complaints/new")
def file_complaint(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Counter,
    text: Annotated[str, Form(max_length=5000)] = "",
    category: Annotated[str, Form(max_length=40)] = "other",
    severity: Annotated[str, Form(max_length=16)] = "normal",
    kind: Annotated[str, Form(max_length=16)] = "complaint",
    customer_id: Annotated[str, Form(max_length=40)] = "",
    contact: Annotated[str, Form(max_length=320)] = "",
    staff_id: Annotated[str, Form(max_length=40)] = "",
    product: Annotated[str, Form(max_length=200)] = "",
    location: Annotated[str, Form(max_length=120)] = "",
    channel: Annotated[str, Form(max_length=16)] = "dashboard",
) -> Response:
    """File a complaint (or praise) for a customer chosen on the page or found by phone/email."""
    cid = _customer_id(session, settings, customer_id, contact)
    if cid is None or not text.strip():
        flash(request, N_("Choose the customer and write what happened."), kind="error")
        return see_other(
            "/feedback/complaints/new" + (f"?customer={customer_id}" if customer_id else "")
        )
    try:
        data = ComplaintCreate.model_validate(
            {
                "customer_id": cid,
                "category": category,
                "severity": severity,
                "kind": kind,
                "text": text,
                "staff_id": staff_id or None,
                "product": product.strip() or None,
                "location": location.strip() or None,
            }
        )
        made = complaints.file_complaint(
            session,
            settings=settings,
            data=data,
            channel=ComplaintChannel.pos if channel == "pos" else ComplaintChannel.dashboard,
            by=staff_label(user),
        )
    except (WafaError, ValueError):
        flash(request, N_("The complaint could not be filed: check the fields."), kind="error")
        return see_other("/feedback/complaints/new")
    flash(request, N_("Complaint filed."))
    return see_other(f"/feedback/complaints/{made.id}")


def _customer_id(session: Any, settings: Any, customer_id: str, contact: str) -> uuid.UUID | None:
    if customer_id:
        try:
            return uuid.UUID(customer_id)
        except ValueError:
            return None
    value = contact.strip()
    if not value:
        return None
    try:
        if "@" in value:
            found = customers.find_customer_ids_by_contact(
                session, email=normalize_email(value), phone=None
            )
        else:
            phone = normalize_phone(ascii_number(value), settings.phone_region)
            found = customers.find_customer_ids_by_contact(session, email=None, phone=phone)
    except ValueError:
        return None
    return found[0] if found else None


@router.get("/feedback/complaints/{complaint_id}", response_class=HTMLResponse)
def complaint_page(
    request: Request, session: ReadSession, user: Counter, complaint_id: uuid.UUID
) -> HTMLResponse:
    policy = load_policy(session)
    complaint = complaints.get_complaint(session, complaint_id)
    row = _row(session, complaint, user, utcnow(), policy)
    entries = complaints.history(session, complaint.id, internal=not row["anonymous"])
    staff = {u.id: u for u in auth.list_users(session)}
    return render(
        request,
        "feedback/complaint.html",
        {
            **row,
            "entries": entries,
            "staff": staff,
            "named": staff.get(complaint.staff_id) if complaint.staff_id else None,
            "compensations": compensation.for_complaint(session, complaint.id),
            # Files would show the customer to a staff member reading criticism of themselves.
            "files": [] if row["anonymous"] else attachments.for_complaint(session, complaint.id),
            "accept": attachments.ACCEPT,
            "max_files": attachments.MAX_FILES,
            "max_mb": attachments.MAX_BYTES // (1024 * 1024),
            "status_actions": [
                (s, label) for s, label in STATUS_ACTIONS if s in complaints.MOVES[complaint.status]
            ],
            "form_key": str(new_id()),
            "may_work": not row["anonymous"],
            **labels(policy),
        },
    )


def _back(complaint_id: uuid.UUID) -> Response:
    return see_other(f"/feedback/complaints/{complaint_id}")


def _workable(session: Any, user: StaffUser, complaint_id: uuid.UUID) -> Complaint:
    complaint = complaints.get_complaint(session, complaint_id)
    if complaints.anonymous_for(complaint, staff_id=user.id, full_view=_full_view(user)):
        raise NotFound("no such complaint")  # a staff member does not work criticism of themselves
    return complaint


@router.post("/feedback/complaints/{complaint_id}/reply")
def reply(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Counter,
    complaint_id: uuid.UUID,
    text: Annotated[str, Form(max_length=5000)] = "",
    internal: Annotated[bool, Form()] = False,
) -> Response:
    _workable(session, user, complaint_id)
    if not text.strip():
        flash(request, N_("Write the reply first."), kind="error")
        return _back(complaint_id)
    if internal:
        complaints.add_note(
            session, complaint_id=complaint_id, text=text, by=staff_label(user), staff_id=user.id
        )
        flash(request, N_("Note added."))
    else:
        complaints.reply(
            session,
            settings=settings,
            complaint_id=complaint_id,
            text=text,
            by=staff_label(user),
            staff_id=user.id,
        )
        flash(request, N_("Reply sent to the customer."))
    return _back(complaint_id)


@router.post("/feedback/complaints/{complaint_id}/status")
def change_status(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Counter,
    complaint_id: uuid.UUID,
    status: Annotated[str, Form(max_length=16)],
) -> Response:
    _workable(session, user, complaint_id)
    try:
        complaints.set_status(
            session,
            settings=settings,
            complaint_id=complaint_id,
            status=ComplaintStatus(status),
            by=staff_label(user),
            staff_id=user.id,
        )
    except (WafaError, ValueError):
        flash(request, N_("This status cannot be set now."), kind="error")
    else:
        flash(request, N_("Status changed."))
    return _back(complaint_id)


@router.post("/feedback/complaints/{complaint_id}/assign")
def assign(
    request: Request,
    session: DbSession,
    user: Counter,
    complaint_id: uuid.UUID,
    assignee_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    _workable(session, user, complaint_id)
    try:
        complaints.assign(
            session,
            complaint_id=complaint_id,
            assignee_id=uuid.UUID(assignee_id) if assignee_id else None,
            by=staff_label(user),
            staff_id=user.id,
        )
    except (WafaError, ValueError):
        flash(request, N_("Choose a staff member."), kind="error")
    else:
        flash(request, N_("Assigned."))
    return _back(complaint_id)


@router.post("/feedback/complaints/{complaint_id}/compensate")
def compensate(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Counter,
    complaint_id: uuid.UUID,
    key: Annotated[str, Form(min_length=8, max_length=120)],
    gift: Annotated[str, Form(max_length=16)] = "points",
    points: Annotated[int | None, Form(ge=1, le=1_000_000)] = None,
    percent: Annotated[int | None, Form(ge=1, le=100)] = None,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """One click: points or a percentage coupon, once per form (its key)."""
    _workable(session, user, complaint_id)
    body: dict[str, Any] = {"reason": reason.strip() or "Sorry for the trouble"}
    if gift == "coupon":
        body["coupon"] = {"kind": "percent", "percent": percent}
    else:
        body["points"] = points
    try:
        data = CompensationCreate.model_validate(body)
        _, created = compensation.compensate(
            session,
            settings=settings,
            complaint_id=complaint_id,
            data=data,
            key=key,
            role=user.role,
            by=staff_label(user),
            staff_id=user.id,
        )
    except compensation.OverLimit:
        flash(request, N_("This is more than your role may give."), kind="error")
    except ValueError:
        flash(request, N_("Give a number of points or a percentage."), kind="error")
    else:
        flash(
            request,
            N_("Compensation given.") if created else N_("This compensation was already given."),
        )
    return _back(complaint_id)


@router.post(
    "/feedback/complaints/{complaint_id}/attachments", max_body_size=attachments.BODY_LIMIT
)
def add_attachments(
    request: Request,
    session: DbSession,
    user: Counter,
    complaint_id: uuid.UUID,
    files: Annotated[list[UploadFile] | None, File()] = None,
    shared: Annotated[bool, Form()] = False,
) -> Response:
    """Attach photos or PDFs (checked by content; a photo's EXIF and GPS removed); shown to
    the customer when ``shared``. A refused file names itself and nothing is kept."""
    _workable(session, user, complaint_id)
    chosen = [f for f in files or [] if f.filename or f.size]
    if not chosen:
        flash(request, N_("Choose a photo or a PDF first."), kind="error")
        return _back(complaint_id)
    uploads = [
        attachments.Upload(data=f.file.read(attachments.MAX_BYTES + 1), filename=f.filename)
        for f in chosen
    ]
    try:
        prepared = attachments.prepare_all(uploads)
        attachments.attach(
            session,
            complaint_id=complaint_id,
            files=prepared,
            from_customer=False,
            shared=shared,
            by=staff_label(user),
            staff_id=user.id,
        )
    except attachments.AttachmentRefused as exc:
        flash(request, refusal(exc), kind="error", **refused_params(exc, uploads))
    else:
        flash(request, N_("Files attached."))
    return _back(complaint_id)


@router.get("/feedback/complaints/{complaint_id}/attachments/{attachment_id}")
def attachment(
    session: ReadSession, user: Counter, complaint_id: uuid.UUID, attachment_id: uuid.UUID
) -> Response:
    """A file of a complaint this staff member may work (never of criticism of themselves)."""
    _workable(session, user, complaint_id)
    found = attachments.get(session, complaint_id=complaint_id, attachment_id=attachment_id)
    return Response(content=found.data, headers=attachments.headers(found))
