"""Every domain of Wafa, in one explicit list (bottom layer first).

Each domain declares itself once, in its ``declaration.py`` (``wafa.core.domain``). This
module imports each declaration by name: a domain that is listed and missing is an
``ImportError`` at start, never a silent skip. Everything the faces need is read from
``DOMAINS``: the API routers, the dashboard pages and navigation, the worker's consumers
and timed jobs, the tables, the personal-data export and erasure, the demo data and the
event catalogue. A new domain is added here (and to the import contracts in
``pyproject.toml``) on the day it is created.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from types import ModuleType

from wafa.analytics.declaration import ANALYTICS
from wafa.auth.declaration import AUTH
from wafa.core import outbox
from wafa.core.domain import Domain, PersonalData, Task
from wafa.core.events import Consumer, Event
from wafa.core.settings import Settings
from wafa.customers.declaration import CUSTOMERS
from wafa.feedback.declaration import FEEDBACK
from wafa.flows.declaration import FLOWS
from wafa.gatherings.declaration import GATHERINGS
from wafa.integrations.declaration import INTEGRATIONS
from wafa.loyalty.declaration import LOYALTY
from wafa.messaging.declaration import MESSAGING
from wafa.orders.declaration import ORDERS
from wafa.partners.declaration import PARTNERS
from wafa.people.declaration import PEOPLE
from wafa.people.service import Hooks
from wafa.portal.declaration import PORTAL

# Order matters for routes: a domain's fixed paths (``/customers/new``) come before a
# later domain's parameterised ones (``/customers/{id}``).
DOMAINS: tuple[Domain, ...] = (
    AUTH,
    CUSTOMERS,
    ORDERS,
    LOYALTY,
    ANALYTICS,
    MESSAGING,
    FEEDBACK,
    GATHERINGS,
    FLOWS,
    PEOPLE,
    INTEGRATIONS,
    PORTAL,
    PARTNERS,
)

#: Tables that belong to no domain: the outbox.
CORE_MODELS: tuple[ModuleType, ...] = (outbox,)


def _check_unique() -> None:
    names = [d.name for d in DOMAINS]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two domains with one name in {names}")
    topics: dict[str, str] = {}
    for domain in DOMAINS:
        for event in domain.events:
            if event.topic in topics:
                raise RuntimeError(
                    f"event topic {event.topic} declared by {topics[event.topic]} and {domain.name}"
                )
            topics[event.topic] = domain.name


_check_unique()


def events() -> Iterator[tuple[Domain, type[Event]]]:
    """Every declared event type with the domain that emits it."""
    for domain in DOMAINS:
        for event in domain.events:
            yield domain, event


def consumers(settings: Settings) -> list[Consumer]:
    """Every domain's outbox consumers, bound to ``settings``."""
    found: list[Consumer] = []
    for domain in DOMAINS:
        if domain.consumers is not None:
            found.extend(domain.consumers(settings))
    names = [c.name for c in found]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two consumers with one name in {names}")
    return found


def tasks() -> list[Task]:
    """Every domain's timed tasks."""
    found: list[Task] = []
    for domain in DOMAINS:
        if domain.tasks is not None:
            found.extend(domain.tasks())
    return found


def people_hooks() -> Hooks:
    """What whole-person operations need from the domains: personal data, timeline events."""
    held: dict[str, PersonalData] = {
        d.name: d.personal_data for d in DOMAINS if d.personal_data is not None
    }
    return Hooks(
        personal_data=held,
        timeline_events=tuple(e for _, e in events() if e.label is not None),
    )


def demo_populators() -> Sequence[tuple[str, Domain]]:
    """The domains that add demo data, in order."""
    return [(d.name, d) for d in DOMAINS if d.demo is not None]
