"""What a domain adds to the dashboard: its routers, sidebar entries and profile panels.

A domain's ``web`` module (or ``web`` package) builds one ``Pages`` and its declaration
(``declaration.py``) returns it from ``pages=``. The assembly mounts the routers (each
route must use ``WebRoute``: CSRF check and commit), merges the sidebar entries into
one ``Navigation`` and gives the panels to the customer profile page.

Panels. A domain adds a card to the customer profile (the loyalty balance, the
analytics insights) with a ``CustomerPanel``: a template and a loader. The loader
receives the request's read session and the customer, calls its domain's service,
and returns a dict (``None`` hides the panel). The template is included with that dict
as ``panel`` (``{{ panel.status.points }}``), plus ``customer``, ``user`` and the page's
globals; wrap it in ``<section class="card">``. ``column`` is ``"main"`` (under the
summary, above the timeline) or ``"side"`` (the narrow column). Panels are not drawn on
merged or erased records.

How the profile's timeline labels an event is declared on the event itself
(``label`` and ``icon`` of ``wafa.core.events.Event``).

Notices. A domain puts something the owner must act on at the top of the Overview (a
webhook address that stopped receiving events) with an ``OverviewNotice``: a template and
a loader that receives the request's read session and returns a dict (``None`` draws
nothing), included as ``panel`` like a profile panel, shown only to staff whose role holds
``permission``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from wafa.auth.models import Role
from wafa.auth.permissions import Permission
from wafa.web.nav import NavItem

#: ``load(session, customer)``: the customer is a ``wafa.customers.models.Customer``.
PanelLoader = Callable[[Session, Any], Mapping[str, Any] | None]


@dataclass(frozen=True)
class CustomerPanel:
    """A card on the customer profile, contributed by a domain."""

    key: str
    template: str
    load: PanelLoader
    min_role: Role = Role.cashier
    order: int = 100
    column: str = "side"

    def __post_init__(self) -> None:
        if self.column not in ("main", "side"):
            raise ValueError(f"column must be 'main' or 'side', not {self.column!r}")


#: ``load(session)``: what the notice shows, or ``None`` when there is nothing to say.
NoticeLoader = Callable[[Session], Mapping[str, Any] | None]


@dataclass(frozen=True)
class OverviewNotice:
    """A notice at the top of the Overview, contributed by a domain."""

    key: str
    template: str
    load: NoticeLoader
    permission: Permission
    order: int = 100


@dataclass(frozen=True)
class Pages:
    """A domain's dashboard: routers, sidebar entries, customer-profile panels, notices."""

    routers: tuple[APIRouter, ...]
    nav: tuple[NavItem, ...] = ()
    panels: tuple[CustomerPanel, ...] = ()
    notices: tuple[OverviewNotice, ...] = ()
    #: Matched before the API and every other page. FastAPI tries an application's routes
    #: one by one (about 400 here), so the pages a crowd opens (the customer portal) are put
    #: where the search starts. Only for paths no other route could match (a test checks).
    first: bool = False
