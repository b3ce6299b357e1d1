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
