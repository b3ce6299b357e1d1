"""The worker's short path for urgent work: a task woken by a committed transaction runs
before the next consumer drains, and a resting worker starts its next pass as soon as
the outbox gains an event (not after its whole idle poll)."""

from __future__ import annotations

import threading
import time

from sqlalchemy.orm import Session

from tests.worker.events import Noted
from wafa.core import wake
from wafa.core.db import session_factory, session_scope
from wafa.core.domain import IntervalTask
from wafa.core.events import Consumer, Envelope, Handles, emit
from wafa.core.settings import Settings
from wafa.worker.runner import Worker


def test_a_wake_counts_only_once_its_transaction_commits(committed_db: Settings) -> None:
    wake.take()
    factory = session_factory(committed_db)
    with factory() as session, session.begin():
        wake.after_commit(session, "t.urgent")
        assert wake.take() == set()  # not before the commit
    assert wake.take() == {"t.urgent"}
    assert wake.take() == set()
    try:
        with factory() as session, session.begin():
            wake.after_commit(session, "t.urgent")
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert wake.take() == set()


def test_a_woken_task_runs_before_the_next_consumer(committed_db: Settings) -> None:
    wake.take()
    order: list[str] = []

    def urgent(session: Session, event: Noted, _: Envelope) -> None:
        order.append(f"first:{event.n}")
        wake.after_commit(session, "t.send")

    def later(session: Session, event: Noted, _: Envelope) -> None:
        order.append(f"second:{event.n}")

    def send(factory: object, settings: Settings) -> dict[str, int]:
        order.append("send")
        return {"sent": 1}

    def each(factory: object, settings: Settings) -> dict[str, int]:
        order.append("each")
        return {}

    worker = Worker(
        committed_db,
        consumers=[
            Consumer("first", (Handles(Noted, urgent),)),
            Consumer("second", (Handles(Noted, later),)),
        ],
        tasks=[
            IntervalTask("t.send", every=3600.0, run=send),
            IntervalTask("t.each", every=0.0, run=each),
        ],
    )
    with session_scope(committed_db) as s:
        emit(s, Noted(n="a"))
    done = worker.run_once(daily=False)
    # Right after the consumer that asked for it (and not again at the end of the pass:
    # it has just run).
    assert order == ["first:a", "send", "second:a", "each"]
    assert done.tasks["t.send"] == {"sent": 1}
    order.clear()
    with session_scope(committed_db) as s:
        emit(s, Noted(n="b"))
    worker.run_once(daily=False)
    # Not due by its interval now: it runs only because it was woken.
    assert order == ["first:b", "send", "second:b", "each"]
    order.clear()
    with session_scope(committed_db) as s:
        emit(s, Noted(n="c"))
    worker.consumers = [Consumer("first", (Handles(Noted, later),))]
    worker.run_once(daily=False)
    assert order == ["second:c", "each"]  # nobody woke it
    # A task run every pass that was woken runs once in that pass, not twice.
    order.clear()
    wake.request("t.each")
    with session_scope(committed_db) as s:
        emit(s, Noted(n="d"))
    worker.run_once(daily=False)
    assert order == ["second:d", "each"]


def test_a_resting_worker_starts_when_an_event_arrives(committed_db: Settings) -> None:
    seen: list[tuple[str, float]] = []

    def note(session: Session, event: Noted, _: Envelope) -> None:
        seen.append((event.n, time.monotonic()))

    worker = Worker(committed_db, consumers=[Consumer("noter", (Handles(Noted, note),))], tasks=[])
    stop = threading.Event()
    thread = threading.Thread(
        target=worker.run_forever, args=(stop,), kwargs={"poll": 60.0, "probe": 0.1}
    )
    thread.start()
    try:
        time.sleep(1.0)  # the first pass found nothing: the worker rests (60 s poll)
        assert seen == []
        with session_scope(committed_db) as s:
            emit(s, Noted(n="x"))
        written = time.monotonic()
        deadline = written + 30
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [n for n, _ in seen] == ["x"]
        # Far sooner than the 60 s poll (generous for a loaded machine).
        assert seen[0][1] - written < 15
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
