"""One-click unsubscribe (RFC 8058) and the page behind the link."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.messaging.conftest import Sink, headers_of
from tests.messaging.helpers import queue, reload, subscriber
from wafa.customers.models import ConsentRecord, Customer
from wafa.messaging.models import Suppression, TopicConsent
from wafa.messaging.pipeline import Pipeline

pytestmark = pytest.mark.usefixtures("daytime")


def _link(session: Session, pipeline: Pipeline, sink: Sink, customer: Customer) -> str:
    queue(session, customer)
    pipeline.run_once()
    [got] = sink.to(str(customer.email))
    url = str(headers_of(got)["list-unsubscribe"]).strip("<>")
    return url.removeprefix("https://shop.example")


class TestOneClick:
    def test_post_answers_2xx_takes_effect_at_once_and_is_idempotent(
        self, session: Session, pipeline: Pipeline, smtp_sink: Sink, client: TestClient
    ) -> None:
        customer = subscriber(session, email="bye@example.com")
        path = _link(session, pipeline, smtp_sink, customer)
        for _ in range(2):
            answer = client.post(
                path,
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert answer.status_code == 200
            assert "set-cookie" not in answer.headers
        session.expire_all()
        assert session.get(Customer, customer.id).email_consent is False  # type: ignore[union-attr]
        decisions = session.scalars(
            select(ConsentRecord).where(
                ConsentRecord.customer_id == customer.id, ConsentRecord.granted.is_(False)
            )
        ).all()
        assert [d.source for d in decisions] == ["one-click unsubscribe"]  # once, not twice
        entry = session.scalar(select(Suppression))
        assert entry is not None and (entry.reason, entry.scope) == ("unsubscribe", "marketing")
        later = queue(session, customer)
        pipeline.run_once()
        assert reload(session, later).status_reason == "suppressed"

    def test_a_transactional_message_still_goes_after_unsubscribing(
        self, session: Session, pipeline: Pipeline, smtp_sink: Sink, client: TestClient
    ) -> None:
        customer = subscriber(session, email="still@example.com")
        path = _link(session, pipeline, smtp_sink, customer)
        client.post(path, data={"List-Unsubscribe": "One-Click"})
        receipt = queue(session, customer, kind="transactional", reason="order_confirmation")
        pipeline.run_once()
        assert reload(session, receipt).status == "sent"

    def test_an_import_that_grants_consent_again_does_not_resubscribe(
        self, session: Session, pipeline: Pipeline, smtp_sink: Sink, client: TestClient
    ) -> None:
        from wafa.customers import service as customers
        from wafa.customers.models import ConsentChannel
        from wafa.customers.schemas import ConsentIn

        customer = subscriber(session, email="import@example.com")
        path = _link(session, pipeline, smtp_sink, customer)
        client.post(path, data={"List-Unsubscribe": "One-Click"})
        session.expire_all()
        customers.record_consent(
            session,
            customer=session.get(Customer, customer.id),  # type: ignore[arg-type]
            consent=ConsentIn(channel=ConsentChannel.email, granted=True, source="shopify import"),
        )
        session.flush()
        message = queue(session, customer)
        pipeline.run_once()
        assert reload(session, message).status_reason == "suppressed"

    def test_an_altered_token_changes_nothing(
        self, session: Session, pipeline: Pipeline, smtp_sink: Sink, client: TestClient
    ) -> None:
        customer = subscriber(session, email="keep@example.com")
        path = _link(session, pipeline, smtp_sink, customer)
        broken = path[:-2] + ("A" if path[-2] != "A" else "B") + path[-1]
        answer = client.post(broken, data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 404
        session.expire_all()
        assert session.get(Customer, customer.id).email_consent is True  # type: ignore[union-attr]


class TestPage:
    def test_get_shows_the_page_in_the_customers_language_and_changes_nothing(
        self, session: Session, pipeline: Pipeline, smtp_sink: Sink, client: TestClient
    ) -> None:
        customer = subscriber(session, email="fa@example.com", language="fa")
        path = _link(session, pipeline, smtp_sink, customer)
        page = client.get(path)
        assert page.status_code == 200
        assert '<html lang="fa" dir="rtl"' in page.text
        assert "set-cookie" not in page.headers
        session.expire_all()
        assert session.get(Customer, customer.id).email_consent is True  # type: ignore[union-attr]

    def test_choosing_topics_keeps_the_channel(
        self, session: Session, pipeline: Pipeline, smtp_sink: Sink, client: TestClient
    ) -> None:
        customer = subscriber(session, email="topics@example.com")
        path = _link(session, pipeline, smtp_sink, customer)
        answer = client.post(path, data={"action": "topics", "keep": ["loyalty", "surveys"]})
        assert answer.status_code == 200
        refused = session.scalars(
            select(TopicConsent.topic).where(
                TopicConsent.customer_id == customer.id, TopicConsent.granted.is_(False)
            )
        ).all()
        assert sorted(refused) == ["newsletters", "offers"]
        offer = queue(session, customer, topic="offers")
        points = queue(session, customer, topic="loyalty")
        pipeline.run_once()
        assert reload(session, offer).status_reason == "topic_refused"
        # Past the topic check: only the frequency cap (a newsletter went out just now) stops it.
        assert reload(session, points).status_reason == "frequency_cap"
