"""Feedback: the survey to answer (feedback's answer page), complaints filed and followed."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.feedback import attachments
from wafa.feedback.texts import CATEGORIES, STATUSES
from wafa.feedback.web.common import refusal, refused_params
from wafa.portal import service, views
from wafa.portal.web.common import Me, PortalRoute, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


def _page(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    me: Me,
    *,
    refused: dict[str, object] | None = None,
    status: int = 200,
) -> HTMLResponse:
    page = views.feedback(session, settings=settings, customer_id=me.id)
    return render(
        request,
        "portal/feedback.html",
        {
            "page": page,
            "tab": "feedback",
            "nonce": secrets.token_urlsafe(24),
            "category_labels": CATEGORIES,
            "status_labels": STATUSES,
            "filed": request.query_params.get("filed") == "1",
            "added": request.query_params.get("added") == "1",
            "accept": attachments.ACCEPT,
            "max_files": attachments.MAX_FILES,
            "max_mb": attachments.MAX_BYTES // (1024 * 1024),
            "refused": refused,
        },
        status=status,
    )


@router.get("/portal/feedback")
def feedback(request: Request, session: DbSession, settings: AppSettings, me: Me) -> HTMLResponse:
    """Open survey, my complaints with their status and replies, the form to file one."""
    return _page(request, session, settings, me)


def _uploads(files: list[UploadFile] | None) -> list[attachments.Upload]:
    """The files chosen (an empty picker sends one nameless empty part: not a file)."""
    return [
        attachments.Upload(data=f.file.read(attachments.MAX_BYTES + 1), filename=f.filename)
        for f in files or []
        if f.filename or f.size
    ]


def _refused(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    me: Me,
    exc: attachments.AttachmentRefused,
    uploads: list[attachments.Upload],
    **kept: object,
) -> HTMLResponse:
    """The page again, naming the refused file and why; nothing was kept (rolled back),
    what was typed is."""
    session.rollback()
    values = {"message": refusal(exc), **refused_params(exc, uploads), **kept}
    return _page(request, session, settings, me, refused=values, status=exc.status)


@router.post("/portal/feedback", max_body_size=attachments.BODY_LIMIT)
def file_complaint(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    me: Me,
    category: Annotated[str, Form(min_length=1, max_length=40)],
    text: Annotated[str, Form(min_length=1, max_length=5000)],
    nonce: Annotated[str, Form(max_length=64)],
    order_id: Annotated[str, Form(max_length=40)] = "",
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """File a complaint (channel ``portal``) with photos or PDFs; the shop answers on the
    same page. A refused file files nothing and says which and why."""
    uploads = _uploads(files)
    try:
        complaint_id = service.file_complaint(
            session,
            settings=settings,
            customer_id=me.id,
            category=category,
            text=text,
            order_id=uuid.UUID(order_id) if order_id else None,
            nonce=nonce,
            files=attachments.prepare_all(uploads),
        )
    except attachments.AttachmentRefused as exc:
        return _refused(request, session, settings, me, exc, uploads, text=text, category=category)
    return RedirectResponse(f"/portal/feedback?filed=1#c-{complaint_id}", status_code=303)


@router.post("/portal/feedback/{complaint_id}/files", max_body_size=attachments.BODY_LIMIT)
def add_files(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    me: Me,
    complaint_id: uuid.UUID,
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """Add photos or PDFs to one of my complaints (the same file twice is kept once)."""
    uploads = _uploads(files)
    try:
        service.add_files(
            session,
            customer_id=me.id,
            complaint_id=complaint_id,
            files=attachments.prepare_all(uploads),
        )
    except attachments.AttachmentRefused as exc:
        return _refused(request, session, settings, me, exc, uploads, complaint=complaint_id)
    return RedirectResponse(f"/portal/feedback?added=1#c-{complaint_id}", status_code=303)


@router.get("/portal/feedback/{complaint_id}/files/{attachment_id}")
def file(
    session: ReadSession, me: Me, complaint_id: uuid.UUID, attachment_id: uuid.UUID
) -> Response:
    """A file of my own complaint that I may see (mine, or one the shop showed me); any
    other is not found."""
    found = attachments.get(
        session, complaint_id=complaint_id, attachment_id=attachment_id, customer_id=me.id
    )
    return Response(content=found.data, headers=attachments.headers(found))
