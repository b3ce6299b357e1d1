"""Extension points of the customer profile, for the domains that come after the foundation.

Panels. A domain adds a card to the customer page (the loyalty balance, the
analytics insights) by registering a template and a loader at import time of its
``web.py``::

    from wafa.web.panels import register_customer_panel

    def _loyalty_panel(session: Session, customer: Customer) -> dict[str, Any] | None:
        return {"status": loyalty_service.customer_status(session, customer.id)}

    register_customer_panel(
        "loyalty", template="loyalty/_profile_panel.html", load=_loyalty_panel,
        column="main", order=10,
    )

The loader receives the request's read session and the customer, calls its domain's
service, and returns a dict (``None`` hides the panel). The template is included
with that dict as ``panel`` (``{{ panel.status.points }}``), plus ``customer``,
``user`` and the page's globals; wrap it in ``<section class="card">``. ``column`` is ``"main"`` (under the summary, above the timeline) or
``"side"`` (the narrow column). Panels are not drawn on merged or erased records.

Timeline labels. Events other domains write to the outbox with the customer as
subject appear on the profile's timeline; ``register_timeline_event`` gives a topic a
translated label and an icon::

    register_timeline_event("points.earned", N_("Points earned"), icon="star")
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from wafa.auth.models import Role, StaffUser
from wafa.customers.models import Customer

log = logging.getLogger("wafa.web")

PanelLoader = Callable[[Session, Customer], Mapping[str, Any] | None]


@dataclass(frozen=True)
class CustomerPanel:
    """A card on the customer profile, contributed by a domain."""

    key: str
    template: str
    load: PanelLoader
    min_role: Role
    order: int
    column: str


@dataclass(frozen=True)
class RenderedPanel:
    """A panel and the context its loader returned, for one request (``failed``: it raised)."""

    panel: CustomerPanel
    context: Mapping[str, Any]
    failed: bool = False


@dataclass(frozen=True)
class TimelineEvent:
    """How the timeline shows an outbox topic."""

    label: str
    icon: str


_panels: dict[str, CustomerPanel] = {}
_events: dict[str, TimelineEvent] = {}


def register_customer_panel(
    key: str,
    *,
    template: str,
    load: PanelLoader,
    min_role: Role = Role.cashier,
    order: int = 100,
    column: str = "side",
) -> CustomerPanel:
    """Add (or replace, by ``key``) a card on the customer profile."""
    if column not in ("main", "side"):
        raise ValueError(f"column must be 'main' or 'side', not {column!r}")
    panel = CustomerPanel(key, template, load, Role(min_role), order, column)
    _panels[key] = panel
    return panel


def customer_panels(session: Session, customer: Customer, user: StaffUser) -> list[RenderedPanel]:
    """The panels ``user`` may see for ``customer``, loaded, in order.

    A loader that raises is logged and its card says it could not be loaded: the
    profile is what a cashier needs at the counter, one broken panel must not take it
    down. Each loader runs in a savepoint, so a failed query leaves the request's
    transaction usable for the others.
    """
    if not customer.is_active:
        return []
    out = []
    for panel in sorted(_panels.values(), key=lambda p: (p.order, p.key)):
        if not user.has_role(panel.min_role):
            continue
        try:
            with session.begin_nested():
                context = panel.load(session, customer)
        except Exception:
            log.exception("customer panel %r failed to load", panel.key)
            out.append(RenderedPanel(panel, {}, failed=True))
            continue
        if context is not None:
            out.append(RenderedPanel(panel, context))
    return out


def register_timeline_event(topic: str, label: str, *, icon: str = "dot") -> None:
    """Show outbox events of ``topic`` on the timeline as ``label`` (an English msgid)."""
    _events[topic] = TimelineEvent(label, icon)


def timeline_event(topic: str) -> TimelineEvent | None:
    """The registered label and icon of ``topic``, if any."""
    return _events.get(topic)
