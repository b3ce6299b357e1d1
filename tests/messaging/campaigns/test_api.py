"""/api/v1/campaigns: the contract's forms, refusals naming the field, send twice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.messaging.campaigns.conftest import audience, queue_all, segment_of
from tests.messaging.conftest import Sink, body_of
from wafa.core.settings import Settings
from wafa.messaging.models import Message


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


class TestEditScheduled:
    def test_a_scheduled_campaign_is_edited_until_its_time(
        self, api: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2027, 3, 1, 10, 0, tzinfo=UTC))
        audience(session, 3)
        segment = segment_of(session, settings)
        later = _body(segment, schedule="at", send_at="2027-03-02T09:00:00Z", holdout_percent=0)
        campaign_id = api.post("/api/v1/campaigns", json=later).json()["id"]
        scheduled = api.post(f"/api/v1/campaigns/{campaign_id}/send")
        assert scheduled.status_code == 202 and scheduled.json()["status"] == "scheduled"
        edited = {**later, "name": "Spring news, moved", "send_at": "2027-03-02T12:00:00Z"}
        edited["subject"] = {"en": "Spring, at noon"}
        answer = api.put(f"/api/v1/campaigns/{campaign_id}", json=edited)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "scheduled"
        assert answer.json()["send_at"].startswith("2027-03-02T12:00:00")
        # At the old time nothing is taken; at the new one the edited text goes out.
        clock.set(datetime(2027, 3, 2, 9, 30, tzinfo=UTC))
        from wafa.messaging.campaigns import service

        cid = uuid.UUID(campaign_id)
        assert not service.take_snapshot_if_due(session, settings=settings, campaign_id=cid)
        clock.set(datetime(2027, 3, 2, 12, 0, tzinfo=UTC))
        assert service.take_snapshot_if_due(session, settings=settings, campaign_id=cid)
        # Once its time came and the segment was taken: refused, unchanged.
        late = api.put(f"/api/v1/campaigns/{campaign_id}", json={**edited, "name": "Too late"})
        assert late.status_code == 409 and "campaign-state" in late.text
        read = api.get(f"/api/v1/campaigns/{campaign_id}").json()
        assert read["name"] == "Spring news, moved" and read["status"] == "queuing"
        assert service.get_campaign(session, cid).subject == {"en": "Spring, at noon"}


class TestSendATestCopy:
    def test_a_test_copy_goes_to_the_address_and_is_counted_nowhere(
        self,
        api: TestClient,
        session: Session,
        settings: Settings,
        smtp_sink: Sink,
        mail_settings: Settings,
    ) -> None:
        api.app.state.settings = mail_settings  # type: ignore[attr-defined]
        people = audience(session, 2, language="fa")
        segment = segment_of(session, settings)
        campaign_id = api.post("/api/v1/campaigns", json=_body(segment)).json()["id"]
        answer = api.post(
            f"/api/v1/campaigns/{campaign_id}/test",
            json={"to": "Owner@Shop.test", "customer_id": str(people[1].id)},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "outcome": "sent",
            "detail": answer.json()["detail"],
            "to": "owner@shop.test",
            "customer_id": str(people[1].id),
            "locale": "fa",
        }
        got = smtp_sink.to("owner@shop.test")
        assert len(got) == 1 and len(smtp_sink.received) == 1
        mail = got[0].message
        assert str(mail["Subject"]) == "[TEST] بهار آمد"
        assert str(mail["X-Wafa-Test"]) == f"campaign {campaign_id}"
        assert str(mail["List-Unsubscribe"]) == "<https://shop.example/u/test>"
        assert (people[1].name or "").split()[0] in body_of(got[0], "plain")
        # Another language, and the first sample customer when none is named.
        english = api.post(
            f"/api/v1/campaigns/{campaign_id}/test", json={"to": "owner@shop.test", "locale": "en"}
        )
        assert english.json()["locale"] == "en" and english.json()["outcome"] == "sent"
        assert english.json()["customer_id"] in {str(p.id) for p in people}
        # Counted nowhere; the campaign still a draft.
        assert session.scalar(select(func.count()).select_from(Message)) == 0
        assert api.get(f"/api/v1/campaigns/{campaign_id}").json()["status"] == "draft"

    def test_refusals(
        self,
        api: TestClient,
        session: Session,
        settings: Settings,
        smtp_sink: Sink,
        mail_settings: Settings,
    ) -> None:
        api.app.state.settings = mail_settings  # type: ignore[attr-defined]
        segment = segment_of(session, settings)  # nobody in it yet
        campaign_id = api.post("/api/v1/campaigns", json=_body(segment)).json()["id"]
        path = f"/api/v1/campaigns/{campaign_id}/test"
        for body, field in [
            ({"to": "not an address"}, "to"),
            ({"to": "owner@shop.test", "locale": "de"}, "locale"),
            ({}, "to"),
        ]:
            answer = api.post(path, json=body)
            assert answer.status_code == 422 and field in answer.text, answer.text
        empty = api.post(path, json={"to": "owner@shop.test"})
        assert empty.status_code == 409 and "customer_id" in empty.text
        unknown = api.post(path, json={"to": "owner@shop.test", "customer_id": str(uuid.uuid4())})
        assert unknown.status_code == 404
        assert (
            api.post(
                f"/api/v1/campaigns/{uuid.uuid4()}/test", json={"to": "owner@shop.test"}
            ).status_code
            == 404
        )
        assert smtp_sink.received == []
