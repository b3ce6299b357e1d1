"""The portal's home page: points, tier, stamp cards, badges and rewards."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import AppSettings, ReadSession, public
from wafa.portal import views
from wafa.portal.web.common import Me, PortalRoute, render

router = APIRouter(
    route_class=PortalRoute,
    include_in_schema=False,
    dependencies=[public("the customer's own portal, behind the portal's own sign-in")],
)


@router.get("/portal/")
def home(request: Request, session: ReadSession, settings: AppSettings, me: Me) -> HTMLResponse:
    """Greeting, balance with release and expiry dates, tier progress, rewards now and next."""
    page = views.home(session, settings=settings, customer_id=me.id, known=me)
    return render(request, "portal/home.html", {"page": page, "tab": "home"})
