"""/api/v1 messaging: send one message, history, preferences."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import create_customer
from tests.messaging.conftest import Sink, body_of
from tests.messaging.helpers import subscriber
from wafa.messaging.pipeline import Pipeline


def _body(customer_id: uuid.UUID, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "customer_id": str(customer_id),
        "channel": "email",
        "kind": "transactional",
        "reason": "order_confirmation",
        "occasion": "order-1001",
        "subject": {"en": "Your order, {{ customer.first_name }}"},
        "body": {"en": "Thank you {{ customer.name }}: order 1001 is confirmed."},
    }
    body.update(overrides)
    return body


class TestSendMessage:
    def test_queued_is_202_and_a_repeat_is_200_with_the_same_message(
        self, api: TestClient, session: Session
    ) -> None:
        customer = create_customer(session, name="Ali Karimi")
        first = api.post("/api/v1/messages", json=_body(customer.id))
        assert first.status_code == 202, first.text
        assert first.json()["status"] == "queued"
        again = api.post("/api/v1/messages", json=_body(customer.id, body={"en": "other"}))
        assert again.status_code == 200
        assert again.json()["id"] == first.json()["id"]

    def test_is_sent_by_the_worker(
        self, api: TestClient, session: Session, pipeline: Pipeline, smtp_sink: Sink
    ) -> None:
        customer = create_customer(session, name="Ali Karimi", email="ali@example.com")
        created = api.post("/api/v1/messages", json=_body(customer.id)).json()
        pipeline.run_once()
        [got] = smtp_sink.to("ali@example.com")
        assert "order 1001 is confirmed" in body_of(got, "plain")
        read = api.get(f"/api/v1/messages/{created['id']}").json()
        assert read["status"] == "sent"
        history = api.get(f"/api/v1/customers/{customer.id}/messages").json()
        assert [m["id"] for m in history["items"]] == [created["id"]]

    def test_unknown_customer_is_404(self, api: TestClient) -> None:
        answer = api.post("/api/v1/messages", json=_body(uuid.uuid4()))
        assert answer.status_code == 404

    def test_broken_template_is_422_naming_the_field(
        self, api: TestClient, session: Session
    ) -> None:
        customer = create_customer(session)
        answer = api.post(
            "/api/v1/messages", json=_body(customer.id, body={"fa": "سلام {{ customer.name "})
        )
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["loc"] == ["body", "fa"]

    def test_unknown_locale_is_422(self, api: TestClient, session: Session) -> None:
        customer = create_customer(session)
        answer = api.post("/api/v1/messages", json=_body(customer.id, body={"de": "Hallo"}))
        assert answer.status_code == 422

    def test_needs_the_write_scope(self, client: TestClient, session: Session) -> None:
        customer = create_customer(session)
        assert client.post("/api/v1/messages", json=_body(customer.id)).status_code == 401


class TestPreferences:
    def test_topics_and_timezone_are_recorded(self, api: TestClient, session: Session) -> None:
        customer = subscriber(session, email="p@example.com")
        url = f"/api/v1/customers/{customer.id}/message-preferences"
        answer = api.patch(
            url,
            json={
                "timezone": "Asia/Tehran",
                "topics": {"email": {"offers": False}},
                "source": "phone call",
            },
        )
        assert answer.status_code == 200, answer.text
        email = next(c for c in answer.json()["channels"] if c["channel"] == "email")
        assert email["consent"] is True and email["topics"]["offers"] is False
        assert answer.json()["timezone"] == "Asia/Tehran"

    def test_unknown_timezone_is_422(self, api: TestClient, session: Session) -> None:
        customer = subscriber(session)
        answer = api.patch(
            f"/api/v1/customers/{customer.id}/message-preferences", json={"timezone": "Mars/Base"}
        )
        assert answer.status_code == 422


class TestSmsLength:
    def test_persian_is_ucs2(self, api: TestClient) -> None:
        answer = api.get("/api/v1/messaging/sms-length", params={"text": "سلام" * 20}).json()
        assert answer == {"encoding": "UCS-2", "units": 80, "segments": 2, "per_segment": 67}
