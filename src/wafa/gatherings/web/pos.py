"""The point of sale's part of members-only events: on the customer's card, their seats at
today's events (business calendar) with a check-in button (points for attending, once).
The card fetches this fragment (``data-pos-part``), so the loyalty screen needs no
knowledge of events."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import AppSettings, ReadSession
from wafa.auth.models import StaffUser
from wafa.auth.permissions import Permission
from wafa.gatherings import service
from wafa.web.auth import permitted
from wafa.web.routing import WebRoute
from wafa.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)
MayServe = Annotated[StaffUser, permitted(Permission.serve)]


@router.get("/pos/events/{customer_id}", response_class=HTMLResponse)
def pos_events(
    customer_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayServe,
) -> HTMLResponse:
    seats = service.seats_today(session, settings=settings, customer_id=customer_id)
    return render(
        request,
        "gatherings/_pos_checkin.html",
        {"seats": seats, "customer_id": customer_id},
        headers={"Cache-Control": "no-store"},
    )
