"""SLA breaches by email: the staff member holding the complaint and the owner are told,
each in their dashboard language, through messaging's email channel (transactional, a real
SMTP server on loopback), once however often the sweep runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.messaging.conftest import Sink, SinkHandler, free_port
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_factory, session_scope
from wafa.core.settings import Settings
from wafa.feedback import complaints, jobs
from wafa.feedback.models import ComplaintAlertMail, ComplaintChannel
from wafa.feedback.schemas import ComplaintCreate

PASSWORD = "a-long-password-1"


@pytest.fixture
def smtp_sink() -> Iterator[Sink]:
    """A real SMTP server on loopback (aiosmtpd), as messaging's tests use."""
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Sink(handler, port)
    finally:
        controller.stop()


MONDAY = datetime(2026, 3, 16, 10, 0, tzinfo=UTC)  # opening hours 09:00-17:00 every day


def test_a_breach_mails_the_assignee_and_the_owner_once(
    committed_db: Settings,
    smtp_sink: Sink,
    clock: FrozenClock,
) -> None:
    settings = committed_db.model_copy(update={"smtp_url": smtp_sink.url})
    clock.set(MONDAY)
    with session_scope(settings) as s:
        owner = auth.create_user(
            s, email="owner@shop.example", password=PASSWORD, role=Role.owner, name="Owner"
        )
        sara = auth.create_user(
            s,
            email="sara@shop.example",
            password=PASSWORD,
            role=Role.manager,
            name="Sara",
            locale="fa",
        )
        customer = create_customer(s)
        complaint = complaints.file_complaint(
            s,
            settings=settings,
            data=ComplaintCreate.model_validate(
                {
                    "customer_id": str(customer.id),
                    "category": "damaged",
                    "severity": "urgent",  # first answer due in one business hour
                    "text": "The cup arrived broken",
                    "assignee_id": str(sara.id),
                }
            ),
            channel=ComplaintChannel.api,
            by="test",
        )
        complaint_id, owner_id = complaint.id, owner.id
    factory = session_factory(settings)

    clock.advance(minutes=30)  # a warning, no breach yet: no email
    counts = jobs.run_sweep(factory, settings)
    assert counts["breaches"] == 0 and counts["sent"] == 0 and smtp_sink.received == []

    clock.advance(minutes=45)  # 11:15: the first answer was due at 11:00
    counts = jobs.run_sweep(factory, settings)
    assert counts["breaches"] == 1 and counts["mails"] == 2 and counts["sent"] == 2
    to_sara = smtp_sink.to("sara@shop.example")
    to_owner = smtp_sink.to("owner@shop.example")
    assert len(to_sara) == 1 and len(to_owner) == 1
    english = to_owner[0].message
    assert english["Subject"] == (
        "Complaint overdue: The first answer is late: escalated to the owner"
    )
    body = english.get_body(preferencelist=("plain",))
    assert body is not None
    content = body.get_content()
    assert "Severity: Urgent" in content and "Due: 2026-03-16 11:00 (UTC)" in content
    assert f"/feedback/complaints/{complaint_id}" in content
    assert "List-Unsubscribe" not in english  # transactional: work, not marketing
    persian = to_sara[0].message
    assert "پاسخ" in persian["Subject"]  # in Sara's language

    # Every later pass, and a resend attempt, sends nothing more.
    for _ in range(3):
        clock.advance(minutes=10)
        again = jobs.run_sweep(factory, settings)
        assert again["mails"] == 0 and again["sent"] == 0
    assert jobs.send_mails(factory, settings) == 0
    assert len(smtp_sink.received) == 2
    with factory() as s:
        mails = s.scalars(select(ComplaintAlertMail)).all()
        assert sorted(m.status for m in mails) == ["sent", "sent"]
        assert {m.staff_id for m in mails} == {owner_id, uuid.UUID(str(sara_id(s)))}


def sara_id(session: object) -> uuid.UUID:
    from wafa.auth.models import StaffUser

    found = session.scalar(  # type: ignore[attr-defined]
        select(StaffUser.id).where(StaffUser.email == "sara@shop.example")
    )
    assert isinstance(found, uuid.UUID)
    return found


def test_a_refused_address_fails_without_retry(
    committed_db: Settings,
    smtp_sink: Sink,
    clock: FrozenClock,
) -> None:
    settings = committed_db.model_copy(update={"smtp_url": smtp_sink.url})
    smtp_sink.reply_to_rcpt("gone@shop.example", "550 no such user")
    clock.set(MONDAY)
    with session_scope(settings) as s:
        auth.create_user(s, email="gone@shop.example", password=PASSWORD, role=Role.owner)
        customer = create_customer(s)
        complaints.file_complaint(
            s,
            settings=settings,
            data=ComplaintCreate.model_validate(
                {
                    "customer_id": str(customer.id),
                    "category": "other",
                    "severity": "urgent",
                    "text": "x",
                }
            ),
            channel=ComplaintChannel.api,
            by="test",
        )
    factory = session_factory(settings)
    clock.advance(hours=2)
    assert jobs.run_sweep(factory, settings)["sent"] == 0
    assert jobs.send_mails(factory, settings) == 0
    with factory() as s:
        (mail,) = s.scalars(select(ComplaintAlertMail)).all()
        assert mail.status == "failed" and mail.attempts == 1 and "550" in (mail.error or "")
