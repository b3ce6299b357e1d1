"""Feedback reports: a survey's score by location, channel, staff member and product (with
a 95 % margin and a note on small groups); recurring complaints (a rise beyond chance per
category, product, location and staff member; texts that read alike), response and
resolution times, and compensation per category."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import AppSettings, ReadSession
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.time import utcnow
from wafa.feedback import breakdown, compensation, complaints, recurring, service
from wafa.feedback.policy import load_policy
from wafa.feedback.web.common import labels
from wafa.web.auth import MayViewReports
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.routing import WebRoute
from wafa.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

NAV = NavItem(
    N_("Feedback reports"),
    "/feedback/reports",
    min_role=Role.manager,
    icon="chart",
    order=72,
    section=N_("Feedback"),
)
DIMENSIONS = {
    "category": N_("Category"),
    "product": N_("Product"),
    "location": N_("Location"),
    "staff_id": N_("Staff member"),
}


BREAKDOWN_BY = {
    "location": N_("Location"),
    "channel": N_("Channel"),
    "staff": N_("Staff member"),
    "product": N_("Product"),
}
EXPOSURES = {
    "group": N_("per 100 of its orders"),
    "shop": N_("per 100 orders of the shop"),
    "days": N_("per day"),
}
ORDER_CHANNELS = {"online": N_("Online"), "in_store": N_("In store"), "phone": N_("Phone")}


def _scores(session: ReadSession, survey: uuid.UUID | None, by: str) -> dict[str, Any]:
    """The chosen survey (default: the newest) broken down by ``by``."""
    surveys = service.list_surveys(session)
    chosen = next((s for s in surveys if s.id == survey), surveys[0] if surveys else None)
    dimension = by if by in BREAKDOWN_BY else "location"
    groups = (
        breakdown.breakdown(session, survey_id=chosen.id, by=dimension)  # type: ignore[arg-type]
        if chosen is not None
        else []
    )
    return {
        "surveys": surveys,
        "survey": chosen,
        "by": dimension,
        "breakdown_by": BREAKDOWN_BY,
        "order_channels": ORDER_CHANNELS,
        "score_groups": groups,
        "small": breakdown.SMALL,
    }


@router.get("/feedback/reports", response_class=HTMLResponse)
def reports_page(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayViewReports,
    survey: uuid.UUID | None = None,
    by: Annotated[str, Query(max_length=16)] = "location",
) -> HTMLResponse:
    now = utcnow()
    flags = recurring.detect(session, settings=settings, now=now)
    staff = {str(u.id): (u.name or u.email) for u in auth.list_users(session)}
    return render(
        request,
        "feedback/reports.html",
        {
            "flags": [f for f in flags if f.flagged],
            "watch": [f for f in flags if not f.flagged][:10],
            "groups": recurring.similar_complaints(session, now=now)[:10],
            "times": complaints.response_times(
                session, settings=settings, since=now - timedelta(days=90)
            ),
            "compensations": compensation.report(session),
            "dimensions": DIMENSIONS,
            "staff": staff,
            "window_days": recurring.WINDOW_DAYS,
            "exposures": EXPOSURES,
            **_scores(session, survey, by),
            **labels(load_policy(session)),
        },
    )
