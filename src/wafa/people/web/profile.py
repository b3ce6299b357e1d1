"""The customer profile: the record, purchases, timeline and every domain's panels.

The panels (loyalty balance, analytics insights, message preferences, ...) are those the
domains declared in their ``Pages``; the assembly hands them over on
``app.state.profile_panels``. The timeline shows the event types the domains declared
with a label (``app.state.people_hooks``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, ReadSession
from wafa.auth.models import StaffUser
from wafa.auth.permissions import Permission
from wafa.core.calendars import local_date
from wafa.core.events import Event
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.people import queries
from wafa.people import service as people
from wafa.web.auth import Staff, may, see_other
from wafa.web.i18n import N_
from wafa.web.pages import CustomerPanel, OverviewNotice
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

log = logging.getLogger("wafa.web")

router = APIRouter(route_class=WebRoute, include_in_schema=False)

HISTORY_PAGE = 25  # lines of the profile's History per page


@dataclass(frozen=True)
class RenderedPanel:
    """A panel and the context its loader returned, for one request (``failed``: it raised)."""

    panel: CustomerPanel | OverviewNotice
    context: Mapping[str, Any]
    failed: bool = False


def customer_panels(
    session: Session, customer: Customer, user: StaffUser, panels: Sequence[CustomerPanel]
) -> list[RenderedPanel]:
    """The panels ``user`` may see for ``customer``, loaded, in order.

    A loader that raises is logged and its card says it could not be loaded: the
    profile is what a cashier needs at the counter, one broken panel must not take it
    down. Each loader runs in a savepoint, so a failed query leaves the request's
    transaction usable for the others.
    """
    if not customer.is_active:
        return []
    out = []
    for panel in sorted(panels, key=lambda p: (p.order, p.key)):
        if not user.has_role(panel.min_role):
            continue
        try:
            with session.begin_nested():
                context = panel.load(session, customer)
        except Exception:
            log.exception("customer panel %r failed to load", panel.key)
            out.append(RenderedPanel(panel, {}, failed=True))
            continue
        if context is not None:
            out.append(RenderedPanel(panel, context))
    return out


def _labels(events: Sequence[type[Event]]) -> Callable[[str], type[Event] | None]:
    by_topic = {e.topic: e for e in events if e.label is not None}
    return by_topic.get


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_profile(
    customer_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Staff,
    history: Annotated[int, Query(ge=1, le=400)] = 1,
) -> Response:
    hooks: people.Hooks = request.app.state.people_hooks
    shown = history * HISTORY_PAGE
    profile = queries.customer_profile(
        session,
        customer_id,
        today=local_date(utcnow(), settings.zone),
        timeline_events=hooks.timeline_events,
        timeline_limit=shown + 1,
    )
    if profile.customer.merged_into_id is not None:
        flash(request, N_("This record was merged into the one below."), kind="info")
        return see_other(f"/customers/{profile.customer.merged_into_id}")
    panels = customer_panels(session, profile.customer, user, request.app.state.profile_panels)
    return render(
        request,
        "people/profile.html",
        {
            "profile": profile,
            "customer": profile.customer,
            "panels": panels,
            "timeline_event": _labels(hooks.timeline_events),
            "history": profile.timeline[shown - HISTORY_PAGE : shown],
            "history_page": history,
            "history_older": len(profile.timeline) > shown,
            "can_merge": may(user, Permission.merge),
            "can_export": may(user, Permission.export),
            "can_erase": may(user, Permission.erase),
        },
    )
