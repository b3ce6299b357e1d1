"""/api/v1 feedback: surveys, their answers and results, survey links; complaints (file,
list, reply, note, assign, status, resolve); the complaint policy.

Scopes: ``read`` for every GET; ``write`` to record an answer or ask for a link (what a
shop's systems do) and to work complaints; ``admin`` to create a survey or change the policy. Every POST honours
``Idempotency-Key``; an answer is also unique per (survey, customer, occasion) by itself.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from sqlalchemy.orm import Session

from wafa.api.deps import (
    AppSettings,
    DbSession,
    Idempotent,
    MayMessage,
    MaySettings,
    MayViewReports,
    Principal,
    Reader,
    ReadSession,
    Writer,
)
from wafa.api.routing import AutoCommitRoute
from wafa.auth.models import StaffUser
from wafa.auth.permissions import Permission
from wafa.core.errors import Invalid
from wafa.core.time import utcnow
from wafa.feedback import attachments, breakdown, compensation, complaints, recurring, service
from wafa.feedback.breakdown import Dimension
from wafa.feedback.models import (
    AnswerChannel,
    Compensation,
    Complaint,
    ComplaintAttachment,
    ComplaintChannel,
    ComplaintEntry,
    ComplaintStatus,
    Survey,
    SurveyResponse,
)
from wafa.feedback.policy import Policy, load_policy, save_policy
from wafa.feedback.schemas import (
    Assignment,
    AttachmentRead,
    Breakdown,
    CompensationCreate,
    CompensationRead,
    ComplaintCreate,
    ComplaintPage,
    ComplaintRead,
    EntryRead,
    Group,
    LinkCreate,
    LinkRead,
    ReplyCreate,
    ResponseCreate,
    ResponseRead,
    Results,
    StatusChange,
    SurveyCreate,
    SurveyRead,
)

router = APIRouter(route_class=AutoCommitRoute, tags=["feedback"])


@router.post("/surveys", status_code=201, response_model=SurveyRead, dependencies=[Idempotent])
def create_survey(body: SurveyCreate, session: DbSession, principal: MayMessage) -> Survey:
    """A new survey: ``{"kind": "nps"|"csat"|"ces", "name", "question": {"en": ...}}``."""
    return service.create_survey(session, data=body)


@router.get("/surveys", response_model=list[SurveyRead])
def list_surveys(session: ReadSession, principal: Reader) -> list[Survey]:
    return service.list_surveys(session)


@router.get("/surveys/{survey_id}", response_model=SurveyRead)
def get_survey(survey_id: uuid.UUID, session: ReadSession, principal: Reader) -> Survey:
    return service.get_survey(session, survey_id)


@router.post(
    "/surveys/{survey_id}/responses",
    status_code=201,
    response_model=ResponseRead,
    dependencies=[Idempotent],
    responses={200: {"model": ResponseRead, "description": "Answered before for this occasion"}},
)
def record_response(
    survey_id: uuid.UUID,
    body: ResponseCreate,
    session: DbSession,
    settings: AppSettings,
    principal: Writer,
    response: Response,
) -> SurveyResponse:
    """``201`` for a first answer; ``200`` when this customer already answered for this
    occasion (updated within the survey's edit window, never counted twice)."""
    answer = service.answer(
        session,
        settings=settings,
        survey_id=survey_id,
        customer_id=body.customer_id,
        occasion=body.occasion,
        score=body.score,
        comment=body.comment,
        channel=AnswerChannel.api,
        order_id=body.order_id,
        staff_id=_known_staff(session, body.staff_id),
    )
    if not answer.created:
        response.status_code = 200
    return answer.response


@router.get("/surveys/{survey_id}/results", response_model=Results)
def survey_results(survey_id: uuid.UUID, session: ReadSession, principal: Reader) -> Any:
    return service.results(session, survey_id=survey_id)


@router.get("/surveys/{survey_id}/breakdown", response_model=Breakdown)
def survey_breakdown(
    survey_id: uuid.UUID,
    session: ReadSession,
    principal: Reader,
    by: Annotated[Dimension, Query()] = "location",
    since: datetime | None = None,
    until: datetime | None = None,
) -> Breakdown:
    """The survey's figures per ``by`` (``location``, ``channel``, ``staff`` or ``product``
    of the order each answer is about), with a 95 % margin and a small-group flag."""
    survey = service.get_survey(session, survey_id)
    groups = breakdown.breakdown(session, survey_id=survey.id, by=by, since=since, until=until)
    return Breakdown(
        survey_id=survey.id,
        kind=survey.kind,
        by=by,
        min_responses=breakdown.SMALL,
        groups=[Group.model_validate(g) for g in groups],
    )


def _known_staff(session: Session, staff_id: uuid.UUID | None) -> uuid.UUID | None:
    if staff_id is not None and session.get(StaffUser, staff_id) is None:
        raise Invalid.field(("staff_id",), "no such staff member")
    return staff_id


@router.post("/surveys/{survey_id}/links", response_model=LinkRead, dependencies=[Idempotent])
def survey_link(
    survey_id: uuid.UUID,
    body: LinkCreate,
    session: DbSession,
    settings: AppSettings,
    principal: Writer,
) -> LinkRead:
    """A signed, expiring answer link, or ``{"url": null, "skipped": reason}`` when the
    fatigue rules say the customer was asked too recently."""
    made = service.survey_link_or_reason(
        session,
        settings=settings,
        customer_id=body.customer_id,
        occasion=body.occasion,
        survey_id=survey_id,
        order_id=body.order_id,
        staff_id=_known_staff(session, body.staff_id),
    )
    if isinstance(made, service.Skipped):
        return LinkRead(url=None, expires_at=None, skipped=made.reason)
    return LinkRead(url=made.url, expires_at=made.expires_at)


# --------------------------------------------------------------------------- complaints


def _staff_id(principal: Principal) -> uuid.UUID | None:
    return principal.id if principal.kind == "staff" else None


@router.post(
    "/complaints", status_code=201, response_model=ComplaintRead, dependencies=[Idempotent]
)
def file_complaint(
    body: ComplaintCreate, session: DbSession, settings: AppSettings, principal: Writer
) -> Complaint:
    """Log a complaint (or praise) with its SLA due times; the customer is told it was received."""
    return complaints.file_complaint(
        session, settings=settings, data=body, channel=ComplaintChannel.api, by=principal.label
    )


@router.get("/complaints", response_model=ComplaintPage)
def list_complaints(
    session: ReadSession,
    principal: Reader,
    customer_id: uuid.UUID | None = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    category: Annotated[str | None, Query(max_length=40)] = None,
    severity: Annotated[str | None, Query(max_length=16)] = None,
    assignee_id: uuid.UUID | None = None,
    overdue: bool = False,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Complaints, newest first: ``{"items": [...], "next_cursor": ...}``; ``q`` searches
    the text, product and location with Arabic and Persian letter forms folded."""
    items, next_cursor = complaints.page(
        session,
        limit=limit,
        cursor=cursor,
        q=q,
        customer_id=customer_id,
        status=status,
        category=category,
        severity=severity,
        assignee_id=assignee_id,
        overdue_at=utcnow() if overdue else None,
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get("/complaints/recurring")
def recurring_complaints(
    session: ReadSession, settings: AppSettings, principal: MayViewReports
) -> dict[str, Any]:
    """Every group with complaints in the last 28 days against its baseline (``flagged``:
    the rise is beyond chance), and the complaints of the last three weeks that read alike."""
    flags = recurring.detect(session, settings=settings)
    return {
        "groups": [asdict(f) for f in flags],
        "similar": [asdict(g) for g in recurring.similar_complaints(session)],
    }


@router.get("/complaints/{complaint_id}", response_model=ComplaintRead)
def get_complaint(complaint_id: uuid.UUID, session: ReadSession, principal: Reader) -> Complaint:
    return complaints.get_complaint(session, complaint_id)


@router.get("/complaints/{complaint_id}/entries", response_model=list[EntryRead])
def complaint_entries(
    complaint_id: uuid.UUID, session: ReadSession, principal: Reader
) -> list[ComplaintEntry]:
    """The complaint's history: replies, internal notes, status changes, assignments."""
    complaints.get_complaint(session, complaint_id)
    return complaints.history(session, complaint_id)


@router.post(
    "/complaints/{complaint_id}/status", response_model=ComplaintRead, dependencies=[Idempotent]
)
def change_status(
    complaint_id: uuid.UUID,
    body: StatusChange,
    session: DbSession,
    settings: AppSettings,
    principal: Writer,
) -> Complaint:
    """Move along ``new → acknowledged → in_progress → resolved → closed`` (``waiting``
    pauses the SLA clocks; ``in_progress`` from resolved or closed reopens)."""
    return complaints.set_status(
        session,
        settings=settings,
        complaint_id=complaint_id,
        status=body.status,
        by=principal.label,
        staff_id=_staff_id(principal),
        note=body.note,
    )


@router.post(
    "/complaints/{complaint_id}/resolve", response_model=ComplaintRead, dependencies=[Idempotent]
)
def resolve(
    complaint_id: uuid.UUID, session: DbSession, settings: AppSettings, principal: Writer
) -> Complaint:
    """Resolve: the customer is told, and asked how it was handled."""
    return complaints.set_status(
        session,
        settings=settings,
        complaint_id=complaint_id,
        status=ComplaintStatus.resolved,
        by=principal.label,
        staff_id=_staff_id(principal),
    )


@router.post(
    "/complaints/{complaint_id}/replies",
    status_code=201,
    response_model=EntryRead,
    dependencies=[Idempotent],
)
def reply(
    complaint_id: uuid.UUID,
    body: ReplyCreate,
    session: DbSession,
    settings: AppSettings,
    principal: Writer,
) -> ComplaintEntry:
    """A reply sent to the customer through messaging, or an internal note (``internal``)."""
    if body.internal:
        return complaints.add_note(
            session,
            complaint_id=complaint_id,
            text=body.text,
            by=principal.label,
            staff_id=_staff_id(principal),
        )
    return complaints.reply(
        session,
        settings=settings,
        complaint_id=complaint_id,
        text=body.text,
        by=principal.label,
        staff_id=_staff_id(principal),
    )


@router.post(
    "/complaints/{complaint_id}/assign", response_model=ComplaintRead, dependencies=[Idempotent]
)
def assign(
    complaint_id: uuid.UUID, body: Assignment, session: DbSession, principal: Writer
) -> Complaint:
    return complaints.assign(
        session,
        complaint_id=complaint_id,
        assignee_id=body.assignee_id,
        by=principal.label,
        staff_id=_staff_id(principal),
    )


def read_uploads(files: list[UploadFile]) -> list[attachments.Upload]:
    """The uploaded files' bytes, each read no further than one byte past the limit."""
    return [
        attachments.Upload(data=f.file.read(attachments.MAX_BYTES + 1), filename=f.filename)
        for f in files
    ]


def _not_hidden(principal: Principal, complaint: Complaint) -> None:
    """A staff member never reaches the files of criticism of themselves (they would
    show the customer); API keys and full views do."""
    if principal.kind == "staff" and complaints.anonymous_for(
        complaint, staff_id=principal.id, full_view=principal.may(Permission.view_reports)
    ):
        raise complaints.ComplaintNotFound("no such complaint")


@router.post(
    "/complaints/{complaint_id}/attachments",
    status_code=201,
    response_model=list[AttachmentRead],
    # No ``Idempotency-Key`` claim: the key's hash would need the raw body, which the form
    # parser has consumed; a replay is harmless anyway, the same bytes are kept once.
    max_body_size=attachments.BODY_LIMIT,
)
def add_attachments(
    complaint_id: uuid.UUID,
    session: DbSession,
    principal: Writer,
    files: Annotated[
        list[UploadFile],
        File(description="Photos (JPEG, PNG, WebP) or PDFs, up to 10 MB each, 8 per complaint."),
    ],
    from_customer: Annotated[
        bool, Form(description="The customer sent these (shown to them).")
    ] = False,
    shared: Annotated[
        bool, Form(description="Show staff files to the customer on their portal.")
    ] = False,
) -> list[ComplaintAttachment]:
    """Attach photos or PDFs, checked by their content (413 over the size limit, 422 for
    another type or one file too many, naming ``files.N``); a photo's metadata (EXIF, GPS)
    is removed. The same file sent twice is kept once (a replay changes nothing)."""
    complaint = complaints.get_complaint(session, complaint_id)
    _not_hidden(principal, complaint)
    prepared = attachments.prepare_all(read_uploads(files))
    return attachments.attach(
        session,
        complaint_id=complaint_id,
        files=prepared,
        from_customer=from_customer,
        shared=shared,
        by=principal.label,
        staff_id=_staff_id(principal),
    )


@router.get("/complaints/{complaint_id}/attachments", response_model=list[AttachmentRead])
def list_attachments(
    complaint_id: uuid.UUID, session: ReadSession, principal: Reader
) -> list[ComplaintAttachment]:
    complaint = complaints.get_complaint(session, complaint_id)
    _not_hidden(principal, complaint)
    return attachments.for_complaint(session, complaint_id)


@router.get(
    "/complaints/{complaint_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={200: {"content": {ct: {} for ct in attachments.CONTENT_TYPES}}},
)
def attachment_content(
    complaint_id: uuid.UUID, attachment_id: uuid.UUID, session: ReadSession, principal: Reader
) -> Response:
    """The file's bytes with its stored type, ``nosniff``, a download for a PDF."""
    complaint = complaints.get_complaint(session, complaint_id)
    _not_hidden(principal, complaint)
    found = attachments.get(session, complaint_id=complaint_id, attachment_id=attachment_id)
    return Response(content=found.data, headers=attachments.headers(found))


@router.get("/feedback/policy", response_model=Policy)
def get_policy(session: ReadSession, principal: Reader) -> Policy:
    """Categories, opening hours, SLA targets per severity, complaints from surveys."""
    return load_policy(session)


@router.put("/feedback/policy", response_model=Policy)
def put_policy(body: Policy, session: DbSession, principal: MaySettings) -> Policy:
    save_policy(session, body, by=principal.label)
    return body


# --------------------------------------------------------------------------- compensation


def _role(principal: Principal) -> str:
    """A staff member's role; an API key counts as the owner when it may change settings
    (``admin``), as a manager when it may adjust points (``write``), else as a cashier."""
    if principal.role is not None:
        return principal.role
    if principal.may(Permission.settings):
        return "owner"
    return "manager" if principal.may(Permission.adjust_points) else "cashier"


@router.post(
    "/complaints/{complaint_id}/compensations",
    status_code=201,
    response_model=CompensationRead,
    dependencies=[Idempotent],
    responses={200: {"model": CompensationRead, "description": "Given before for this key"}},
)
def compensate(
    complaint_id: uuid.UUID,
    body: CompensationCreate,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: Writer,
    response: Response,
) -> Compensation:
    """Points (available at once) or a single-use coupon, once per ``Idempotency-Key``
    (without one, every request is a new gift); within the caller's role limit."""
    made, created = compensation.compensate(
        session,
        settings=settings,
        complaint_id=complaint_id,
        data=body,
        key=request.headers.get("idempotency-key") or str(uuid.uuid4()),
        role=_role(principal),
        by=principal.label,
        staff_id=_staff_id(principal),
    )
    if not created:
        response.status_code = 200
    return made


@router.get("/complaints/{complaint_id}/compensations", response_model=list[CompensationRead])
def compensations(
    complaint_id: uuid.UUID, session: ReadSession, principal: Reader
) -> list[Compensation]:
    complaints.get_complaint(session, complaint_id)
    return compensation.for_complaint(session, complaint_id)


# --------------------------------------------------------------------------- reports


@router.get("/feedback/reports")
def feedback_reports(
    session: ReadSession, settings: AppSettings, principal: MayViewReports
) -> dict[str, Any]:
    """Answer times (median, 90th percentile, business hours, last 90 days) and compensation
    per complaint category."""
    since = utcnow() - timedelta(days=90)
    return {
        "response_times": complaints.response_times(session, settings=settings, since=since),
        "compensation": compensation.report(session),
    }
