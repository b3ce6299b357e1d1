"""The nightly refresh, run by ``wafa worker`` (declared in :mod:`wafa.analytics.declaration`).

Once a new local day has begun in the business's timezone, the scores are recomputed
as of the day that just ended. Only the latest day matters (a refresh replaces every
score), so days missed during downtime are not caught up one by one: the next run
covers them. Running twice is harmless: a day that already has a successful refresh
is skipped.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wafa.analytics.tables import AnalyticsRun, RunStatus
from wafa.core.calendars import local_date
from wafa.core.domain import DailyTask, Task
from wafa.core.errors import WafaError
from wafa.core.settings import Settings

__all__ = ["due_days", "run_daily_jobs"]


def _refreshed_as_of(session: Session, day: dt.date) -> bool:
    found = session.scalar(
        select(AnalyticsRun.id).where(
            AnalyticsRun.status == RunStatus.succeeded, AnalyticsRun.as_of >= day
        )
    )
    return found is not None


def due_days(factory: sessionmaker[Session], settings: Settings, now: dt.datetime) -> list[dt.date]:
    """Return today's local date when last night's refresh has not run yet.

    Parameters
    ----------
    factory : sqlalchemy.orm.sessionmaker
        Session factory of the worker.
    settings : Settings
        Business timezone.
    now : datetime.datetime
        The worker's clock.

    Returns
    -------
    list of datetime.date
        ``[today]`` or nothing.
    """
    today = local_date(now, settings.zone)
    with factory() as session:
        if _refreshed_as_of(session, today - dt.timedelta(days=1)):
            return []
    return [today]


def run_daily_jobs(
    factory: sessionmaker[Session], settings: Settings, day: dt.date
) -> dict[str, int]:
    """Refresh the analytics as of the day before ``day`` (the last complete day).

    A failure is recorded as a failed run (the previous scores stay) and reported in the
    counts rather than raised, so the worker carries on with its other tasks.

    Parameters
    ----------
    factory : sqlalchemy.orm.sessionmaker
        Session factory of the worker.
    settings : Settings
        Business currency, timezone and calendar.
    day : datetime.date
        The local date whose jobs are due.

    Returns
    -------
    dict
        ``{"analytics-refresh": customers}`` (0 when skipped), or
        ``{"analytics-refresh-failed": 1}``.
    """
    as_of = day - dt.timedelta(days=1)
    with factory() as session:
        if _refreshed_as_of(session, as_of):
            return {"analytics-refresh": 0}
    # Imported here, not with the worker: the models need NumPy, SciPy and DuckDB (about a
    # second of every worker's start, for a job that runs once a day).
    from wafa.analytics import refresh as refreshing

    try:
        with factory() as session, session.begin():
            run = refreshing.refresh(
                session, settings=settings, options=refreshing.RefreshOptions(as_of=as_of)
            )
            customers = run.customers
    except WafaError as exc:
        with factory() as session, session.begin():
            refreshing.record_failed_run(session, settings=settings, error=exc.detail)
        return {"analytics-refresh-failed": 1}
    return {"analytics-refresh": customers}


def tasks() -> list[Task]:
    """List what the worker runs for analytics: last night's refresh."""
    return [DailyTask("analytics", due=due_days, run=run_daily_jobs)]
