"""The overview page: this month's sales, customers and repeat rate at a glance, under the
notices the domains declared (``Pages.notices``) for what the owner must act on."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, ReadSession
from wafa.auth.models import StaffUser
from wafa.auth.permissions import Permission
from wafa.core.time import utcnow
from wafa.orders import queries as order_queries
from wafa.people.web.profile import RenderedPanel
from wafa.web.auth import Staff, may, see_other
from wafa.web.nav import home_for
from wafa.web.pages import OverviewNotice
from wafa.web.routing import WebRoute
from wafa.web.templating import render

log = logging.getLogger(__name__)

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request, session: ReadSession, settings: AppSettings, user: Staff
) -> Response:
    if not may(user, Permission.view_reports):
        return see_other(home_for(request, user))  # cashiers start on their own page
    data = order_queries.overview(
        session,
        now=utcnow(),
        zone=settings.zone,
        calendar=settings.calendar,
        currency=settings.currency,
    )
    peak = max((m.amount for m in data.months), default=0)
    notices = overview_notices(session, user, request.app.state.overview_notices)
    return render(request, "home.html", {"data": data, "peak": peak, "notices": notices})


def overview_notices(
    session: Session, user: StaffUser, notices: Sequence[OverviewNotice]
) -> list[RenderedPanel]:
    """The domains' notices ``user`` may see that have something to say, in order; one that
    fails to load is logged and shown as such, never taking the Overview down (the loaders
    run last, after the page's own queries)."""
    out: list[RenderedPanel] = []
    for notice in sorted(notices, key=lambda n: (n.order, n.key)):
        if not may(user, notice.permission):
            continue
        try:
            context = notice.load(session)
        except Exception:
            log.exception("overview notice %r failed to load", notice.key)
            out.append(RenderedPanel(notice, {}, failed=True))
            continue
        if context is not None:
            out.append(RenderedPanel(notice, context))
    return out
