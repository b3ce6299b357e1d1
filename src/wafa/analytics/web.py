"""Dashboard pages for analytics, and the insights card on the customer profile.

* ``/analytics``: KPIs, the cohort heatmap, the RFM segment map, the lifetime-value
  distribution, valuable customers at risk, and how well the predictions did;
* ``/analytics/segments/{key}``: a segment's customers, most valuable first, with what
  to do about them;
* ``POST /analytics/refresh``: recompute now (managers);
* a card on each customer's profile: segment and advice, probability of still being a
  customer, expected next order, predicted value, and product suggestions.

Charts are HTML and CSS drawn by the templates from figures the app already holds
(no JavaScript, no third-party asset), so they mirror correctly in right-to-left
languages.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wafa.analytics import refresh as refreshing
from wafa.analytics import rfm, service
from wafa.analytics.rfm import SEGMENT_COLOURS
from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.auth.models import Role
from wafa.core.errors import WafaError
from wafa.customers.models import Customer
from wafa.web.auth import MayViewReports, see_other
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.pages import CustomerPanel, Pages
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

SEGMENT_PAGE = 50


def _ink(colour: str) -> str:
    """Return the text colour (white or near-black) with the higher contrast on ``colour``.

    White numbers on the light tiles (promising, need attention, hibernating...) measured
    below 4.5:1 (axe-core's color-contrast on the demo store's map in every language).
    """

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    lum = luminance(colour)
    on_white = 1.05 / (lum + 0.05)
    on_dark = (lum + 0.05) / (luminance(DARK_INK) + 0.05)
    return "#ffffff" if on_white >= on_dark else DARK_INK


DARK_INK = "#1f2328"


def _grid(figures: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Return the RFM map as rows (recency 5 down to 1) of cells (FM 1 to 5)."""
    cells = {(c["r"], c["fm"]): c for c in (figures.get("rfm") or {}).get("grid", [])}
    rows = []
    for r in range(5, 0, -1):
        row = []
        for fm in range(1, 6):
            cell = cells.get((r, fm), {"customers": 0, "revenue": 0})
            key = rfm.segment_key(r, fm)
            row.append(
                {
                    **cell,
                    "r": r,
                    "fm": fm,
                    "segment": key,
                    "colour": SEGMENT_COLOURS[key],
                    "ink": _ink(SEGMENT_COLOURS[key]),
                }
            )
        rows.append(row)
    return rows


#: Cohorts (rows) and months since the first order (columns) drawn in the heatmap.
COHORT_ROWS = 18
COHORT_MONTHS = 12


def _cohorts(figures: dict[str, Any]) -> dict[str, Any]:
    """Return the heatmap rows: each cohort's month, size and retention per month."""
    cohorts = ((figures.get("cohorts") or {}).get("cohorts") or [])[-COHORT_ROWS:]
    values = [v for c in cohorts for v in c["retention"][1 : COHORT_MONTHS + 1]]
    peak = max(values, default=0.0) or 1.0
    rows = []
    for c in cohorts:
        cells: list[dict[str, Any] | None] = []
        for k in range(1, COHORT_MONTHS + 1):
            if k < len(c["retention"]):
                value = float(c["retention"][k])
                cells.append(
                    {"value": value, "customers": c["customers"][k], "alpha": value / peak}
                )
            else:
                cells.append(None)
        rows.append({"start": dt.date.fromisoformat(c["start"]), "size": c["size"], "cells": cells})
    split = ((figures.get("cohorts") or {}).get("returning_revenue_by_month") or [])[-12:]
    top = max((m["new"] + m["returning"] for m in split), default=0) or 1
    months = [
        {
            **m,
            "start": dt.date.fromisoformat(m["start"]),
            "total": m["new"] + m["returning"],
            "top": top,
        }
        for m in split
    ]
    return {"rows": rows, "months": list(range(1, COHORT_MONTHS + 1)), "revenue": months}


@router.get("/analytics", response_class=HTMLResponse)
def analytics_page(
    request: Request, session: ReadSession, settings: AppSettings, user: MayViewReports
) -> Response:
    """Show the analytics dashboard (or how to get it, before the first refresh)."""
    data = service.dashboard(session)
    context: dict[str, Any] = {
        "data": data,
        "colours": SEGMENT_COLOURS,
        "grid": _grid(data.figures) if data else [],
        "cohorts": _cohorts(data.figures) if data else None,
        "currency": settings.currency,
    }
    return render(request, "analytics/dashboard.html", context)


@router.get("/analytics/segments/{key}", response_class=HTMLResponse)
def segment_page(
    request: Request,
    key: str,
    session: ReadSession,
    user: MayViewReports,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    """List the customers of one segment, most valuable first."""
    data = service.segment_members(
        session, key, limit=SEGMENT_PAGE, offset=(page - 1) * SEGMENT_PAGE
    )
    return render(
        request,
        "analytics/segment.html",
        {"data": data, "page": page, "colour": SEGMENT_COLOURS[key]},
    )


@router.post("/analytics/refresh")
def refresh_now(
    request: Request, session: DbSession, settings: AppSettings, user: MayViewReports
) -> Response:
    """Recompute every score now, then come back to the dashboard."""
    try:
        with session.begin_nested():
            run = refreshing.refresh(session, settings=settings)
    except WafaError as exc:
        refreshing.record_failed_run(session, settings=settings, error=exc.detail)
        flash(request, N_("The refresh failed: %(reason)s"), kind="error", reason=exc.detail)
        return see_other("/analytics")
    flash(request, N_("Analytics refreshed: %(num)s customers."), num=run.customers)
    return see_other("/analytics")


def _profile_panel(session: Session, customer: Customer) -> dict[str, Any] | None:
    insights = service.customer_insights(session, customer.id, recommendations=5)
    return {
        "insights": insights,
        "colour": SEGMENT_COLOURS.get(
            insights.score.segment.key if insights.score else "", "#8895a2"
        ),
    }


PAGES = Pages(
    routers=(router,),
    nav=(NavItem(N_("Analytics"), "/analytics", min_role=Role.manager, icon="chart", order=50),),
    panels=(
        CustomerPanel(
            "analytics",
            template="analytics/_profile_panel.html",
            load=_profile_panel,
            min_role=Role.cashier,
            order=20,
            column="side",
        ),
    ),
)
