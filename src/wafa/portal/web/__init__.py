"""The portal's pages (one module per screen), served under ``/portal/``.

They are mounted with the dashboard's pages (``PortalRoute`` is a ``WebRoute``) but add
nothing to the staff sidebar: the customer reaches them by a signed link. Staff get the
counter's QR code and, on the customer profile, a card to send, show or cancel links
(``staff``).
"""

from __future__ import annotations

from fastapi import APIRouter

from wafa.portal.web import (
    counter,
    events,
    feedback,
    history,
    home,
    me,
    referral,
    rewards,
    signin,
    staff,
)
from wafa.portal.web.common import PortalRoute
from wafa.web.pages import Pages

router = APIRouter(route_class=PortalRoute)
for _screen in (signin, home, rewards, history, referral, feedback, events, me):
    router.routes.extend(_screen.router.routes)

# Matched first: a crowd of customers opens these pages, and every path is under /portal/
# (or the friend's /r/CODE), which no other route matches.
PAGES = Pages(routers=(router, counter.router, staff.router), panels=(staff.PANEL,), first=True)
