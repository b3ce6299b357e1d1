"""Dashboard pages for campaigns, one module per screen.

* :mod:`.listing`: every campaign with its status (``/campaigns``);
* :mod:`.compose`: a new campaign, written per locale (``/campaigns/new``);
* :mod:`.detail`: one campaign: its counts, send / pause / resume / cancel, and the
  preview with a real customer (``/campaigns/{id}``);
* :mod:`.report`: what it did, against the holdout (``/campaigns/{id}/report``).
"""

from __future__ import annotations

from fastapi import APIRouter

from wafa.auth.models import Role
from wafa.messaging.campaigns.web import compose, detail, listing, report
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.routing import WebRoute

NAV = NavItem(
    N_("Campaigns"),
    "/campaigns",
    min_role=Role.manager,
    icon="mail",
    order=63,
    section=N_("Messages"),
)

router = APIRouter(route_class=WebRoute, include_in_schema=False)
# /campaigns/new comes before /campaigns/{id}.
for screen in (listing, compose, detail, report):
    router.routes.extend(screen.router.routes)  # the WebRoute objects themselves
