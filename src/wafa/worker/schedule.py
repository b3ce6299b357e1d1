"""What the worker runs: every domain's outbox consumers and timed tasks.

A domain takes part by exposing, in its ``handlers`` module,
``consumers(settings) -> list[Consumer]`` and, in its ``jobs`` module,
``run_daily_jobs(factory, settings, day)`` with ``due_days(factory, settings, now)``
and/or ``INTERVAL_TASKS = {name: (seconds, task(factory, settings))}``. Domains
not built yet are skipped; domains never import the worker.

Daily tasks run for each local date of the business (its timezone) once that
date has begun, catching up missed dates after downtime; interval tasks run every
``every`` seconds. Both must be idempotent: the worker may run them twice (two
workers, a crash between work and bookkeeping) and nothing may change the second
time.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from types import ModuleType

from sqlalchemy.orm import Session, sessionmaker

from wafa.core.outbox import Consumer
from wafa.core.settings import Settings

CONSUMER_MODULES = (
    "wafa.loyalty.handlers",
    "wafa.messaging.handlers",
    "wafa.messaging.segments.handlers",
    "wafa.feedback.handlers",
    "wafa.analytics.handlers",
)
TASK_MODULES = (
    "wafa.loyalty.jobs",
    "wafa.messaging.jobs",
    "wafa.messaging.segments.jobs",
    "wafa.feedback.jobs",
    "wafa.analytics.jobs",
)

Factory = sessionmaker[Session]
TaskRun = Callable[[Factory, Settings, date | None], dict[str, int]]


@dataclass(frozen=True)
class Task:
    """A timed task. ``daily``: ``run(factory, settings, day)`` for each due local date
    (``due(factory, settings, now)`` lists them); otherwise ``run(factory, settings,
    None)`` every ``every`` seconds."""

    name: str
    run: TaskRun
    daily: bool = True
    every: float = 60.0
    due: Callable[[Factory, Settings, datetime], list[date]] | None = None


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and name.startswith(exc.name):
            return None
        raise


def consumers(settings: Settings) -> list[Consumer]:
    """Every installed domain's consumers, in the order of ``CONSUMER_MODULES``."""
    found: list[Consumer] = []
    for name in CONSUMER_MODULES:
        module = _optional(name)
        provider = getattr(module, "consumers", None) if module else None
        if provider is not None:
            found.extend(provider(settings))
    return found


def _daily(run: Callable[[Factory, Settings, date], dict[str, int]]) -> TaskRun:
    def call(factory: Factory, settings: Settings, day: date | None) -> dict[str, int]:
        assert day is not None
        return run(factory, settings, day)

    return call


def _interval(run: Callable[[Factory, Settings], dict[str, int]]) -> TaskRun:
    def call(factory: Factory, settings: Settings, day: date | None) -> dict[str, int]:
        return run(factory, settings)

    return call


def tasks() -> list[Task]:
    """Every installed domain's timed tasks."""
    found: list[Task] = []
    for name in TASK_MODULES:
        module = _optional(name)
        if module is None:
            continue
        # "wafa.loyalty.jobs" -> "loyalty", "wafa.messaging.segments.jobs" -> "messaging.segments"
        domain = ".".join(name.split(".")[1:-1])
        daily = getattr(module, "run_daily_jobs", None)
        due = getattr(module, "due_days", None)
        if daily is not None and due is not None:
            found.append(Task(name=domain, run=_daily(daily), daily=True, due=due))
        for task_name, (every, run) in getattr(module, "INTERVAL_TASKS", {}).items():
            found.append(Task(name=task_name, run=_interval(run), daily=False, every=every))
    return found
