"""The saved segments: name, size when last counted, when it was changed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import ReadSession
from wafa.messaging.segments import service
from wafa.web.auth import MayMessage
from wafa.web.routing import WebRoute
from wafa.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 50


@router.get("/segments", response_class=HTMLResponse)
def segments(
    request: Request, session: ReadSession, _: MayMessage, cursor: str | None = None
) -> HTMLResponse:
    items, next_cursor = service.list_segments(session, limit=PAGE_SIZE, cursor=cursor)
    return render(
        request,
        "messaging/segments/list.html",
        {"segments": items, "next_cursor": next_cursor, "cursor": cursor},
    )
