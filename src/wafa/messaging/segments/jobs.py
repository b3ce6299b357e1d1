"""The daily rebuild of the order figures, run by ``wafa worker``.

Events keep the figures current; the rebuild recomputes them all from the orders once
a local day, which builds them the first time and repairs anything no event announced.
A day already rebuilt is not rebuilt again.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session, sessionmaker

from wafa.core.calendars import local_date
from wafa.core.domain import DailyTask, Task
from wafa.core.settings import Settings
from wafa.messaging.segments import stats

__all__ = ["due_days", "run_daily_jobs"]


def _rebuilt_on(session: Session, settings: Settings, day: date) -> bool:
    build = stats.last_build(session)
    return (
        build is not None
        and build.currency == settings.currency
        and local_date(build.started_at, settings.zone) >= day
    )


def due_days(factory: sessionmaker[Session], settings: Settings, now: datetime) -> list[date]:
    """``[today]`` (local) while today's rebuild has not run."""
    today = local_date(now, settings.zone)
    with factory() as session:
        return [] if _rebuilt_on(session, settings, today) else [today]


def run_daily_jobs(factory: sessionmaker[Session], settings: Settings, day: date) -> dict[str, int]:
    """Rebuild every customer's order figures (skipped when ``day`` is done)."""
    with factory() as session, session.begin():
        if _rebuilt_on(session, settings, day):
            return {"segments-stats": 0}
        build = stats.rebuild(session, currency=settings.currency)
        return {"segments-stats": build.customers}


def tasks() -> list[Task]:
    """List what the worker runs for segments: the nightly rebuild of the order figures."""
    return [DailyTask("messaging.segments", due=due_days, run=run_daily_jobs)]
