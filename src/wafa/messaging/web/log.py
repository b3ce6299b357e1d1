"""The delivery log: every message with its status and reason, filtered, exported as CSV."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from wafa.api.deps import ReadSession
from wafa.auth.models import Role
from wafa.core.csvsafe import escape_cell
from wafa.core.pagination import decode_cursor, encode_cursor
from wafa.messaging import queries
from wafa.messaging.models import Channel, Status
from wafa.messaging.texts import SKIP_REASONS, STATUS_LABELS
from wafa.web.auth import MayMessage
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.routing import WebRoute
from wafa.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

NAV = NavItem(
    N_("Delivery log"),
    "/messaging/log",
    min_role=Role.manager,
    icon="receipt",
    order=63,
    section=N_("Messages"),
)

PAGE_SIZE = 50


def _filters(
    status: str | None,
    channel: str | None,
    reason: str | None,
    customer: uuid.UUID | None,
    campaign: uuid.UUID | None,
) -> queries.LogFilters:
    return queries.LogFilters(
        status=status if status in {s.value for s in Status} else None,
        channel=channel if channel in {c.value for c in Channel} else None,
        reason=reason or None,
        customer_id=customer,
        campaign_id=campaign,
    )


@router.get("/messaging/log", response_class=HTMLResponse)
def log_page(
    request: Request,
    session: ReadSession,
    user: MayMessage,
    status: Annotated[str | None, Query(max_length=16)] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    reason: Annotated[str | None, Query(max_length=80)] = None,
    customer: uuid.UUID | None = None,
    campaign: uuid.UUID | None = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    filters = _filters(status, channel, reason, customer, campaign)
    before = decode_cursor(cursor) if cursor else None
    rows, next_id = queries.log_page(session, filters, before=before, limit=PAGE_SIZE)
    return render(
        request,
        "messaging/log.html",
        {
            "rows": rows,
            "filters": filters,
            "cursor": cursor,
            "next_cursor": encode_cursor(next_id) if next_id else None,
            "statuses": STATUS_LABELS,
            "reasons": SKIP_REASONS,
            "channels": [c.value for c in Channel],
        },
    )


@router.get("/messaging/log.csv")
def log_csv(
    session: ReadSession,
    user: MayMessage,
    status: Annotated[str | None, Query(max_length=16)] = None,
    channel: Annotated[str | None, Query(max_length=16)] = None,
    reason: Annotated[str | None, Query(max_length=80)] = None,
    customer: uuid.UUID | None = None,
    campaign: uuid.UUID | None = None,
) -> StreamingResponse:
    """The filtered log as CSV; cells that a spreadsheet would run as a formula are escaped."""
    filters = _filters(status, channel, reason, customer, campaign)
    rows = list(queries.log_rows(session, filters))  # read inside the request's session

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(queries.LOG_COLUMNS)
        for row in rows:
            writer.writerow([escape_cell(str(cell)) for cell in row])
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="delivery-log.csv"'},
    )
