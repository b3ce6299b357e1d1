"""Events that become visible out of id order are still handled (the low-water marks)."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import update

from tests.loyalty.helpers import member, place, set_rules
from tests.worker.events import Noted, recording
from wafa.app.worker import build_worker
from wafa.core.db import session_factory, session_scope
from wafa.core.events import emit
from wafa.core.ids import id_floor
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.loyalty import accrual, handlers
from wafa.worker import batch
from wafa.worker.batch import drain_batched


def line(sku: str) -> list[dict[str, object]]:
    return [{"sku": sku, "name": sku, "quantity": 1, "unit_price": 500}]


def add_event(settings: Settings, n: str, *, ms_ago: int | None = None) -> None:
    """Commit an event, made now or (as a transaction open that long would) ``ms_ago``."""
    with session_scope(settings) as s:
        if ms_ago is None:
            emit(s, Noted(n=n))
        else:
            born = id_floor(time.time_ns() // 1_000_000 - ms_ago)
            s.add(OutboxEvent(id=uuid.UUID(int=born.int | 1), topic=Noted.topic, payload={"n": n}))


class TestMarks:
    def test_an_older_event_committed_later_is_handled(self, committed_db: Settings) -> None:
        seen: list[str] = []
        consumer, factory = recording(seen), session_factory(committed_db)
        marks: dict[str, uuid.UUID] = {}
        add_event(committed_db, "late")
        assert drain_batched(factory, [consumer], marks=marks) == 1
        # An event made a second before the one handled, by a transaction that commits now.
        add_event(committed_db, "earlier", ms_ago=1000)
        assert drain_batched(factory, [consumer], marks=marks) == 1
        assert seen == ["late", "earlier"]

    def test_events_of_very_long_transactions_wait_for_the_sweep(
        self, committed_db: Settings
    ) -> None:
        seen: list[str] = []
        consumer, factory = recording(seen), session_factory(committed_db)
        marks: dict[str, uuid.UUID] = {}
        add_event(committed_db, "new")
        drain_batched(factory, [consumer], marks=marks)
        lag_ms = int(batch.MARK_LAG_SECONDS * 1000)
        add_event(committed_db, "import", ms_ago=2 * lag_ms)  # older than the marks' lag
        assert drain_batched(factory, [consumer], marks=marks) == 0
        assert drain_batched(factory, [consumer], marks={}) == 1  # the sweep's pass
        assert seen == ["new", "import"]

    def test_the_worker_sweeps_after_sweep_every(self, committed_db: Settings) -> None:
        with session_scope(committed_db) as s:
            set_rules(s)
            order = place(s, member(s))
        worker = build_worker(committed_db)
        worker.sweep_every = 3600.0
        worker.run_once(daily=False)  # the first pass reads the whole outbox
        with session_scope(committed_db) as s:
            straggler = place(s, member(s))
            # As if a transaction open for twice the marks' lag had just committed it.
            old = id_floor(time.time_ns() // 1_000_000 - int(2 * batch.MARK_LAG_SECONDS * 1000))
            s.execute(
                update(OutboxEvent)
                .where(OutboxEvent.topic == "order.placed")
                .where(OutboxEvent.subject_id == straggler.id)
                .values(id=uuid.UUID(int=old.int | 7))
            )
        worker.run_once(daily=False)
        with session_scope(committed_db, write=False) as s:
            assert accrual.earned_by_order(s, order.id) > 0
            assert accrual.earned_by_order(s, straggler.id) == 0  # below the mark
        worker.sweep_every = 0.0
        worker.run_once(daily=False)
        with session_scope(committed_db, write=False) as s:
            assert accrual.earned_by_order(s, straggler.id) > 0


@pytest.mark.postgres_only
class TestOutOfOrderCommits:
    def test_an_order_committed_after_a_later_one_earns_its_points(
        self, committed_db: Settings
    ) -> None:
        with session_scope(committed_db) as s:
            set_rules(s)
            slow_buyer, quick_buyer = member(s), member(s)
        factory = session_factory(committed_db)
        consumer = handlers.consumer(committed_db)
        marks: dict[str, uuid.UUID] = {}
        drain_batched(factory, [consumer], marks=marks)
        slow = factory()
        slow.begin()
        # Different buyers and products: the two transactions wait for no common row.
        first = place(slow, slow.merge(slow_buyer), lines=line("TEA-1"))  # the smaller id
        with session_scope(committed_db) as s:
            second = place(s, s.merge(quick_buyer), lines=line("CAKE-1"))
        assert drain_batched(factory, [consumer], marks=marks) == 1
        slow.commit()
        slow.close()
        assert drain_batched(factory, [consumer], marks=marks) == 1
        with factory() as s:
            assert accrual.earned_by_order(s, first.id) > 0
            assert accrual.earned_by_order(s, second.id) > 0


class TestIdleWorker:
    def test_a_pass_with_nothing_pending_still_bounds_the_next(
        self, committed_db: Settings
    ) -> None:
        seen: list[str] = []
        consumer, factory = recording(seen), session_factory(committed_db)
        marks: dict[str, uuid.UUID] = {}
        assert drain_batched(factory, [consumer], marks=marks) == 0
        # The mark is set (the next pass reads only the last minutes of the outbox)...
        floor = id_floor(time.time_ns() // 1_000_000 - int(batch.MARK_LAG_SECONDS * 1000))
        assert marks["recorder"] <= floor
        # ...and an event made inside the lag is still found.
        add_event(committed_db, "after an idle pass", ms_ago=1000)
        assert drain_batched(factory, [consumer], marks=marks) == 1
        assert seen == ["after an idle pass"]
