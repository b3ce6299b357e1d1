"""The overview page: this month's sales, customers and repeat rate at a glance."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import AppSettings, ReadSession
from wafa.auth.permissions import Permission
from wafa.core.time import utcnow
from wafa.orders import queries as order_queries
from wafa.web.auth import Staff, may, see_other
from wafa.web.nav import home_for
from wafa.web.routing import WebRoute
from wafa.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request, session: ReadSession, settings: AppSettings, user: Staff
) -> Response:
    if not may(user, Permission.view_reports):
        return see_other(home_for(request, user))  # cashiers start on their own page
    data = order_queries.overview(
        session,
        now=utcnow(),
        zone=settings.zone,
        calendar=settings.calendar,
        currency=settings.currency,
    )
    peak = max((m.amount for m in data.months), default=0)
    return render(request, "home.html", {"data": data, "peak": peak})
