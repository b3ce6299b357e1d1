from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from tests.analytics.helpers import build_shop
from tests.cli.conftest import Invoke, wafa  # noqa: F401 - the fixture
from wafa.analytics import service
from wafa.analytics.schemas import NamedScore, SegmentsRead
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


class TestFiguresKeptPerRun:
    def test_segment_totals_and_at_risk_follow_the_latest_refresh(
        self,
        wafa: Invoke,  # noqa: F811
        committed_db: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        service.PER_RUN.clear()
        with session_scope(committed_db) as s:
            build_shop(s, customers=40, seed=11)

        def read() -> tuple[uuid.UUID, SegmentsRead, list[NamedScore]]:
            with session_scope(committed_db, write=False) as s:
                run = service.latest_run(s)
                return run.id, service.segment_summary(s), service.at_risk_customers(s, limit=5)

        def direct() -> tuple[SegmentsRead, list[uuid.UUID]]:
            with session_scope(committed_db, write=False) as s:
                run = service.latest_run(s)
                return service._segment_summary(s, run), service._rank_at_risk(s, run, 5)

        for as_of in ("2026-01-10", "2026-02-08"):
            assert wafa("analytics", "refresh", "--as-of", as_of, "--quiet").exit_code == 0
            run_id, segments, at_risk = read()
            again = read()  # kept: the same answer
            assert again == (run_id, segments, at_risk)
            expected_segments, expected_ranking = direct()
            assert segments == expected_segments
            assert at_risk and [r.customer_id for r in at_risk] == expected_ranking
            # Only the latest run's figures are kept.
            assert {key[1] for key in service.PER_RUN.kept_keys()} == {run_id}  # type: ignore[index]
