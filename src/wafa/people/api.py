"""/api/v1/customers/{id}: merge, timeline, export and erase — whole-person operations."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from wafa.api.deps import (
    AppSettings,
    DbSession,
    Idempotent,
    MayErase,
    MayExport,
    MayMerge,
    Reader,
    ReadSession,
)
from wafa.api.routing import AutoCommitRoute
from wafa.customers.models import Customer, CustomerMerge
from wafa.customers.schemas import CustomerRead, MergeIn, MergeRead, TimelineEntry
from wafa.people import service as people

router = APIRouter(tags=["customers"], route_class=AutoCommitRoute)

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]


def _hooks(request: Request) -> people.Hooks:
    hooks: people.Hooks = request.app.state.people_hooks
    return hooks


Hooks = Annotated[people.Hooks, Depends(_hooks)]


@router.post(
    "/customers/{customer_id}/merge",
    response_model=MergeRead,
    dependencies=[Idempotent],
    summary="Merge a duplicate record into this customer",
)
def merge_customer(
    customer_id: uuid.UUID, body: MergeIn, session: DbSession, principal: MayMerge
) -> CustomerMerge:
    return people.merge_customers(
        session, winner_id=customer_id, loser_id=body.other_id, merged_by=principal.label
    )


@router.get("/customers/{customer_id}/timeline", response_model=list[TimelineEntry])
def customer_timeline(
    customer_id: uuid.UUID, session: ReadSession, _: Reader, hooks: Hooks, limit: Limit = 100
) -> list[dict[str, Any]]:
    return people.timeline(session, customer_id, labelled=hooks.timeline_events, limit=limit)


@router.get("/customers/{customer_id}/export", summary="Everything held on this person (GDPR)")
def export_customer(
    customer_id: uuid.UUID, session: ReadSession, _: MayExport, hooks: Hooks
) -> dict[str, Any]:
    return people.export_customer(session, customer_id, hooks=hooks)


@router.post(
    "/customers/{customer_id}/erase",
    response_model=CustomerRead,
    summary="Erase personal data, keeping order amounts anonymously",
)
def erase_customer(
    customer_id: uuid.UUID,
    session: DbSession,
    principal: MayErase,
    settings: AppSettings,
    hooks: Hooks,
) -> Customer:
    return people.erase_customer(
        session,
        settings=settings,
        customer_id=customer_id,
        erased_by=principal.label,
        hooks=hooks,
    )
