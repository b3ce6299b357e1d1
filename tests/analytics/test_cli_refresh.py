from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from tests.analytics.helpers import build_shop
from tests.cli.conftest import Invoke, wafa  # noqa: F401 - the fixture
from wafa.analytics.tables import AnalyticsRun, CustomerScore
from wafa.core.db import session_scope
from wafa.core.settings import Settings


class TestAnalyticsRefreshCommand:
    def test_refresh_stores_scores_and_reports(self, wafa: Invoke, committed_db: Settings) -> None:  # noqa: F811
        with session_scope(committed_db) as s:
            build_shop(s, customers=20, seed=5)
        result = wafa("analytics", "refresh", "--as-of", "2026-02-08", "--quiet")
        assert result.exit_code == 0, result.output
        with session_scope(committed_db) as s:
            run = s.scalars(select(AnalyticsRun)).one()
            assert run.status == "succeeded" and run.as_of == dt.date(2026, 2, 8)
            assert s.scalar(select(func.count()).select_from(CustomerScore)) == run.customers > 0

    def test_a_bad_date_is_refused_without_traceback(self, wafa: Invoke) -> None:  # noqa: F811
        result = wafa("analytics", "refresh", "--as-of", "08/02/2026")
        assert result.exit_code == 1 and "expected a date as YYYY-MM-DD" in result.output
        assert "Traceback" not in result.output
