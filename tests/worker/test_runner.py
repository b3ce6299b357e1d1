from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.cli.conftest import Invoke
from tests.conftest import FrozenClock
from tests.loyalty.helpers import member, place, set_rules
from tests.worker.events import Noted, recording
from wafa.app import domains
from wafa.app.worker import build_worker
from wafa.core.db import session_factory, session_scope
from wafa.core.events import Consumer, Envelope, Handles, emit
from wafa.core.outbox import OutboxEvent, OutboxFailure, OutboxReceipt
from wafa.core.settings import Settings
from wafa.loyalty import accrual, jobs, ledger
from wafa.loyalty.models import JobRun
from wafa.worker.batch import Drained, drain_batched
from wafa.worker.runner import Worker


def _deliveries(settings: Settings) -> int:
    """Events the worker has to hand out: each event once per consumer of its topic."""
    with session_scope(settings, write=False) as s:
        topics = list(s.scalars(select(OutboxEvent.topic)))
    return sum(t in c.topics for c in domains.consumers(settings) for t in topics)


def _orders(settings: Settings, n: int) -> list[uuid.UUID]:
    with session_scope(settings) as s:
        set_rules(s)
        c = member(s)
        return [place(s, c).id for _ in range(n)] + [c.id]


class TestDrainBatched:
    def test_handles_every_event_once_in_batches(
        self, committed_db: Settings, clock: FrozenClock
    ) -> None:
        *orders, cid = _orders(committed_db, 7)
        factory = session_factory(committed_db)
        from wafa.loyalty import handlers

        consumer = handlers.consumer(committed_db)
        assert drain_batched(factory, [consumer], batch=3) == 8  # 7 orders + customer.created
        assert drain_batched(factory, [consumer], batch=3) == 0
        with factory() as s:
            assert ledger.balance_of(s, cid, now=clock.now) == (0, 70)
            assert all(accrual.earned_by_order(s, o) == 10 for o in orders)
            assert ledger.check(s, cid) == []

    def test_a_failing_event_is_isolated_recorded_and_not_receipted(
        self, committed_db: Settings
    ) -> None:
        factory = session_factory(committed_db)
        seen: list[str] = []
        with session_scope(committed_db) as s:
            emit(s, Noted(n="a"))
            emit(s, Noted(n="b", bad=True))
            emit(s, Noted(n="c"))
        consumer = recording(seen, name="picky")
        out = Drained()
        assert drain_batched(factory, [consumer], batch=10, out=out) == 2
        # The batch rolled back at "b"; then each event ran alone: "a" and "c" handled.
        assert seen == ["a", "b", "a", "b", "c"]
        with factory() as s:
            receipted = s.scalars(
                select(OutboxReceipt.event_id).where(OutboxReceipt.consumer == "picky")
            ).all()
            failure = s.scalars(select(OutboxFailure)).one()
        assert len(receipted) == 2
        assert failure.event_id not in receipted
        assert failure.attempts == 1 and "cannot handle b" in failure.error
        assert failure.retry_at is not None
        assert out.failed is not None and [f.topic for f in out.failed] == [Noted.topic]
        # Not handled again before its retry is due, and never receipted while it fails.
        assert drain_batched(factory, [consumer], batch=10) == 0
        assert seen == ["a", "b", "a", "b", "c"]


class TestWorker:
    def test_run_once_drains_and_runs_the_days_jobs(
        self, committed_db: Settings, clock: FrozenClock
    ) -> None:
        *_, cid = _orders(committed_db, 2)
        worker = build_worker(committed_db)
        assert _deliveries(committed_db) >= 3  # loyalty's three, and other consumers' of them
        first = worker.run_once()
        assert "loyalty@2026-03-15" in first.tasks
        # Handlers and the day's jobs emit events (points) that consumers read, in this pass
        # or the next: every event is handled once per consumer, and then nothing is left.
        second = worker.run_once()
        assert first.events + second.events == _deliveries(committed_db)
        assert worker.run_once().events == 0
        assert not any(k.startswith("loyalty@") for k in second.tasks)
        with session_scope(committed_db, write=False) as s:
            assert ledger.balance_of(s, cid, now=clock.now) == (0, 20)
            done = s.scalars(
                select(JobRun.job).where(
                    JobRun.run_on == date(2026, 3, 15), JobRun.status == "done"
                )
            ).all()
            assert len(done) == len(jobs.JOB_NAMES)


class TestCli:
    def test_worker_run_once(
        self, wafa: Invoke, committed_db: Settings, clock: FrozenClock
    ) -> None:
        _orders(committed_db, 1)
        result = wafa("worker", "run", "--once")
        assert result.exit_code == 0, result.output
        # What the pass reports is what it receipted (events that handlers emit during the
        # pass may wait for the next one, depending on the consumers' order).
        with session_scope(committed_db, write=False) as s:
            receipted = len(s.scalars(select(OutboxReceipt.event_id)).all())
        assert receipted >= 2
        assert f"handled {receipted} events" in result.stdout


class TestIsolation:
    def test_a_failing_consumer_does_not_stop_loyalty(
        self, committed_db: Settings, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from wafa.loyalty import handlers
        from wafa.orders.events import OrderPlaced

        def broken(session: Session, event: OrderPlaced, _: Envelope) -> None:
            raise RuntimeError("boom")

        consumers = [
            Consumer("broken", (Handles(OrderPlaced, broken),)),
            *handlers.consumers(committed_db),
        ]
        *_, cid = _orders(committed_db, 1)
        result = Worker(committed_db, consumers=consumers, tasks=[]).run_once(daily=False)
        assert [(f.consumer, f.topic) for f in result.failed_events] == [("broken", "order.placed")]
        with session_scope(committed_db, write=False) as s:
            assert ledger.balance_of(s, cid, now=clock.now) == (0, 10)


class TestFollowsTheOwnersSettings:
    def test_a_running_worker_takes_settings_saved_after_it_started(
        self, committed_db: Settings, clock: FrozenClock
    ) -> None:
        from wafa.auth import business

        # A deployment that sets only its database and keys: the rest is the owner's.
        base = Settings.model_validate(
            {
                "database_url": committed_db.database_url,
                "environment": "test",
                "secret_key": committed_db.secret_key,
                "data_keys": committed_db.data_keys,
            }
        )
        worker = build_worker(base)
        worker.daily_check_every = 0  # look at the calendar on every pass
        first = worker.run_once()
        assert "loyalty@2026-03-15" in first.tasks  # 12:00 UTC: the 15th in UTC
        assert worker.run_once().tasks.keys().isdisjoint({"loyalty@2026-03-16"})
        with session_scope(committed_db) as s:  # the Settings page, in another process
            business.save(
                s,
                base=base,
                values={"business_name": "کافه نو", "timezone": "Pacific/Kiritimati"},
                orders_exist=False,
            )
        # 12:00 UTC is 02:00 on the 16th at UTC+14: the next pass runs the 16th's jobs in
        # the new timezone, and the consumers it drains with were built with the new name.
        moved = worker.run_once()
        assert "loyalty@2026-03-16" in moved.tasks
        assert worker.settings.timezone == "Pacific/Kiritimati"
        assert worker.settings.business_name == "کافه نو"
        assert worker.run_once().tasks.keys().isdisjoint({"loyalty@2026-03-16"})

    def test_unchanged_settings_are_not_read_again(
        self, committed_db: Settings, clock: FrozenClock
    ) -> None:
        worker = build_worker(committed_db)
        consumers = worker.consumers
        worker.run_once()
        worker.run_once()
        assert worker.consumers is consumers
