"""The customer list: search by name, email or phone, with each customer's purchases."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import ReadSession
from wafa.people import queries
from wafa.web.auth import Staff
from wafa.web.routing import WebRoute
from wafa.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 25


@router.get("/customers", response_class=HTMLResponse)
def customer_list(
    request: Request,
    session: ReadSession,
    user: Staff,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    page = queries.directory(session, q=q, limit=PAGE_SIZE, cursor=cursor)
    return render(request, "people/list.html", {"page": page, "q": q or "", "cursor": cursor or ""})
