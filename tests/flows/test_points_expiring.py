"""Expiring points are never lost silently: for every ``points.expiring`` the loyalty
engine announces, the member is either in the ``points_expiring`` flow (a message
queued, or the step's reason recorded) or has a recorded skip with its reason."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.flows.helpers import drain, enrolments, messages, no_limits, runs
from tests.loyalty.helpers import deliver, place, set_rules
from tests.messaging.helpers import subscriber
from wafa.core.settings import Settings
from wafa.flows import presets, service
from wafa.flows.history import personal_data
from wafa.flows.models import Skip
from wafa.loyalty import jobs


def test_each_announcement_is_a_message_or_a_recorded_skip(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    no_limits(session)
    set_rules(session, pending_days=0, expiry={"policy": "fixed", "months": 2})
    presets.ensure_presets(session)
    member = subscriber(session)
    place(session, member, lines=[{"sku": "X", "name": "x", "quantity": 1, "unit_price": 1000}])
    deliver(session, settings)  # 10 points earned on 15 March: they lapse on 15 May
    session.commit()

    # 30 days ahead, the flow is off: the announcement is kept as a skip, with its reason.
    jobs.warn_batch(session, settings=settings, day=date(2026, 4, 15))
    session.commit()
    drain(session_factory, settings)
    flow = service.get_flow(session, "points_expiring")
    assert messages(session, flow) == []
    [skip] = session.scalars(select(Skip).where(Skip.customer_id == member.id))
    assert (skip.flow_key, skip.topic, skip.reason) == ("points_expiring", "points.expiring", "off")
    assert personal_data(session, member.id)["skipped"][0]["reason"] == "off"

    # 7 days ahead, the flow is on: the message is queued, and the step says so.
    flow = service.set_enabled(session, key="points_expiring", enabled=True, by="test")
    flow.holdout_percent = 0
    session.commit()
    jobs.warn_batch(session, settings=settings, day=date(2026, 5, 8))
    session.commit()
    drain(session_factory, settings)
    [message] = messages(session, flow, member.id)
    assert (message.context["points"], message.context["expires_on"]) == (10, "2026-05-15")
    assert message.context["days_ahead"] == 7
    [way] = enrolments(session, flow)
    assert runs(session, way) == {"remind": "sent"}
    assert len(list(session.scalars(select(Skip)))) == 1  # nothing more skipped
