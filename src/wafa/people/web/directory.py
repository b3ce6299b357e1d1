"""The customer list: search by name, email or phone, with each customer's purchases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from wafa.api.deps import AppSettings, ReadSession
from wafa.core.csvsafe import csv_chunks
from wafa.people import queries
from wafa.web.auth import MayExport, Staff
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


@router.get("/customers/export.csv")
def export_list(
    request: Request,
    settings: AppSettings,
    user: MayExport,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> StreamingResponse:
    """The customer list (as searched) as CSV; no cell runs as a formula in a spreadsheet."""
    factory = request.app.state.read_sessions

    def stream() -> Iterator[str]:
        # A session of the stream's own: the request's closes when the route returns.
        with factory() as own:
            yield "\ufeff"  # a byte-order mark, so spreadsheets read the file as UTF-8
            yield from csv_chunks(queries.directory_rows(own, q=q, currency=settings.currency))

    return StreamingResponse(
        stream(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="customers.csv"',
            "X-Content-Type-Options": "nosniff",
        },
    )
