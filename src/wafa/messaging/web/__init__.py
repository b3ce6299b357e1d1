"""Messaging's dashboard pages (one module per screen) and the public unsubscribe page.

``router`` gathers them for ``wafa.web.app``; each screen module registers its sidebar
entry under the "Messages" section at import time.
"""

from __future__ import annotations

from fastapi import APIRouter

from wafa.messaging.web import channels, log, profile, suppressions, templates, unsubscribe
from wafa.web.routing import WebRoute

router = APIRouter(route_class=WebRoute)
for _screen in (channels, templates, log, suppressions, profile, unsubscribe):
    # The routes themselves (each keeps its class), not a nested router: wafa.web.app
    # checks every route's class.
    router.routes.extend(_screen.router.routes)
