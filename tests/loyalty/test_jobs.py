from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import consistent, deliver, events_of, member, place, set_rules
from wafa.core.db import session_factory, session_scope
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import jobs, ledger, service, streaks
from wafa.loyalty.models import JobRun, PointsEntry


def _earn(session: Session, settings: Settings, customer: Any, amount: int = 1000) -> None:
    place(session, customer, lines=[{"sku": "X", "name": "x", "quantity": 1, "unit_price": amount}])
    deliver(session, settings)


class TestRelease:
    def test_release_job_moves_due_points_to_available(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, pending_days=14)
        a, b = member(session), member(session)
        _earn(session, settings, a)
        clock.advance(days=5)
        _earn(session, settings, b)
        clock.advance(days=10)
        assert jobs.release_batch(session, settings=settings, now=utcnow()) == 1
        assert jobs.release_batch(session, settings=settings, now=utcnow()) == 0
        assert ledger.balance_of(session, a.id, now=utcnow()) == (10, 0)
        assert ledger.balance_of(session, b.id, now=utcnow()) == (0, 10)
        acct = ledger.account(session, a.id)
        assert acct is not None and (acct.available, acct.pending) == (10, 0)
        consistent(session, a.id)
        consistent(session, b.id)


class TestExpiry:
    def test_points_lapse_on_their_day_and_are_warned_30_and_7_days_ahead(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, pending_days=0, expiry={"policy": "fixed", "months": 2})
        c = member(session)
        _earn(session, settings, c)  # 15 March: gone from 15 May
        status = service.status(session, settings=settings, customer_id=c.id)
        assert [(e.points, e.on) for e in status.expiring] == [(10, date(2026, 5, 15))]
        for day in (date(2026, 4, 14), date(2026, 4, 15), date(2026, 4, 15), date(2026, 5, 8)):
            jobs.warn_batch(session, settings=settings, day=day)
        warnings = [
            (e.payload["days_ahead"], e.payload["expires_on"])
            for e in events_of(session, "points.expiring", c.id)
        ]
        assert warnings == [(30, "2026-05-15"), (7, "2026-05-15")]
        clock.set(datetime(2026, 5, 14, 23, 59, tzinfo=UTC))
        assert jobs.expire_batch(session, settings=settings, now=utcnow()) == 0
        clock.set(datetime(2026, 5, 15, 0, 0, tzinfo=UTC))
        assert jobs.expire_batch(session, settings=settings, now=utcnow()) == 1
        assert jobs.expire_batch(session, settings=settings, now=utcnow()) == 0
        assert service.status(session, settings=settings, customer_id=c.id).available == 0
        entry = session.scalars(select(PointsEntry).where(PointsEntry.kind == "expire")).one()
        assert (entry.points, entry.reason) == (-10, "expiry")
        consistent(session, c.id)

    def test_spent_points_come_from_the_lot_expiring_first(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, pending_days=0, expiry={"policy": "fixed", "months": 2})
        c = member(session)
        _earn(session, settings, c)
        clock.advance(days=30)
        _earn(session, settings, c)
        service.adjust(
            session,
            settings=settings,
            customer_id=c.id,
            points=-10,
            reason="used at the till",
            by="t",
        )
        clock.set(datetime(2026, 5, 15, 0, 0, tzinfo=UTC))
        jobs.expire_batch(session, settings=settings, now=utcnow())
        assert service.status(session, settings=settings, customer_id=c.id).available == 10

    def test_inactivity_expires_everything_after_n_months_without_a_purchase(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, pending_days=0, expiry={"policy": "inactivity", "months": 6})
        c = member(session)
        _earn(session, settings, c)
        clock.advance(days=60)
        _earn(session, settings, c)  # last purchase 14 May 2026
        status = service.status(session, settings=settings, customer_id=c.id)
        assert [(e.points, e.on) for e in status.expiring] == [(20, date(2026, 11, 14))]
        jobs.warn_batch(session, settings=settings, day=date(2026, 10, 15))
        assert [e.payload["points"] for e in events_of(session, "points.expiring", c.id)] == [20]
        n, _ = jobs.inactivity_batch(
            session, settings=settings, day=date(2026, 11, 13), now=utcnow(), after=None
        )
        assert n == 0
        n, _ = jobs.inactivity_batch(
            session, settings=settings, day=date(2026, 11, 14), now=utcnow(), after=None
        )
        assert n == 1
        assert service.status(session, settings=settings, customer_id=c.id).available == 0
        consistent(session, c.id)


class TestStreakBreaks:
    def test_a_week_without_a_purchase_breaks_the_streak(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        rules = set_rules(session)
        c = member(session)
        for _ in range(3):
            _earn(session, settings, c)
            clock.advance(days=7)
        assert service.status(session, settings=settings, customer_id=c.id).streak == 3
        assert (
            streaks.break_streaks(session, settings=settings, rules=rules, day=date(2026, 4, 5))
            == 0
        )
        assert (
            streaks.break_streaks(session, settings=settings, rules=rules, day=date(2026, 4, 6))
            == 1
        )
        status = service.status(session, settings=settings, customer_id=c.id)
        assert (status.streak, status.best_streak) == (0, 3)


class TestRunDaily:
    def test_days_due_catches_up_after_downtime_but_not_forever(
        self, committed_db: Settings
    ) -> None:
        settings = committed_db
        factory = session_factory(settings)
        now = datetime(2026, 3, 15, 12, tzinfo=UTC)
        with factory() as s:
            assert jobs.days_due(s, settings, now=now) == [date(2026, 3, 15)]
        jobs.run_daily(factory, settings, date(2026, 3, 1))
        with factory() as s:
            assert jobs.days_due(s, settings, now=now) == [
                date(2026, 3, 9) + timedelta(days=i) for i in range(7)
            ]
            assert jobs.days_due(s, settings, now=datetime(2026, 3, 2, 1, tzinfo=UTC)) == [
                date(2026, 3, 2)
            ]

    def test_a_finished_day_is_not_run_again(
        self, committed_db: Settings, clock: FrozenClock
    ) -> None:
        settings = committed_db
        factory = session_factory(settings)
        with session_scope(settings) as s:
            set_rules(s, pending_days=0, expiry={"policy": "fixed", "months": 1})
            c = member(s)
            service.adjust(s, settings=settings, customer_id=c.id, points=10, reason="x", by="t")
        day = date(2026, 3, 15)
        jobs.run_daily(factory, settings, day)
        assert jobs.run_daily(factory, settings, day) == dict.fromkeys(jobs.JOB_NAMES, 0)
        with factory() as s:
            runs = s.scalars(select(JobRun).where(JobRun.run_on == day)).all()
            assert {r.job for r in runs if r.status == "done"} == set(jobs.JOB_NAMES)

    def test_a_crashed_run_resumes_from_its_cursor(
        self, committed_db: Settings, clock: FrozenClock
    ) -> None:
        settings = committed_db
        factory = session_factory(settings)
        with session_scope(settings) as s:
            set_rules(s, birthday={"enabled": True, "points": 5, "cooloff_days": 0})
            ids = [member(s, birthday={"day": 15, "month": 3}).id for _ in range(5)]
        job = next(j for j in jobs.JOBS if j.name == "birthdays")
        calls = {"n": 0}
        real = job.step

        def flaky(
            session: Session, st: Settings, day: date, cursor: str | None, limit: int
        ) -> tuple[int, str | None]:
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("power cut")
            return real(session, st, day, cursor, limit)

        crashing = jobs.Job(job.name, flaky, 2, job.help)
        with pytest.raises(RuntimeError):
            jobs.run_job(factory, settings, crashing, date(2026, 3, 15))
        with factory() as s:
            run = s.get(JobRun, ("birthdays", date(2026, 3, 15)))
            assert run is not None and (run.status, run.processed) == ("running", 4)
        assert jobs.run_job(factory, settings, job, date(2026, 3, 15), batch=2) == 1
        with factory() as s:
            granted = [ledger.balance_of(s, cid, now=utcnow())[0] for cid in ids]
            assert granted == [5] * 5
            assert s.scalar(select(func.count()).select_from(PointsEntry)) == 5


class TestRetier:
    def test_new_tier_rules_move_up_who_qualifies_once(
        self, committed_db: Settings, clock: FrozenClock
    ) -> None:
        settings = committed_db
        factory = session_factory(settings)
        with session_scope(settings) as s:
            set_rules(s, pending_days=0)
            c = member(s)
            _earn(s, settings, c, amount=50_000)
            cid = c.id
        clock.advance(hours=1)
        with session_scope(settings) as s:
            set_rules(
                s,
                tiers={
                    "enabled": True,
                    "basis": "spend",
                    "levels": [{"code": "gold", "name": "Gold", "threshold": 10_000}],
                },
            )
        job = next(j for j in jobs.JOBS if j.name == "retier")
        assert jobs.run_job(factory, settings, job, date(2026, 3, 15)) == 1
        with factory() as s:
            assert service.status(s, settings=settings, customer_id=cid).tier == "gold"
        clock.advance(days=1)
        assert jobs.run_job(factory, settings, job, date(2026, 3, 16)) == 0
