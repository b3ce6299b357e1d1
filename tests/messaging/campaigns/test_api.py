"""/api/v1/campaigns: the contract's forms, refusals naming the field, send twice."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.messaging.campaigns.conftest import audience, queue_all, segment_of
from wafa.core.settings import Settings


def _body(segment_id: uuid.UUID, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "Spring news",
        "segment_id": str(segment_id),
        "channel": "email",
        "subject": {"en": "Spring is here", "fa": "بهار آمد"},
        "body": {"en": "Hello {{ customer.first_name }}", "fa": "سلام {{ customer.first_name }}"},
    }
    body.update(overrides)
    return body


class TestCampaignApi:
    def test_create_send_read(self, api: TestClient, session: Session, settings: Settings) -> None:
        audience(session, 10)
        segment = segment_of(session, settings)
        created = api.post("/api/v1/campaigns", json=_body(segment, holdout_percent=20))
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        draft = api.get(f"/api/v1/campaigns/{campaign_id}").json()
        assert draft["status"] == "draft" and draft["holdout"] == 0
        sent = api.post(f"/api/v1/campaigns/{campaign_id}/send")
        assert sent.status_code == 202, sent.text
        assert sent.json()["status"] == "queuing" and sent.json()["recipients"] == 10
        assert api.post(f"/api/v1/campaigns/{campaign_id}/send").status_code == 202
        queue_all(session, settings, uuid.UUID(campaign_id))
        read = api.get(f"/api/v1/campaigns/{campaign_id}").json()
        counts = read["counts"]
        assert {"queued", "sent", "skipped", "failed", "unknown"} <= set(counts)
        assert counts["queued"] + read["holdout"] == 10
        assert read["status"] == "sending"
        listed = api.get("/api/v1/campaigns").json()["items"]
        assert [c["id"] for c in listed] == [campaign_id]

    def test_pause_resume_cancel(
        self, api: TestClient, session: Session, settings: Settings
    ) -> None:
        audience(session, 3)
        campaign_id = api.post(
            "/api/v1/campaigns", json=_body(segment_of(session, settings), holdout_percent=0)
        ).json()["id"]
        assert api.post(f"/api/v1/campaigns/{campaign_id}/pause").status_code == 409
        api.post(f"/api/v1/campaigns/{campaign_id}/send")
        queue_all(session, settings, uuid.UUID(campaign_id))
        paused = api.post(f"/api/v1/campaigns/{campaign_id}/pause").json()
        assert paused["status"] == "paused" and paused["counts"]["paused"] == 3
        resumed = api.post(f"/api/v1/campaigns/{campaign_id}/resume").json()
        assert resumed["status"] == "sending" and resumed["counts"]["queued"] == 3
        cancelled = api.post(f"/api/v1/campaigns/{campaign_id}/cancel").json()
        assert cancelled["status"] == "cancelled" and cancelled["counts"]["skipped"] == 3
        assert api.post(f"/api/v1/campaigns/{campaign_id}/send").status_code == 409

    def test_refusals_name_the_field(
        self, api: TestClient, session: Session, settings: Settings
    ) -> None:
        segment = segment_of(session, settings)
        cases = [
            (_body(segment, subject={"xx": "Hi"}), "subject"),
            (_body(segment, body={}), "body"),
            (_body(segment, body={"en": "Hi {{ customer.first_name "}), "body"),
            (_body(segment, holdout_percent=80), "holdout_percent"),
            (_body(segment, schedule="at"), "send_at"),
            (
                _body(segment, schedule="local", local_date="2027-01-02", local_time="25:00"),
                "local_time",
            ),
            (_body(segment, coupon={"kind": "discount_percent"}), "coupon"),
        ]
        for body, field in cases:
            answer = api.post("/api/v1/campaigns", json=body)
            assert answer.status_code == 422, (field, answer.text)
            assert field in answer.text, (field, answer.text)
        missing = api.post("/api/v1/campaigns", json=_body(uuid.uuid4()))
        assert missing.status_code == 404
        assert api.get(f"/api/v1/campaigns/{uuid.uuid4()}").status_code == 404

    def test_edit_a_draft_then_refused_once_sending(
        self, api: TestClient, session: Session, settings: Settings
    ) -> None:
        audience(session, 4)
        segment = segment_of(session, settings)
        campaign_id = api.post("/api/v1/campaigns", json=_body(segment)).json()["id"]
        edited = _body(
            segment,
            name="Spring news, second draft",
            subject={"fa": "بهار نزدیک است"},
            body={"fa": "سلام {{ customer.first_name }}، بهار نزدیک است"},
            holdout_percent=0,
        )
        answer = api.put(f"/api/v1/campaigns/{campaign_id}", json=edited)
        assert answer.status_code == 200, answer.text
        assert answer.json()["name"] == "Spring news, second draft"
        assert answer.json()["holdout_percent"] == 0 and answer.json()["status"] == "draft"
        # The same refusals as on create, naming the field; nothing half-written.
        bad = api.put(f"/api/v1/campaigns/{campaign_id}", json=_body(segment, body={}))
        assert bad.status_code == 422 and "body" in bad.text
        assert api.get(f"/api/v1/campaigns/{campaign_id}").json()["holdout_percent"] == 0
        assert api.put(f"/api/v1/campaigns/{uuid.uuid4()}", json=edited).status_code == 404
        # What is sent is the edited text.
        api.post(f"/api/v1/campaigns/{campaign_id}/send")
        queue_all(session, settings, uuid.UUID(campaign_id))
        from wafa.messaging.campaigns import service
        from wafa.messaging.models import Message, MessageContent

        campaign = service.get_campaign(session, uuid.UUID(campaign_id))
        assert campaign.subject == {"fa": "بهار نزدیک است"}
        message = session.query(Message).filter_by(campaign_id=campaign.id).first()
        assert message is not None
        content = session.get(MessageContent, message.content_id)
        assert content is not None and content.text == edited["body"]
        # Once sending started: refused, and the campaign is as it was.
        late = api.put(f"/api/v1/campaigns/{campaign_id}", json=_body(segment, name="Too late"))
        assert late.status_code == 409, late.text
        assert "campaign-state" in late.text
        assert api.get(f"/api/v1/campaigns/{campaign_id}").json()["name"] == (
            "Spring news, second draft"
        )
