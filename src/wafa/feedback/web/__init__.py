"""Feedback's pages: the public answer page behind a survey link (``/s/<token>``) and the
dashboard's screens (one module per screen): complaints, surveys, a staff member's own
feedback. ``PAGES`` declares them, with their sidebar entries under "Feedback"."""

from __future__ import annotations

from fastapi import APIRouter

from wafa.feedback.web import answer, complaints, policy, profile, reports, staff, surveys
from wafa.web.pages import Pages
from wafa.web.routing import WebRoute

router = APIRouter(route_class=WebRoute)
for _screen in (complaints, surveys, reports, staff, policy):
    # The routes themselves (each keeps its class), not a nested router: the assembly
    # checks every route's class.
    router.routes.extend(_screen.router.routes)

PAGES = Pages(
    routers=(answer.router, router),
    nav=(complaints.NAV, surveys.NAV, reports.NAV, staff.NAV, policy.NAV),
    panels=(profile.PANEL,),
)
