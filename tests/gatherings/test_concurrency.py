"""Fifty customers answer "yes" at once to an event with twenty seats: exactly twenty get
a seat and thirty wait, numbered 1 to 30 in the order their answers were taken; then
everyone with a seat says "no" at once and the waiting list moves up in order. Threads
with their own sessions and real commits, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import select

from tests.gatherings.helpers import invited
from wafa.core.db import session_factory, session_scope
from wafa.core.settings import Settings
from wafa.gatherings import service
from wafa.gatherings.models import Gathering, Rsvp

N = 50
CAPACITY = 20


def _all_at_once(settings: Settings, work: list[tuple[object, object, str]]) -> list[str]:
    factory = session_factory(settings)
    barrier = threading.Barrier(len(work))
    outcomes: list[str] = []
    lock = threading.Lock()

    def one(g_id: object, customer_id: object, answer: str) -> None:
        barrier.wait()
        try:
            with factory() as session, session.begin():
                result = service.answer(
                    session,
                    gathering_id=g_id,  # type: ignore[arg-type]
                    customer_id=customer_id,  # type: ignore[arg-type]
                    answer=answer,
                    source="link",
                ).status
        except Exception as exc:  # an error is an outcome to count
            result = f"error:{type(exc).__name__}:{exc}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=one, args=w) for w in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    return outcomes


def test_fifty_yes_at_once_fill_exactly_the_capacity(committed_db: Settings) -> None:
    settings = committed_db
    with session_scope(settings) as s:
        g, members = invited(s, settings, N, capacity=CAPACITY)
        g_id, ids = g.id, [m.id for m in members]
    outcomes = _all_at_once(settings, [(g_id, cid, "yes") for cid in ids])
    assert Counter(outcomes) == Counter({"yes": CAPACITY, "waiting": N - CAPACITY}), outcomes
    with session_scope(settings, write=False) as s:
        gathering = s.get(Gathering, g_id)
        assert gathering is not None and gathering.accepted == CAPACITY
        waiting = s.scalars(
            select(Rsvp.waiting_seq).where(Rsvp.status == "waiting").order_by(Rsvp.waiting_seq)
        ).all()
        assert waiting == list(range(1, N - CAPACITY + 1))
        seated = s.scalars(select(Rsvp.customer_id).where(Rsvp.status == "yes")).all()
        queue = s.scalars(
            select(Rsvp.customer_id).where(Rsvp.status == "waiting").order_by(Rsvp.waiting_seq)
        ).all()
    # Ten with a seat say no at once: the first ten of the waiting list get their seats.
    _all_at_once(settings, [(g_id, cid, "no") for cid in seated[:10]])
    with session_scope(settings, write=False) as s:
        gathering = s.get(Gathering, g_id)
        assert gathering is not None and gathering.accepted == CAPACITY
        now_seated = set(s.scalars(select(Rsvp.customer_id).where(Rsvp.status == "yes")))
        still = s.scalars(
            select(Rsvp.customer_id).where(Rsvp.status == "waiting").order_by(Rsvp.waiting_seq)
        ).all()
    assert now_seated == set(seated[10:]) | set(queue[:10])
    assert still == queue[10:]
