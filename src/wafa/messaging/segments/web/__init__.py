"""Dashboard pages for segments, one module per screen.

* :mod:`.listing`: the saved segments (``/segments``);
* :mod:`.builder`: the no-code builder with a live count (``/segments/new``,
  ``/segments/{id}/edit``);
* :mod:`.members`: one segment, its rule in words, its customers page by page, the CSV
  export (``/segments/{id}``, ``/segments/{id}/export.csv``).
"""

from __future__ import annotations

from fastapi import APIRouter

from wafa.auth.models import Role
from wafa.messaging.segments.web import builder, listing, members
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.routing import WebRoute

MESSAGES = N_("Messages")
NAV = NavItem(
    N_("Segments"), "/segments", min_role=Role.manager, icon="filter", order=62, section=MESSAGES
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
# The builder's fixed paths (/segments/new) come before the members page's /segments/{id}.
for screen in (listing, builder, members):
    router.routes.extend(screen.router.routes)  # the WebRoute objects themselves
