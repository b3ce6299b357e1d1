"""The ready flows: present in a new store (only the order confirmation on), with
templates in English, Arabic and Persian, and each working end to end."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.factories import order_payload
from tests.flows.helpers import due, enrolments, messages, no_limits
from tests.loyalty.helpers import place, set_rules
from tests.messaging.conftest import Sink, body_of
from tests.messaging.helpers import subscriber
from wafa.core.settings import Settings
from wafa.feedback import service as feedback
from wafa.feedback.schemas import SurveyCreate
from wafa.flows import presets, service
from wafa.flows.engine import definition_of
from wafa.flows.models import Flow
from wafa.messaging.pipeline import Pipeline
from wafa.messaging.templates import get_template
from wafa.orders import service as orders
from wafa.orders.schemas import OrderStatusUpdate
from wafa.worker.batch import drain_batched


def _drain_all(factory: sessionmaker[Session], settings: Settings) -> None:
    from wafa.app.domains import consumers

    drain_batched(factory, consumers(settings))


def _on(session: Session, key: str) -> Flow:
    presets.ensure_presets(session)
    return service.set_enabled(session, key=key, enabled=True, by="test")


class TestPresets:
    def test_every_preset_with_templates_in_three_languages(self, session: Session) -> None:
        assert presets.ensure_presets(session) == len(presets.PRESETS)
        assert presets.ensure_presets(session) == 0
        flows = {f.key: f for f in service.list_flows(session)}
        assert {p.key for p in presets.PRESETS} <= set(flows)
        # The event messages are on too: they say nothing until an event invites someone.
        events = {"event_invitation", "event_seat_given", "event_reminder", "event_cancelled"}
        assert {k for k, f in flows.items() if f.enabled} == {
            "order_confirmation",
            "surprise",
        } | events
        for preset in presets.PRESETS:
            for template_key in definition_of(flows[preset.key]).templates():
                _, content = get_template(session, template_key)
                assert set(content.text) == {"en", "ar", "fa"}, template_key
                assert set(content.subject) == {"en", "ar", "fa"}, template_key

    def test_an_edited_preset_is_kept(self, session: Session) -> None:
        presets.ensure_presets(session)
        service.update_flow(session, key="welcome", by="test", name="Hello there")
        presets.ensure_presets(session)
        assert service.get_flow(session, "welcome").name == "Hello there"


class TestOrderConfirmation:
    def test_one_email_with_the_external_id_and_none_on_repeats(
        self,
        api: TestClient,
        session: Session,
        session_factory: sessionmaker[Session],
        mail_settings: Settings,
        clock: FrozenClock,
        pipeline: Pipeline,
        smtp_sink: Sink,
    ) -> None:
        set_rules(session)  # a point a dollar: the confirmation says what the order earned
        payload = order_payload(
            placed_at=clock.now.isoformat(),
            customer={"email": "ayda@example.com", "name": "Ayda"},
        )
        for _ in range(3):
            assert api.post("/api/v1/orders", json=payload).status_code in (200, 201)
        _drain_all(session_factory, mail_settings)
        pipeline.run_once()
        _drain_all(session_factory, mail_settings)
        pipeline.run_once()
        [mail] = smtp_sink.to("ayda@example.com")
        assert payload["external_id"] in body_of(mail, "plain")
        assert "Flat white" in body_of(mail, "plain")
        assert "Points earned: 9" in body_of(mail, "plain")


class TestDelayNotice:
    def test_fires_when_the_promise_passes_undelivered(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        no_limits(session)
        delay = _on(session, "delay_notice")
        late = subscriber(session)
        on_time = subscriber(session)
        promise = clock.now + timedelta(hours=30)
        late_order = place(session, late, placed_at=clock.now, promised_at=promise.isoformat())
        kept = place(session, on_time, placed_at=clock.now, promised_at=promise.isoformat())
        _drain_all(session_factory, settings)
        assert {e.due_at for e in enrolments(session, delay)} == {promise}
        clock.advance(hours=29)
        orders.update_order_status(
            session, order_id=kept.id, data=OrderStatusUpdate(status="delivered")
        )
        due(session_factory, settings)
        assert messages(session, delay) == []  # not yet: the promise still holds
        clock.advance(hours=1)
        due(session_factory, settings)
        [notice] = messages(session, delay)
        assert notice.customer_id == late.id
        assert notice.context["order"]["external_id"] == late_order.external_id
        assert notice.context["coupon"]["code"]
        by_customer = {e.customer_id: e for e in enrolments(session, delay)}
        assert by_customer[on_time.id].exit_reason == "branch:delivered"


class TestPostPurchase:
    def test_the_follow_up_carries_a_survey_link(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        no_limits(session)
        feedback.create_survey(
            session,
            data=SurveyCreate(
                kind="csat", name="Delivery", question={"en": "How was it?"}, touchpoint="delivery"
            ),
        )
        follow = _on(session, "post_purchase")
        follow.holdout_percent = 0
        customer = subscriber(session)
        order = place(session, customer, placed_at=clock.now)
        orders.update_order_status(
            session, order_id=order.id, data=OrderStatusUpdate(status="delivered")
        )
        _drain_all(session_factory, settings)
        clock.advance(days=5)
        due(session_factory, settings)
        [message] = messages(session, follow)
        assert message.context["survey_url"].startswith("http")


def test_presets_are_valid_flows(session: Session) -> None:
    presets.ensure_presets(session)
    for flow in session.scalars(select(Flow).where(Flow.preset.is_(True))):
        assert definition_of(flow).steps
