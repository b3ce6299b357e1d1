"""/api/v1/events: members-only events, their invitations, RSVPs and check-ins.

Managing events needs ``manage_events`` (managers, owners, a ``write`` key); checking a
customer in at the counter needs ``serve`` (cashiers too). The customer's own answer
is not here: it comes by the signed link (``/rsvp/…``) or the portal.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter

from wafa.api.deps import AppSettings, DbSession, Idempotent, Principal, ReadSession, permitted
from wafa.api.routing import AutoCommitRoute
from wafa.auth.permissions import Permission
from wafa.gatherings import service
from wafa.gatherings.models import Gathering, Rsvp
from wafa.gatherings.schemas import (
    CheckIn,
    GatheringCreate,
    GatheringRead,
    GatheringUpdate,
    RsvpAnswer,
    RsvpRead,
)

router = APIRouter(tags=["events"], route_class=AutoCommitRoute)
MayManage = Annotated[Principal, permitted(Permission.manage_events)]
MayServe = Annotated[Principal, permitted(Permission.serve)]


@router.get("/events", response_model=list[GatheringRead], summary="Members-only events")
def list_events(session: ReadSession, who: MayManage, past: bool = False) -> list[Gathering]:
    return service.list_gatherings(session, past=past)


@router.post(
    "/events",
    status_code=201,
    response_model=GatheringRead,
    dependencies=[Idempotent],
    summary="Create a members-only event (a draft: nobody is invited yet)",
)
def create_event(
    body: GatheringCreate, session: DbSession, settings: AppSettings, who: MayManage
) -> Gathering:
    return service.create_gathering(session, settings=settings, data=body, by=who.label)


@router.get("/events/{event_id}", response_model=GatheringRead, summary="One event")
def get_event(event_id: uuid.UUID, session: ReadSession, who: MayManage) -> Gathering:
    return service.get_gathering(session, event_id)


@router.patch("/events/{event_id}", response_model=GatheringRead, summary="Change an event")
def update_event(
    event_id: uuid.UUID,
    body: GatheringUpdate,
    session: DbSession,
    settings: AppSettings,
    who: MayManage,
) -> Gathering:
    return service.update_gathering(session, settings=settings, gathering_id=event_id, data=body)


@router.post(
    "/events/{event_id}/invitations",
    status_code=202,
    response_model=GatheringRead,
    summary="Invite the event's segment (the worker sends the invitations)",
)
def send_invitations(event_id: uuid.UUID, session: DbSession, who: MayManage) -> Gathering:
    return service.send_invitations(session, gathering_id=event_id)


@router.post(
    "/events/{event_id}/cancel",
    response_model=GatheringRead,
    summary="Cancel an event (those with a seat or waiting are told)",
)
def cancel_event(event_id: uuid.UUID, session: DbSession, who: MayManage) -> Gathering:
    return service.cancel_gathering(session, gathering_id=event_id)


@router.get(
    "/events/{event_id}/rsvps",
    response_model=list[RsvpRead],
    summary="The event's RSVPs: seats, the waiting list in order, no answer, no",
)
def list_rsvps(
    event_id: uuid.UUID, session: ReadSession, who: MayManage, status: str | None = None
) -> list[Rsvp]:
    service.get_gathering(session, event_id)
    return [r for r, _ in service.rsvps(session, event_id, status=status)]


@router.put(
    "/events/{event_id}/rsvps/{customer_id}",
    response_model=RsvpRead,
    summary="Answer for an invited customer (yes takes a seat or a place on the waiting list)",
)
def answer(
    event_id: uuid.UUID,
    customer_id: uuid.UUID,
    body: RsvpAnswer,
    session: DbSession,
    who: MayManage,
) -> Rsvp:
    return service.answer(
        session,
        gathering_id=event_id,
        customer_id=customer_id,
        answer=body.answer,
        source="staff" if who.kind == "staff" else "api",
    )


@router.post(
    "/events/{event_id}/check-ins",
    response_model=RsvpRead,
    summary="Check a customer with a seat in (points for attending, once)",
)
def check_in(
    event_id: uuid.UUID,
    body: CheckIn,
    session: DbSession,
    settings: AppSettings,
    who: MayServe,
) -> Rsvp:
    return service.check_in(
        session,
        settings=settings,
        gathering_id=event_id,
        customer_id=body.customer_id,
        by=who.label,
    )
