"""The Worker page (owners): events a consumer could not handle, and retrying them.

An event whose handler raised, or whose payload does not parse as its type, is kept with
its error (``wafa.core.outbox``). The worker retries it with a growing delay; once the
automatic retries are spent it waits here for the owner, who retries it after a fix.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import DbSession, ReadSession
from wafa.auth.models import Role
from wafa.core import outbox
from wafa.web.auth import MaySettings, see_other
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.pages import Pages
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/system/worker", response_class=HTMLResponse)
def worker_page(request: Request, session: ReadSession, user: MaySettings) -> HTMLResponse:
    rows = outbox.failures(session)
    return render(request, "system/worker.html", {"rows": rows})


@router.post("/system/worker/retry")
def retry(
    request: Request,
    session: DbSession,
    user: MaySettings,
    event_id: Annotated[uuid.UUID | None, Form()] = None,
) -> Response:
    count = outbox.retry_failures(session, event_id=event_id)
    flash(
        request,
        N_("The worker will try again at its next pass.") if count else N_("Nothing to retry."),
    )
    return see_other("/system/worker")


PAGES = Pages(
    routers=(router,),
    nav=(NavItem(N_("Worker"), "/system/worker", min_role=Role.owner, icon="clock", order=90),),
)
