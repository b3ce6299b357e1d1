from __future__ import annotations

import json

from sqlalchemy import select, update

from tests.cli.conftest import Invoke
from tests.conftest import FrozenClock
from tests.loyalty.helpers import member, set_rules
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.loyalty import jobs, service
from wafa.loyalty.models import JobRun, LoyaltyAccount


class TestRunDaily:
    def test_runs_the_jobs_for_a_date_once(
        self, wafa: Invoke, committed_db: Settings, clock: FrozenClock
    ) -> None:
        result = wafa("loyalty", "run-daily", "--date", "2026-03-14")
        assert result.exit_code == 0, result.output
        assert "2026-03-14 birthdays" in result.stdout
        with session_scope(committed_db, write=False) as s:
            assert len(s.scalars(select(JobRun).where(JobRun.status == "done")).all()) == len(
                jobs.JOB_NAMES
            )

    def test_refuses_a_future_date_and_unknown_jobs(self, wafa: Invoke, clock: FrozenClock) -> None:
        future = wafa("loyalty", "run-daily", "--date", "2030-01-01")
        assert future.exit_code == 1
        assert "is in the future" in future.stderr
        unknown = wafa("loyalty", "run-daily", "--job", "nope")
        assert unknown.exit_code == 1
        assert "unknown job nope" in unknown.stderr


class TestLiabilityAndVerify:
    def test_liability_json_and_verify(
        self, wafa: Invoke, committed_db: Settings, clock: FrozenClock
    ) -> None:
        with session_scope(committed_db) as s:
            set_rules(s, point_value_bp=5000)
            c = member(s)
            service.adjust(
                s, settings=committed_db, customer_id=c.id, points=300, reason="seed", by="t"
            )
        result = wafa("loyalty", "liability", "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert (report["available_points"], report["available_value"]) == (300, 150)
        human = wafa("loyalty", "liability")
        assert "$1.50" in human.stdout
        ok = wafa("loyalty", "verify")
        assert ok.exit_code == 0, ok.output
        assert "1 accounts checked" in ok.stdout
        with session_scope(committed_db) as s:
            s.execute(update(LoyaltyAccount).values(available=299))
        bad = wafa("loyalty", "verify")
        assert bad.exit_code == 1
        assert "available 299 + pending 0 != ledger sum 300" in bad.stdout


class TestRecalcTiers:
    def test_twice_changes_once(
        self, wafa: Invoke, committed_db: Settings, clock: FrozenClock
    ) -> None:
        with session_scope(committed_db) as s:
            set_rules(
                s,
                tiers={
                    "enabled": True,
                    "basis": "points",
                    "levels": [{"code": "vip", "name": "VIP", "threshold": 0}],
                },
            )
            member(s)
            member(s)
            service.adjust(
                s, settings=committed_db, customer_id=member(s).id, points=1, reason="x", by="t"
            )
        assert "1 tier changes" in wafa("loyalty", "recalc-tiers").stdout
        assert "0 tier changes" in wafa("loyalty", "recalc-tiers").stdout
