"""/api/v1/segments/{id}/surprise: grant a surprise rule to a segment (``edit_program``)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter

from wafa.api.deps import AppSettings, DbSession, Idempotent, MayEditProgram
from wafa.api.routing import AutoCommitRoute
from wafa.loyalty.surprise.schemas import GrantRunRead, SegmentGrantIn
from wafa.messaging.surprises import service

router = APIRouter(tags=["messaging"], route_class=AutoCommitRoute)


@router.post(
    "/segments/{segment_id}/surprise",
    response_model=GrantRunRead,
    dependencies=[Idempotent],
)
def grant_to_segment(
    segment_id: uuid.UUID,
    body: SegmentGrantIn,
    session: DbSession,
    settings: AppSettings,
    who: MayEditProgram,
) -> dict[str, Any]:
    run = service.grant_to_segment(
        session, settings=settings, rule_id=body.rule_id, segment_id=segment_id, by=who.label
    )
    return {
        "occasion": run.occasion,
        "granted": run.granted,
        "already": run.already,
        "over_budget": run.over_budget,
    }
