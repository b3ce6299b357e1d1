"""The opt-in leaderboard of a month of the business calendar."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import AppSettings, ReadSession
from wafa.loyalty import views
from wafa.loyalty.web.common import context
from wafa.web.auth import MayViewReports
from wafa.web.routing import WebRoute
from wafa.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/loyalty/leaderboard", response_class=HTMLResponse)
def leaderboard_page(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayViewReports,
    month: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    day = views.parse_month(month, settings.calendar)
    board = views.leaderboard_view(session, settings=settings, month=day)
    return render(request, "loyalty/leaderboard.html", context(request, settings, view=board))
