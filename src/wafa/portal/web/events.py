"""Members-only events on the customer's side: the invitations on the portal
(``/portal/events``) and the page a message's yes/no link opens (``/rsvp/<token>``).

The link's page shows the event and both answers and never answers by itself: a mail
scanner that opens every link changes nobody's RSVP; the customer presses the button.
Its token (the customer, the event, the proposed answer; good until the event starts)
is the authority for its form, so it needs no portal session (the portal's cookie is not
even sent to ``/rsvp/``); the form is checked for its origin like every portal form.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wafa.api.deps import AppSettings, DbSession
from wafa.core.errors import WafaError
from wafa.core.settings import Settings
from wafa.customers import service as customers
from wafa.gatherings import links, service
from wafa.gatherings.models import Gathering
from wafa.portal.web.common import Me, PortalRoute, language_of, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


def _card(gathering: Gathering, language: str) -> dict[str, Any]:
    return {
        "id": gathering.id,
        "name": gathering.name_in(language),
        "starts_at": gathering.starts_at,
        "ends_at": gathering.ends_at,
        "place": gathering.place,
        "points": gathering.points,
        "status": gathering.status,
        "seats_left": gathering.seats_left,
    }


@router.get("/portal/events")
def events_page(request: Request, session: DbSession, me: Me) -> HTMLResponse:
    language = str(request.state.language)
    rows = [
        {"rsvp": r, "event": _card(g, language)}
        for r, g in service.invitations_for(session, customer_id=me.id)
    ]
    return render(
        request,
        "portal/events.html",
        {"rows": rows, "tab": "events", "answered": request.query_params.get("answered")},
    )


@router.post("/portal/events/{gathering_id}")
def answer_on_portal(
    gathering_id: uuid.UUID,
    request: Request,
    session: DbSession,
    me: Me,
    answer: str = Form(...),
) -> Response:
    rsvp = service.answer(
        session, gathering_id=gathering_id, customer_id=me.id, answer=answer, source="portal"
    )
    return RedirectResponse(f"/portal/events?answered={rsvp.status}", status_code=303)


def _refused(request: Request, session: Any, settings: Settings, token: str) -> HTMLResponse:
    gone = links.is_expired(session, settings=settings, token=token)
    return render(
        request,
        "portal/link_refused.html",
        {"reason": "expired" if gone else "invalid"},
        status=410 if gone else 403,
    )


def _rsvp_page(
    request: Request,
    session: Any,
    settings: Settings,
    token: str,
    *,
    result: str | None = None,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    found = links.read_token(session, settings=settings, token=token)
    if found is None:
        return _refused(request, session, settings, token)
    customer = customers.get_customer(session, found.customer_id)
    language = language_of(request, customer if customer.is_active else None)
    request.state.language = language
    gathering = session.get(Gathering, found.gathering_id)
    try:
        rsvp = service.find_rsvp(
            session, gathering_id=found.gathering_id, customer_id=found.customer_id
        )
    except service.NotInvited:
        rsvp = None
    if gathering is None or rsvp is None:
        return _refused(request, session, settings, token)
    return render(
        request,
        "portal/rsvp.html",
        {
            "event": _card(gathering, language),
            "rsvp": rsvp,
            "proposed": found.answer,
            "token": token,
            "result": result,
            "problem": problem,
            "first_name": (customer.name or "").split(" ")[0] if customer.is_active else "",
        },
        status=status,
    )


@router.get("/rsvp/{token}")
def rsvp_link(token: str, request: Request, session: DbSession, settings: AppSettings) -> Response:
    return _rsvp_page(request, session, settings, token)


@router.post("/rsvp/{token}")
def rsvp_answer(
    token: str,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    answer: str = Form(...),
) -> Response:
    found = links.read_token(session, settings=settings, token=token)
    if found is None:
        return _refused(request, session, settings, token)
    try:
        with session.begin_nested():
            rsvp = service.answer(
                session,
                gathering_id=found.gathering_id,
                customer_id=found.customer_id,
                answer=answer,
                source="link",
            )
    except WafaError as exc:
        return _rsvp_page(request, session, settings, token, problem=exc.code, status=exc.status)
    return _rsvp_page(request, session, settings, token, result=rsvp.status)
