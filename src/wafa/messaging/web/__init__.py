"""Messaging's dashboard pages (one module per screen) and the public unsubscribe page.

``PAGES`` declares them for the dashboard, with their sidebar entries under the "Messages"
section and the customer profile's card; the segments' screens (``wafa.messaging.segments.web``)
join them.
"""

from __future__ import annotations

from fastapi import APIRouter

from wafa.messaging.campaigns import web as campaigns_web
from wafa.messaging.segments import web as segments_web
from wafa.messaging.surprises import web as surprises_web
from wafa.messaging.web import channels, log, profile, suppressions, templates, unsubscribe
from wafa.web.pages import Pages
from wafa.web.routing import WebRoute

router = APIRouter(route_class=WebRoute)
for _screen in (channels, templates, log, suppressions, profile, unsubscribe):
    # The routes themselves (each keeps its class), not a nested router: the assembly
    # checks every route's class.
    router.routes.extend(_screen.router.routes)

PAGES = Pages(
    routers=(router, segments_web.router, campaigns_web.router, surprises_web.router),
    nav=(
        channels.NAV,
        templates.NAV,
        segments_web.NAV,
        campaigns_web.NAV,
        log.NAV,
        suppressions.NAV,
        surprises_web.NAV,
    ),
    panels=(profile.PANEL,),
)
