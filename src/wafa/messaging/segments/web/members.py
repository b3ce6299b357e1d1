"""One segment: its rule in words, how many customers it holds now, who they are, export."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from wafa.api.deps import AppSettings, ReadSession
from wafa.messaging.segments import service, stats
from wafa.messaging.segments.web.catalogue import catalogue_for, describe
from wafa.web.auth import MayMessage
from wafa.web.routing import WebRoute
from wafa.web.templating import render, request_language

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 25


@router.get("/segments/{segment_id}", response_class=HTMLResponse)
def segment_page(
    segment_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    _: MayMessage,
    cursor: str | None = None,
) -> HTMLResponse:
    segment = service.get_live_segment(session, segment_id)
    count = service.count_segment(session, settings=settings, segment_id=segment_id)
    members, next_cursor = service.members_page(
        session, settings=settings, segment_id=segment_id, limit=PAGE_SIZE, cursor=cursor
    )
    catalogue = catalogue_for(session, settings, request_language(request))
    return render(
        request,
        "messaging/segments/members.html",
        {
            "segment": segment,
            "count": count,
            "rule": describe(catalogue, segment.rules),
            "members": members,
            "figures": service.member_figures(session, [m.id for m in members]),
            "next_cursor": next_cursor,
            "cursor": cursor,
            "stats_built_at": stats.stats_age(session),
        },
    )


@router.get("/segments/{segment_id}/export.csv")
def export_csv(
    segment_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    _: MayMessage,
) -> StreamingResponse:
    segment = service.get_live_segment(session, segment_id)
    factory = request.app.state.read_sessions

    def stream() -> Iterator[str]:
        # Read in a session of the stream's own: the request's closes when it returns.
        with factory() as own:
            rows = service.export_rows(own, settings=settings, segment_id=segment_id)
            yield "\ufeff"  # a byte-order mark, so spreadsheets read the file as UTF-8
            yield from service.csv_chunks(rows)

    return StreamingResponse(
        stream(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="segment-{segment.id}.csv"',
            "X-Content-Type-Options": "nosniff",
        },
    )
