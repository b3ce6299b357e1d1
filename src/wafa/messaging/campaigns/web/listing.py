"""Every campaign: name, status, channel, recipients, when it was sent."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import ReadSession
from wafa.messaging.campaigns import service
from wafa.messaging.campaigns.web.words import WORDS
from wafa.web.auth import MayMessage
from wafa.web.routing import WebRoute
from wafa.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 50


@router.get("/campaigns", response_class=HTMLResponse)
def campaigns(
    request: Request, session: ReadSession, _: MayMessage, cursor: str | None = None
) -> HTMLResponse:
    items, next_cursor = service.list_campaigns(session, limit=PAGE_SIZE, cursor=cursor)
    return render(
        request,
        "messaging/campaigns/list.html",
        {"campaigns": items, "next_cursor": next_cursor, "cursor": cursor, **WORDS},
    )
