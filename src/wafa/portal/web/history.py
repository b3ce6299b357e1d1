"""History: the customer's orders with the points each earned, and why they have their points."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import AppSettings, ReadSession
from wafa.portal import views
from wafa.portal.web.common import Me, PortalRoute, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


@router.get("/portal/history")
def history(request: Request, session: ReadSession, settings: AppSettings, me: Me) -> HTMLResponse:
    """Latest orders and points lines, each with its reason in words."""
    page = views.history(session, settings=settings, customer_id=me.id)
    return render(request, "portal/history.html", {"page": page, "tab": "history"})
