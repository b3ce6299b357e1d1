"""/api/v1/segments: save, count, change, archive, list members, export as CSV."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from wafa.api.deps import (
    AppSettings,
    DbSession,
    Idempotent,
    MayMessage,
    MayViewReports,
    Reader,
    ReadSession,
)
from wafa.api.routing import AutoCommitRoute
from wafa.customers.schemas import CustomerPage
from wafa.messaging.segments import service
from wafa.messaging.segments.fields import CATALOGUE
from wafa.messaging.segments.models import Segment
from wafa.messaging.segments.schemas import (
    CountIn,
    CountOut,
    FieldRead,
    SegmentCounted,
    SegmentCreate,
    SegmentPage,
    SegmentRead,
    SegmentUpdate,
)

router = APIRouter(tags=["segments"], route_class=AutoCommitRoute)

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]


@router.get("/segments/fields", response_model=list[FieldRead])
def list_fields(_: Reader) -> list[dict[str, Any]]:
    return [
        {
            "name": f.name,
            "kind": f.kind.value,
            "group": f.group.value,
            "label": f.label,
            "help": f.help,
            "ops": list(f.ops),
            "choices": list(f.choices) or None,
        }
        for f in CATALOGUE
    ]


@router.post("/segments/count", response_model=CountOut, summary="Count a rule without saving it")
def count_rules(
    body: CountIn, session: ReadSession, settings: AppSettings, _: MayViewReports
) -> dict[str, int]:
    return {"count": service.count_rules(session, settings=settings, rules=body.rules)}


@router.post("/segments", status_code=201, response_model=SegmentCounted, dependencies=[Idempotent])
def create_segment(
    body: SegmentCreate, session: DbSession, settings: AppSettings, principal: MayMessage
) -> Segment:
    return service.create_segment(session, settings=settings, data=body, by=principal.label)


@router.get("/segments", response_model=SegmentPage)
def list_segments(
    session: ReadSession, _: MayViewReports, limit: Limit = 50, cursor: str | None = None
) -> dict[str, Any]:
    items, next_cursor = service.list_segments(session, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/segments/{segment_id}", response_model=SegmentCounted)
def get_segment(
    segment_id: uuid.UUID, session: ReadSession, settings: AppSettings, _: MayViewReports
) -> dict[str, Any]:
    segment = service.get_live_segment(session, segment_id)
    count = service.count_segment(session, settings=settings, segment_id=segment_id)
    return {**SegmentRead.model_validate(segment).model_dump(), "count": count}


@router.patch("/segments/{segment_id}", response_model=SegmentRead)
def update_segment(
    segment_id: uuid.UUID,
    body: SegmentUpdate,
    session: DbSession,
    settings: AppSettings,
    _: MayMessage,
) -> Segment:
    return service.update_segment(session, settings=settings, segment_id=segment_id, data=body)


@router.delete("/segments/{segment_id}", status_code=204, response_class=Response)
def archive_segment(segment_id: uuid.UUID, session: DbSession, _: MayMessage) -> None:
    service.archive_segment(session, segment_id=segment_id)


@router.get("/segments/{segment_id}/customers", response_model=CustomerPage)
def segment_customers(
    segment_id: uuid.UUID,
    session: ReadSession,
    settings: AppSettings,
    _: MayViewReports,
    limit: Limit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    items, next_cursor = service.members_page(
        session, settings=settings, segment_id=segment_id, limit=limit, cursor=cursor
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/segments/{segment_id}/export",
    response_class=StreamingResponse,
    summary="The segment's customers as CSV (formula-safe)",
)
def export_segment(
    segment_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    _: MayViewReports,
) -> StreamingResponse:
    segment = service.get_live_segment(session, segment_id)
    factory = request.app.state.read_sessions

    def stream() -> Iterator[str]:
        # The rows are read in a session of the stream's own: the request's is closed
        # once the response starts.
        with factory() as own:
            yield from service.csv_chunks(
                service.export_rows(own, settings=settings, segment_id=segment_id)
            )

    return StreamingResponse(
        stream(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="segment-{segment.id}.csv"'},
    )
