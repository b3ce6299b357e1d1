"""Dashboard pages for the connected shops (owner): connections, their health, the log.

``/integrations`` lists the connections with their last delivery and the failures of the
last day, and adds one (the intake URL and secret are shown once, on the answer page);
each can be paused, resumed, given a new secret (the old one works for a day) or
removed. ``/integrations/deliveries`` is the delivery log, filtered by connection and
result; a failed delivery is replayed from there.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.auth.models import Role
from wafa.auth.permissions import Permission
from wafa.core.errors import Conflict, NotFound
from wafa.integrations import connections, intake, outbound
from wafa.integrations.models import DeliveryStatus, Shop
from wafa.web import forms
from wafa.web.auth import MayIntegrations, see_other
from wafa.web.forms import FormData, FormReader
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.pages import OverviewNotice, Pages
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

_REFUSALS = (
    forms.Refusal(Conflict, N_("A connection with this name exists already."), field="name"),
)


def _list(
    request: Request,
    session: Any,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    health = intake.health(session)
    rows = [(c, *health.get(c.id, (None, 0))) for c in connections.list_connections(session)]
    return render(
        request,
        "integrations/list.html",
        {
            "rows": rows,
            "stopped": outbound.disabled_endpoints(session),
            "shops": [s.value for s in Shop],
            "values": values or {},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/integrations", response_class=HTMLResponse)
def connection_list(request: Request, session: ReadSession, user: MayIntegrations) -> HTMLResponse:
    return _list(request, session)


def _public(settings: Any, path: str) -> str:
    return f"{settings.public_url.rstrip('/')}{path}"


@router.post("/integrations", response_class=HTMLResponse)
def add_connection(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayIntegrations,
    form: FormData,
) -> Response:
    def save() -> Response:
        reader = FormReader(form)
        shop = reader.choice("shop", [s.value for s in Shop])
        name = reader.text("name", required=True, max_length=64)
        secret = reader.text("secret", max_length=500)
        reader.check()
        created = connections.add_connection(
            session, settings=settings, shop=shop or "", name=name or "", secret=secret
        )
        return render(
            request,
            "integrations/secret.html",
            {
                "connection": created.connection,
                "url": _public(settings, created.path),
                "secret": created.secret,
                "new": True,
            },
            status_code=201,
        )

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _list(
            request, session, values=form, errors=errors, status_code=status
        ),
        refusals=_REFUSALS,
    )


@router.post("/integrations/{name}/pause")
def pause(name: str, request: Request, session: DbSession, user: MayIntegrations) -> Response:
    connections.pause_connection(session, name)
    flash(request, N_("Connection %(name)s paused: the shop will send again later."), name=name)
    return see_other("/integrations")


@router.post("/integrations/{name}/resume")
def resume(name: str, request: Request, session: DbSession, user: MayIntegrations) -> Response:
    connections.resume_connection(session, name)
    flash(request, N_("Connection %(name)s takes deliveries again."), name=name)
    return see_other("/integrations")


@router.post("/integrations/{name}/rotate", response_class=HTMLResponse)
def rotate(
    name: str,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayIntegrations,
) -> Response:
    connection, secret = connections.rotate_secret(
        session, name, settings=settings, grace=timedelta(hours=24)
    )
    return render(
        request,
        "integrations/secret.html",
        {"connection": connection, "url": None, "secret": secret, "new": False},
    )


@router.post("/integrations/{name}/remove")
def remove(name: str, request: Request, session: DbSession, user: MayIntegrations) -> Response:
    connections.remove_connection(session, name)
    flash(request, N_("Connection %(name)s removed. Its orders stay."), name=name)
    return see_other("/integrations")


@router.get("/integrations/deliveries", response_class=HTMLResponse)
def delivery_log(
    request: Request,
    session: ReadSession,
    user: MayIntegrations,
    connection: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    every = connections.list_connections(session)
    chosen = next((c for c in every if c.name == connection), None)
    if connection and chosen is None:
        raise NotFound(f"no connection named {connection!r}")
    rows = intake.list_deliveries(
        session,
        connection_id=chosen.id if chosen else None,
        status=status or None,
        limit=100,
    )
    names = {c.id: c.name for c in every}
    return render(
        request,
        "integrations/deliveries.html",
        {
            "rows": rows,
            "names": names,
            "connections": every,
            "chosen": connection or "",
            "status": status or "",
            "statuses": [s.value for s in DeliveryStatus],
        },
    )


@router.post("/integrations/deliveries/{delivery_id}/replay")
def replay(
    delivery_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayIntegrations,
) -> Response:
    back = "/integrations/deliveries"

    def work() -> Response:
        context = intake.Context(settings, request.app.state.people_hooks)
        delivery = intake.replay(session, delivery_id, context)
        if delivery.status == DeliveryStatus.failed:
            flash(
                request, N_("Replayed: it failed again. See the reason in the log."), kind="error"
            )
        else:
            flash(request, N_("Replayed: the delivery was applied."))
        return see_other(back)

    return forms.submit(
        request,
        session,
        work,
        redraw=forms.back_with_message(request, back),
        refusals=(forms.Refusal(Conflict, N_("This delivery cannot be replayed.")),),
    )


@router.get("/integrations/webhooks", response_class=HTMLResponse)
def webhooks_out(
    request: Request,
    session: ReadSession,
    user: MayIntegrations,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    endpoints = outbound.list_endpoints(session)
    return render(
        request,
        "integrations/webhooks.html",
        {
            "endpoints": endpoints,
            "stopped": [e for e in endpoints if e.disabled_at is not None],
            "urls": {e.id: e.url for e in endpoints},
            "messages": outbound.list_messages(session, status=status or None, limit=100),
            "status": status or "",
        },
    )


@router.post("/integrations/webhooks/{endpoint_id}/enable")
def enable_endpoint(
    endpoint_id: uuid.UUID, request: Request, session: DbSession, user: MayIntegrations
) -> Response:
    outbound.enable_endpoint(session, endpoint_id)
    flash(request, N_("The endpoint receives events again."))
    return see_other("/integrations/webhooks")


@router.post("/integrations/webhooks/messages/{message_id}/replay")
def replay_message(
    message_id: uuid.UUID, request: Request, session: DbSession, user: MayIntegrations
) -> Response:
    back = "/integrations/webhooks"

    def work() -> Response:
        outbound.replay_message(session, message_id)
        flash(request, N_("The event will be sent again in a moment."))
        return see_other(back)

    return forms.submit(
        request,
        session,
        work,
        redraw=forms.back_with_message(request, back),
        refusals=(forms.Refusal(Conflict, N_("This event cannot be sent again now.")),),
    )


def _stopped_notice(session: Any) -> dict[str, Any] | None:
    stopped = outbound.disabled_endpoints(session)
    return {"stopped": stopped} if stopped else None


PAGES = Pages(
    routers=(router,),
    notices=(
        OverviewNotice(
            "webhooks-stopped",
            "integrations/_overview_stopped.html",
            _stopped_notice,
            Permission.integrations,
        ),
    ),
    nav=(
        NavItem(
            N_("Connected shops"),
            "/integrations",
            min_role=Role.owner,
            icon="link",
            order=85,
        ),
    ),
)
