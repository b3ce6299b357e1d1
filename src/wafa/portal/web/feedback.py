"""Feedback: the survey to answer (feedback's answer page), complaints filed and followed."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from wafa.api.deps import AppSettings, DbSession
from wafa.feedback.texts import CATEGORIES, STATUSES
from wafa.portal import service, views
from wafa.portal.web.common import Me, PortalRoute, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


@router.get("/portal/feedback")
def feedback(request: Request, session: DbSession, settings: AppSettings, me: Me) -> HTMLResponse:
    """Open survey, my complaints with their status and replies, the form to file one."""
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
        },
    )


@router.post("/portal/feedback")
def file_complaint(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    me: Me,
    category: Annotated[str, Form(min_length=1, max_length=40)],
    text: Annotated[str, Form(min_length=1, max_length=5000)],
    nonce: Annotated[str, Form(max_length=64)],
    order_id: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """File a complaint (channel ``portal``); the shop answers on the same page."""
    complaint_id = service.file_complaint(
        session,
        settings=settings,
        customer_id=me.id,
        category=category,
        text=text,
        order_id=uuid.UUID(order_id) if order_id else None,
        nonce=nonce,
    )
    return RedirectResponse(f"/portal/feedback?filed=1#c-{complaint_id}", status_code=303)
