"""The shipping and delivery updates preset: one transactional email per move of an
order's status (sent out, delivered), through the orders API and the real pipeline."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.factories import order_payload
from tests.flows.helpers import enrolments
from tests.messaging.conftest import Sink, body_of
from wafa.core.settings import Settings
from wafa.flows import presets, service
from wafa.messaging.pipeline import Pipeline
from wafa.worker.batch import drain_batched


def _work(factory: sessionmaker[Session], settings: Settings, pipeline: Pipeline) -> None:
    from wafa.app.domains import consumers

    drain_batched(factory, consumers(settings))
    pipeline.run_once()


def test_one_email_per_status_move(
    api: TestClient,
    session: Session,
    session_factory: sessionmaker[Session],
    mail_settings: Settings,
    clock: FrozenClock,
    pipeline: Pipeline,
    smtp_sink: Sink,
) -> None:
    presets.ensure_presets(session)
    shipping = service.set_enabled(session, key="shipping_update", enabled=True, by="test")
    session.commit()
    payload = order_payload(
        placed_at=clock.now.isoformat(),
        promised_at=clock.now.replace(day=clock.now.day + 2).isoformat(),
        customer={"email": "sara@example.com", "name": "Sara"},
    )
    order = api.post("/api/v1/orders", json=payload).json()
    _work(session_factory, mail_settings, pipeline)
    status = f"/api/v1/orders/{order['id']}/status"
    assert api.post(status, json={"status": "paid"}).status_code == 200  # not shipping news
    for _ in range(2):  # the same move twice is one move
        assert api.post(status, json={"status": "fulfilled"}).status_code == 200
    _work(session_factory, mail_settings, pipeline)
    _work(session_factory, mail_settings, pipeline)
    subjects = [m.message["subject"] for m in smtp_sink.to("sara@example.com")]
    assert subjects[1:] == [f"Your order {payload['external_id']} is on its way"]
    assert "It should reach you by 2026-03-17" in body_of(
        smtp_sink.to("sara@example.com")[-1], "plain"
    )
    assert api.post(status, json={"status": "delivered"}).status_code == 200
    _work(session_factory, mail_settings, pipeline)
    _work(session_factory, mail_settings, pipeline)
    mails = smtp_sink.to("sara@example.com")
    assert [m.message["subject"] for m in mails][1:] == [
        f"Your order {payload['external_id']} is on its way",
        f"Your order {payload['external_id']} has arrived",
    ]
    assert payload["external_id"] in body_of(mails[-1], "plain")
    assert len(enrolments(session, shipping)) == 2


def test_the_trigger_names_known_statuses(session: Session) -> None:
    import pytest

    from wafa.core.errors import Invalid

    presets.ensure_presets(session)
    definition = dict(service.get_flow(session, "shipping_update").definition)
    definition["trigger"] = {**definition["trigger"], "to": ["shipped"]}
    with pytest.raises(Invalid) as refused:
        service.update_flow(session, key="shipping_update", by="test", definition=definition)
    assert refused.value.errors[0][0][:3] == ("definition", "trigger", "event")
