"""A customer merge moves the loser's ways through the flows to the winner, or ends the
ones the winner has too: the winner never gets a step twice, and nothing is lost."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.flows.helpers import drain, enrolments, flow, messages, no_limits, template
from tests.loyalty.helpers import place
from tests.messaging.helpers import subscriber
from wafa.core.settings import Settings
from wafa.flows import jobs
from wafa.flows.models import Flow
from wafa.people import service as people


def _flows(session: Session) -> tuple[Flow, Flow]:
    template(session, "t.bday", "Happy birthday")
    template(session, "t.later", "How was it?")
    no_limits(session)
    birthday = flow(
        session,
        "bday",
        [
            {"key": "at", "type": "wait", "minutes": 1, "at": "10:00"},
            {"key": "wish", "type": "send", "template": "t.bday"},
        ],
        trigger={"type": "date", "rule": "birthday"},
    )
    later = flow(
        session,
        "later",
        [
            {"key": "days", "type": "wait", "days": 2},
            {"key": "ask", "type": "send", "template": "t.later"},
        ],
    )
    return birthday, later


def _merge_and_run(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    *,
    handle_event: bool,
) -> None:
    birthday, later = _flows(session)
    winner = subscriber(session, birthday={"day": 16, "month": 3})
    loser = subscriber(session, birthday={"day": 16, "month": 3})
    place(session, loser, placed_at=clock.now)
    session.commit()
    drain(session_factory, settings)  # the loser enters "later" for their order
    clock.set(datetime(2026, 3, 16, 0, 5, tzinfo=UTC))
    assert jobs.run_day(session_factory, settings, clock.now.date())["entered"] == 2
    people.merge_customers(session, winner_id=winner.id, loser_id=loser.id, merged_by="test")
    session.commit()
    if handle_event:
        drain(session_factory, settings)
    clock.set(datetime(2026, 3, 16, 10, 1, tzinfo=UTC))
    jobs.run_due(session_factory, settings)
    jobs.run_due(session_factory, settings)
    clock.advance(days=2)
    jobs.run_due(session_factory, settings)
    jobs.run_due(session_factory, settings)

    [wish] = messages(session, birthday)  # one birthday message, to the winner
    assert wish.customer_id == winner.id
    ways = {(e.customer_id, e.status, e.exit_reason) for e in enrolments(session, birthday)}
    assert ways == {(winner.id, "done", None), (loser.id, "exited", "merged")}
    [ask] = messages(session, later)  # the order's follow-up moved with the order
    assert ask.customer_id == winner.id
    [moved] = enrolments(session, later)
    assert (moved.customer_id, moved.status) == (winner.id, "done")


def test_merge_moves_or_ends_enrolments(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    _merge_and_run(session, session_factory, settings, clock, handle_event=True)


def test_due_steps_of_a_merged_record_wait_for_the_move(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    """The worker reaches the loser's due steps before the merge event is handled."""
    _merge_and_run(session, session_factory, settings, clock, handle_event=False)
