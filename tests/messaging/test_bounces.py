"""Bounce and complaint reports posted later: RFC 3464, RFC 5965 and the JSON form."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.messaging.conftest import Sink
from tests.messaging.helpers import queue, reload, subscriber
from wafa.customers.models import Customer
from wafa.messaging.models import Status, Suppression
from wafa.messaging.pipeline import Pipeline

DSN = """\
From: MAILER-DAEMON@mx.example.net
To: shop@example.com
Subject: Delivery Status Notification (Failure)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {address}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {code}

--b1
Content-Type: text/rfc822-headers

Message-ID: {message_id}
Subject: Offer

--b1--
"""

ARF = """\
From: abuse@isp.example
To: shop@example.com
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b2"

--b2
Content-Type: text/plain

This is an abuse report.

--b2
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: isp-fbl/1.0
Version: 1
Original-Rcpt-To: {address}

--b2--
"""


def _dsn(
    address: str,
    *,
    action: str = "failed",
    status: str = "5.1.1",
    message_id: str = "<none@example.com>",
) -> bytes:
    return (
        DSN.format(
            address=address,
            action=action,
            status=status,
            code=f"{status} mailbox",
            message_id=message_id,
        )
        .replace("\n", "\r\n")
        .encode()
    )


class TestDeliveryStatus:
    def test_a_hard_bounce_suppresses_and_fails_the_message(
        self, api: TestClient, session: Session, pipeline: Pipeline, smtp_sink: Sink
    ) -> None:
        customer = subscriber(session, email="bounced@example.com")
        message = queue(session, customer, kind="transactional")
        pipeline.run_once()
        sent = reload(session, message)
        answer = api.post(
            "/api/v1/messaging/bounces",
            content=_dsn("bounced@example.com", message_id=str(sent.provider_id)),
            headers={"Content-Type": "message/rfc822"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["recorded"][0]["result"] == "suppressed"
        stored = reload(session, message)
        assert (stored.status, stored.status_reason) == (Status.failed, "bounced")
        entry = session.scalar(select(Suppression))
        assert entry is not None and entry.reason == "hard_bounce"
        later = queue(session, customer, kind="transactional")
        pipeline.run_once()
        assert reload(session, later).status_reason == "suppressed"

    def test_delays_count_and_suppress_after_the_allowance(
        self, api: TestClient, session: Session
    ) -> None:
        for n in range(3):
            answer = api.post(
                "/api/v1/messaging/bounces",
                content=_dsn("slow@example.com", action="delayed", status="4.2.2"),
                headers={"Content-Type": "message/rfc822"},
            )
            assert answer.json()["recorded"][0]["result"] == ("suppressed" if n == 2 else "counted")

    def test_not_a_report_is_422(self, api: TestClient) -> None:
        answer = api.post(
            "/api/v1/messaging/bounces",
            content=b"Subject: hello\r\n\r\nhi",
            headers={"Content-Type": "message/rfc822"},
        )
        assert answer.status_code == 422


class TestComplaint:
    def test_an_abuse_report_withdraws_consent_and_suppresses_marketing(
        self, api: TestClient, session: Session
    ) -> None:
        customer = subscriber(session, email="angry@example.com")
        report = ARF.format(address="angry@example.com").replace("\n", "\r\n").encode()
        answer = api.post(
            "/api/v1/messaging/bounces", content=report, headers={"Content-Type": "message/rfc822"}
        )
        assert answer.status_code == 200, answer.text
        session.expire_all()
        assert session.get(Customer, customer.id).email_consent is False  # type: ignore[union-attr]
        entry = session.scalar(select(Suppression))
        assert entry is not None and (entry.reason, entry.scope) == ("complaint", "marketing")


class TestJson:
    def test_small_json_form(self, api: TestClient, session: Session) -> None:
        answer = api.post(
            "/api/v1/messaging/bounces", json={"type": "hard_bounce", "email": "x@example.com"}
        )
        assert answer.status_code == 200
        assert session.scalar(select(Suppression.address)) == "x@example.com"

    def test_unknown_type_names_the_field(self, api: TestClient) -> None:
        answer = api.post("/api/v1/messaging/bounces", json={"type": "boing", "email": "x@e.com"})
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["loc"] == ["body", "type"]

    def test_needs_the_admin_scope(self, client: TestClient, session: Session) -> None:
        from wafa.auth import service as auth

        _, token = auth.create_api_key(session, name="shop", scopes=["read", "write"])
        session.flush()
        answer = client.post(
            "/api/v1/messaging/bounces",
            json={"type": "hard_bounce", "email": "x@example.com"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 403
