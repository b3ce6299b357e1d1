"""How a domain plugs into Wafa: one ``Domain`` declaration per domain.

Each domain package has a ``declaration.py`` that builds one ``Domain``: its tables, its
events, its API routers, its dashboard pages (with their navigation entries and
customer-profile panels), its outbox consumers, its timed jobs, the personal data it
holds (for a person's export and erasure) and its demo data. The assembly
(``wafa.app.domains``) imports every declaration by name, in one explicit tuple, and
builds the API, the dashboard, the worker, the models' metadata, the personal-data
export and erasure, the demo store and the event catalogue from that tuple. A domain
that is listed and missing is an ``ImportError`` at start, never a silent skip.

The entry faces (API routers, dashboard pages) are loaded lazily, by functions, so that
the worker and the command line do not import the web framework they do not use; the
rest is plain data.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from wafa.core.events import Consumer, Event
from wafa.core.settings import Settings

if TYPE_CHECKING:  # typing only: core imports no entry layer (see the import contracts)
    from fastapi import APIRouter  # noqa: TID251 - a type only; core imports no framework

    from wafa.web.pages import Pages

Factory = sessionmaker[Session]


@dataclass(frozen=True)
class DailyTask:
    """A job run once per local date of the business, catching up missed dates.

    ``due(factory, settings, now)`` lists the dates still to run; ``run(factory,
    settings, day)`` runs one and reports counts. Both must be idempotent: the worker
    may run a day twice (two workers, a crash between work and bookkeeping).
    """

    name: str
    due: Callable[[Factory, Settings, datetime], list[date]]
    run: Callable[[Factory, Settings, date], dict[str, int]]


@dataclass(frozen=True)
class IntervalTask:
    """A job run every ``every`` seconds; ``run(factory, settings)`` reports counts."""

    name: str
    every: float
    run: Callable[[Factory, Settings], dict[str, int]]


Task = DailyTask | IntervalTask


@dataclass(frozen=True)
class PersonalData:
    """What a domain holds on a person: ``export`` it, ``erase`` it.

    ``export(session, customer_id)`` returns JSON-ready data for the person's export
    (GDPR Art. 15). ``erase(session, settings, customer_id)`` removes or anonymises it
    in the caller's transaction, so an erasure is all or nothing across domains.
    """

    export: Callable[[Session, uuid.UUID], Mapping[str, Any]] | None = None
    erase: Callable[[Session, Settings, uuid.UUID], None] | None = None


@dataclass(frozen=True, kw_only=True)
class Domain:
    """One domain's declaration (see the module docstring)."""

    name: str
    summary: str
    models: tuple[ModuleType, ...] = ()
    events: tuple[type[Event], ...] = ()
    api: Callable[[], Sequence[APIRouter]] | None = None
    pages: Callable[[], Pages] | None = None
    consumers: Callable[[Settings], Sequence[Consumer]] | None = None
    tasks: Callable[[], Sequence[Task]] | None = None
    personal_data: PersonalData | None = None
    demo: Callable[[Session, Settings, int], None] | None = None

    def __post_init__(self) -> None:
        for event in self.events:
            if not getattr(event, "topic", None):
                raise TypeError(f"domain {self.name}: event {event.__name__} has no topic")


__all__ = ["DailyTask", "Domain", "Factory", "IntervalTask", "PersonalData", "Task"]
