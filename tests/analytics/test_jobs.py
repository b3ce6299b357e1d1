from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.factories import create_order
from wafa.analytics import jobs
from wafa.analytics.tables import AnalyticsRun
from wafa.app import domains
from wafa.core.settings import Settings


class TestNightlyRefresh:
    def test_the_worker_knows_the_task(self) -> None:
        assert "analytics" in [t.name for t in domains.tasks()]

    def test_runs_once_per_night_as_of_the_day_that_ended(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        clock.set(dt.datetime(2026, 3, 15, 0, 30, tzinfo=dt.UTC))
        for day in (1, 3, 9):
            create_order(
                session,
                placed_at=f"2026-03-{day:02d}T10:00:00+00:00",
                customer={"email": "nightly@example.com"},
            )
        create_order(session, placed_at="2026-03-02T10:00:00+00:00")
        session.commit()
        now = clock.now
        assert jobs.due_days(session_factory, settings, now) == [dt.date(2026, 3, 15)]
        counts = jobs.run_daily_jobs(session_factory, settings, dt.date(2026, 3, 15))
        assert counts == {"analytics-refresh": 2}
        runs = session.scalars(select(AnalyticsRun)).all()
        assert [r.as_of for r in runs] == [dt.date(2026, 3, 14)]
        assert jobs.due_days(session_factory, settings, now) == []
        # a second pass changes nothing
        assert jobs.run_daily_jobs(session_factory, settings, dt.date(2026, 3, 15)) == {
            "analytics-refresh": 0
        }
