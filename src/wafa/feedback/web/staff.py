"""A staff member's own feedback: praise that names them (with the customer's first name)
and criticism of them, with nothing that identifies the customer."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import ReadSession
from wafa.auth.models import Role
from wafa.feedback import complaints
from wafa.feedback.web.common import labels
from wafa.web.auth import Staff
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.routing import WebRoute
from wafa.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

NAV = NavItem(
    N_("My feedback"),
    "/feedback/mine",
    min_role=Role.cashier,
    icon="star",
    order=73,
    section=N_("Feedback"),
)


@router.get("/feedback/mine", response_class=HTMLResponse)
def my_feedback(request: Request, session: ReadSession, user: Staff) -> HTMLResponse:
    return render(
        request,
        "feedback/mine.html",
        {"items": complaints.staff_feedback(session, user.id), **labels()},
    )
