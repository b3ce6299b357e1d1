"""Many ``points.expiring`` events at once: the worker hands the flows consumer a run of
them together (``start_flows_many``: a few statements a flow). What each member gets must
be what handling the events one at a time gives: the same enrolments, step outcomes,
messages on the same channels, holdout, and the same recorded skips with their reasons.

Both paths run on the very same stored events, the first in a transaction that is then
rolled back, so every id and draw is the same."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.flows.helpers import flow, no_limits, template
from tests.messaging.helpers import subscriber
from wafa.core.events import BATCH_MEMO, emit
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.customers import service as customers
from wafa.customers.models import ConsentChannel
from wafa.customers.records import erase_record
from wafa.customers.schemas import ConsentIn
from wafa.flows import handlers, presets
from wafa.flows.engine import in_holdout
from wafa.flows.events import FlowEntered
from wafa.flows.models import Enrolment, Flow, Skip, StepRun
from wafa.loyalty.events import PointsExpiring
from wafa.messaging import consent
from wafa.messaging.models import Message, SuppressionReason

ON = ["reminders"]


def _outcome(session: Session) -> dict[str, Any]:
    """Everything the flows did, keyed by what is the same on both paths (customer,
    occasion, flow), never by the ids made while handling."""
    session.flush()
    flows = {f.id: f.key for f in session.scalars(select(Flow))}
    ways = list(session.scalars(select(Enrolment)))
    key = {e.id: (flows[e.flow_id], e.customer_id, e.occasion) for e in ways}
    steps = {
        (key[r.enrolment_id], r.step): (r.outcome, r.detail, r.message_id is not None)
        for r in session.scalars(select(StepRun))
    }
    sent = {}
    for m in session.scalars(select(Message).where(Message.flow_id.is_not(None))):
        enrolment_id, step = m.occasion.split(":", 1)
        sent[(key[uuid.UUID(enrolment_id)], step)] = (
            m.customer_id,
            m.channel,
            m.reason,
            m.template_key,
            m.status,
            m.status_reason,
            m.not_before,
            m.kind,
            m.topic,
            m.priority,
            dict(m.context or {}),
        )
    return {
        "enrolments": {
            key[e.id]: (e.status, e.step, e.position, e.holdout, e.exit_reason, e.context)
            for e in ways
        },
        "steps": steps,
        "messages": sent,
        "skips": {
            (s.flow_key, s.customer_id, s.occasion): (s.topic, s.reason)
            for s in session.scalars(select(Skip))
        },
        "entered_events": sorted(
            str(e.payload["customer_id"])
            for e in session.scalars(
                select(OutboxEvent).where(OutboxEvent.topic == FlowEntered.topic)
            )
        ),
    }


def test_a_run_of_expiry_events_together_as_one_at_a_time(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    no_limits(session)
    presets.ensure_presets(session)  # the ready points_expiring flow, off: skips too
    template(session, "t.expiring", "{{ points }} points expire on {{ expires_on }}")
    remind = flow(
        session,
        "remind_expiring",
        [{"key": "remind", "type": "send", "template": "t.expiring", "fallback": "sms"}],
        trigger={"type": "event", "topic": "points.expiring"},
        filters={"all": [{"field": "tags", "op": "in", "value": ["reminders"]}]},
        holdout_percent=30,
        cooldown_days=5,
    )
    flow(
        session,
        "expiring_off",
        [{"key": "remind", "type": "send", "template": "t.expiring"}],
        trigger={"type": "event", "topic": "points.expiring"},
        enabled=False,
    )
    members = [subscriber(session, tags=ON, phone=f"+1202555{n:04d}") for n in range(20)]
    sms_only = create_customer(session, tags=ON, phone="+12025559001")
    customers.record_consent(
        session,
        customer=sms_only,
        consent=ConsentIn(channel=ConsentChannel.sms, granted=True, source="test"),
    )
    nothing = create_customer(session, tags=ON)  # no consent: queued, unreachable
    bounced = subscriber(session, tags=ON, phone="+12025559002")
    consent.suppress(
        session,
        secret=consent.hash_key(session),
        medium="email",
        address=bounced.email or "",
        reason=SuppressionReason.hard_bounce,
        source="test",
    )
    quiet = subscriber(session)  # filtered out (no tag): a skip
    gone = subscriber(session, tags=ON)
    people = [*members, sms_only, nothing, bounced, quiet, gone]
    session.flush()
    # 30 days ahead for everyone, then 7 days ahead for some: a second event for the
    # same member within the cooldown is a recorded skip ("cooldown"), on both paths.
    for c in people:
        emit(
            session,
            PointsExpiring(
                customer_id=c.id, points=40, expires_on=date(2026, 4, 14), days_ahead=30
            ),
        )
    for c in [*members[:6], nothing, quiet]:
        emit(
            session,
            PointsExpiring(customer_id=c.id, points=40, expires_on=date(2026, 3, 22), days_ahead=7),
        )
    session.commit()
    erase_record(session, customer_id=gone.id)  # erased after the event: not live
    session.commit()
    stored = list(
        session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.topic == PointsExpiring.topic)
            .order_by(OutboxEvent.id)
        )
    )
    assert len(stored) == len(people) + 8
    consumer = handlers.consumer(settings)

    # As the worker's batched draining runs them: presets ensured once a batch.
    with session_factory() as one:
        one.info[BATCH_MEMO] = {}
        for event in stored:
            consumer.handle(one, event)
        alone = _outcome(one)
        one.rollback()
    with session_factory() as many:
        many.info[BATCH_MEMO] = {}
        statements = _count(many)
        consumer.handle_many(many, stored)
        used = statements["n"]
        together = _outcome(many)
        many.commit()

    assert together == alone
    # And the outcome is the one intended, not merely the same twice.
    entered = {c for (k, c, _o) in together["enrolments"] if k == "remind_expiring"}
    assert entered == {c.id for c in people if c not in (quiet, gone)}
    reasons = {
        (k, c): r for (k, c, _o), (_t, r) in together["skips"].items() if k == "remind_expiring"
    }
    by_reason: dict[str, set[uuid.UUID]] = {}
    for (_k, c), r in reasons.items():
        by_reason.setdefault(r, set()).add(c)
    assert by_reason == {
        "filtered": {quiet.id},
        "not_live": {gone.id},
        "cooldown": {c.id for c in [*members[:6], nothing]},
    }
    off = [s for (k, _c, _o), s in together["skips"].items() if k == "expiring_off"]
    assert len(off) == len(stored) and {r for _t, r in off} == {"off"}
    held = {c.id for c in people if in_holdout(remind, c.id)}
    assert 0 < len(held & entered) < len(entered)
    outcomes = {
        c: outcome
        for ((k, c, _o), step), (outcome, _d, _m) in together["steps"].items()
        if k == "remind_expiring"
    }
    assert {c for c, o in outcomes.items() if o == "held_out"} == held & entered
    channels = {m[0]: m[1] for m in together["messages"].values()}
    assert set(channels) == entered - held
    if sms_only.id not in held:
        assert channels[sms_only.id] == "sms"
    if bounced.id not in held:
        assert channels[bounced.id] == "sms"
    if nothing.id not in held:
        assert outcomes[nothing.id] == "unreachable"
    # A few statements a flow and round (two rounds here), not a dozen an event.
    assert used < 60, used


def _count(session: Session) -> dict[str, int]:
    counter = {"n": 0}

    def counted(*_: Any) -> None:
        counter["n"] += 1

    event.listen(session.connection(), "before_cursor_execute", counted)
    return counter
