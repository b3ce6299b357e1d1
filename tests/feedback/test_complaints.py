from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import jdatetime
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.feedback.helpers import make_survey
from wafa.core.errors import Invalid
from wafa.core.settings import Settings
from wafa.feedback import complaints, service
from wafa.feedback.models import Complaint, ComplaintChannel, ComplaintStatus
from wafa.feedback.policy import BusinessClock, Policy, save_policy
from wafa.feedback.schemas import ComplaintCreate
from wafa.messaging.models import Message

TEHRAN = ZoneInfo("Asia/Tehran")


def file(session: Session, settings: Settings, customer_id: uuid.UUID, **kw: object) -> Complaint:
    data = ComplaintCreate.model_validate(
        {
            "customer_id": customer_id,
            "category": "late_delivery",
            "text": "The coffee arrived cold",
            **kw,
        }
    )
    return complaints.file_complaint(
        session, settings=settings, data=data, channel=ComplaintChannel.dashboard, by="test"
    )


class TestBusinessClock:
    def test_weekend_and_a_public_holiday_do_not_count(self) -> None:
        clock = BusinessClock(Policy(), zone=ZoneInfo("UTC"), country="US")
        start = datetime(2026, 7, 2, 16, 0, tzinfo=UTC)  # Thursday; Friday 3 July is a holiday
        assert clock.add(start, 8 * 3600) == datetime(2026, 7, 6, 16, 0, tzinfo=UTC)
        assert clock.seconds_between(start, datetime(2026, 7, 6, 16, 0, tzinfo=UTC)) == 8 * 3600

    def test_nowruz_and_the_iranian_weekend_in_the_jalali_calendar(self) -> None:
        clock = BusinessClock(Policy(), zone=TEHRAN, country="IR")
        start = datetime(2026, 3, 19, 16, 0, tzinfo=TEHRAN)  # Thursday 28 Esfand 1404
        due = clock.add(start, 8 * 3600).astimezone(TEHRAN)
        # Friday is the weekend, 1-4 Farvardin is Nowruz: Wednesday 5 Farvardin 1405, 16:00.
        assert jdatetime.date.fromgregorian(date=due.date()) == jdatetime.date(1405, 1, 5)
        assert due.hour == 16

    def test_outside_opening_hours_starts_at_the_next_opening(self) -> None:
        clock = BusinessClock(Policy(), zone=ZoneInfo("UTC"), country="US")
        late = datetime(2026, 7, 7, 22, 0, tzinfo=UTC)
        assert clock.add(late, 3600) == datetime(2026, 7, 8, 10, 0, tzinfo=UTC)


class TestSlaTimers:
    def test_due_times_and_a_pause_while_waiting_on_the_customer(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2026, 7, 2, 16, 0, tzinfo=UTC))
        complaint = file(session, settings, create_customer(session).id)
        assert complaint.first_response_due_at == datetime(2026, 7, 6, 16, 0, tzinfo=UTC)
        assert complaint.resolution_due_at == datetime(2026, 7, 10, 16, 0, tzinfo=UTC)
        clock.set(datetime(2026, 7, 6, 10, 0, tzinfo=UTC))
        complaints.reply(
            session, settings=settings, complaint_id=complaint.id, text="Sorry!", by="m"
        )
        complaints.set_status(
            session,
            settings=settings,
            complaint_id=complaint.id,
            status=ComplaintStatus.waiting,
            by="m",
        )
        clock.set(datetime(2026, 7, 7, 10, 0, tzinfo=UTC))
        first, resolution = complaints.timers(complaint, now=clock.now, policy=Policy())
        assert (first.state, resolution.state) == ("met", "paused")
        complaints.set_status(
            session,
            settings=settings,
            complaint_id=complaint.id,
            status=ComplaintStatus.in_progress,
            by="m",
        )
        # Waited Monday 10-17 and Tuesday 9-10: 8 business hours later.
        assert complaint.paused_seconds == 8 * 3600
        assert complaint.resolution_due_at == datetime(2026, 7, 13, 16, 0, tzinfo=UTC)

    def test_overdue_is_listed(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2026, 7, 7, 9, 0, tzinfo=UTC))
        complaint = file(session, settings, create_customer(session).id, severity="urgent")
        clock.set(datetime(2026, 7, 7, 10, 30, tzinfo=UTC))
        assert [c.id for c in complaints.list_complaints(session, overdue_at=clock.now)] == [
            complaint.id
        ]
        first, _ = complaints.timers(complaint, now=clock.now, policy=Policy())
        assert first.state == "overdue"


class TestWorkflow:
    def test_received_reply_resolved_messages_and_the_resolution_survey(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        make_survey(session, "csat", touchpoint="complaint")
        customer = create_customer(session)
        complaint = file(session, settings, customer.id)
        complaints.reply(
            session,
            settings=settings,
            complaint_id=complaint.id,
            text="We are on it {{ x }}",
            by="m",
        )
        complaints.add_note(session, complaint_id=complaint.id, text="internal only", by="m")
        complaints.set_status(
            session,
            settings=settings,
            complaint_id=complaint.id,
            status=ComplaintStatus.resolved,
            by="m",
        )
        reasons = sorted(
            m.reason
            for m in session.scalars(select(Message).where(Message.customer_id == customer.id))
        )
        assert reasons == ["complaint.received", "complaint.reply", "complaint.resolved"]
        resolved = session.scalars(
            select(Message).where(Message.reason == "complaint.resolved")
        ).one()
        assert "/s/" in resolved.context["survey_url"]
        assert [e.text for e in complaints.history(session, complaint.id, internal=False)] == [
            "We are on it {{ x }}"
        ]

    def test_closed_cannot_be_acknowledged_but_can_be_reopened(
        self, session: Session, settings: Settings
    ) -> None:
        complaint = file(session, settings, create_customer(session).id)
        complaints.set_status(
            session,
            settings=settings,
            complaint_id=complaint.id,
            status=ComplaintStatus.closed,
            by="m",
        )
        with pytest.raises(complaints.StatusRefused):
            complaints.set_status(
                session,
                settings=settings,
                complaint_id=complaint.id,
                status=ComplaintStatus.acknowledged,
                by="m",
            )
        complaints.set_status(
            session,
            settings=settings,
            complaint_id=complaint.id,
            status=ComplaintStatus.in_progress,
            by="m",
        )
        assert complaint.resolved_at is None and complaint.status == "in_progress"

    def test_category_must_be_on_the_list(self, session: Session, settings: Settings) -> None:
        save_policy(session, Policy(categories=["cold coffee", "other"]), by="t")
        customer = create_customer(session)
        assert (
            file(session, settings, customer.id, category="cold_coffee").category == "cold_coffee"
        )
        with pytest.raises(Invalid):
            file(session, settings, customer.id, category="late_delivery")


class TestFromSurveys:
    def test_a_detractor_opens_one_complaint(self, session: Session, settings: Settings) -> None:
        survey = make_survey(session)
        customer = create_customer(session)
        for score in (3, 2):
            service.answer(
                session,
                settings=settings,
                survey_id=survey.id,
                customer_id=customer.id,
                occasion="o",
                score=score,
                comment="rude cashier",
            )
        found = complaints.list_complaints(session, customer_id=customer.id)
        assert len(found) == 1 and found[0].channel == "survey" and found[0].text == "rude cashier"

    def test_a_passive_opens_none_and_the_policy_can_turn_it_off(
        self, session: Session, settings: Settings
    ) -> None:
        survey = make_survey(session)
        customer = create_customer(session)
        service.answer(
            session,
            settings=settings,
            survey_id=survey.id,
            customer_id=customer.id,
            occasion="a",
            score=7,
        )
        save_policy(session, Policy(complaint_from_surveys=False), by="t")
        service.answer(
            session,
            settings=settings,
            survey_id=survey.id,
            customer_id=customer.id,
            occasion="b",
            score=0,
        )
        assert complaints.list_complaints(session, customer_id=customer.id) == []


class TestSlaSweep:
    def test_warns_once_then_escalates_to_the_owner_once(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        from wafa.auth import service as auth
        from wafa.auth.models import Role
        from wafa.core.outbox import OutboxEvent
        from wafa.feedback import jobs

        owner = auth.create_user(
            session, email="boss@example.com", password="x" * 12, role=Role.owner
        )
        clock.set(datetime(2026, 7, 7, 9, 0, tzinfo=UTC))
        complaint = file(session, settings, create_customer(session).id, severity="urgent")
        clock.set(datetime(2026, 7, 7, 9, 30, tzinfo=UTC))  # due 10:00, warned an hour before
        assert jobs.sweep(session) == {"warnings": 1, "breaches": 0, "mails": 0}
        assert jobs.sweep(session) == {"warnings": 0, "breaches": 0, "mails": 0}
        clock.set(datetime(2026, 7, 7, 10, 30, tzinfo=UTC))
        # The breach emails the owner (nobody held the complaint before).
        assert jobs.sweep(session) == {"warnings": 0, "breaches": 1, "mails": 1}
        assert jobs.sweep(session) == {"warnings": 0, "breaches": 0, "mails": 0}
        assert complaint.assignee_id == owner.id
        alerts = session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == "complaint.sla_alert")
        ).all()
        assert [a.payload["level"] for a in alerts] == ["warning", "breach"]


class TestErasure:
    def test_complaints_and_replies_are_blanked(self, session: Session, settings: Settings) -> None:
        customer = create_customer(session, name="Zahra Kuhestani")
        complaint = file(session, settings, customer.id, text="Zahra Kuhestani was overcharged")
        complaints.reply(
            session,
            settings=settings,
            complaint_id=complaint.id,
            text="Dear Zahra Kuhestani",
            by="m",
        )
        assert service.personal_data(session, customer.id)["complaints"][0]["replies"]
        service.erase(session, customer.id)
        session.expire_all()
        left = complaints.get_complaint(session, complaint.id)
        assert left.text == "" and all(
            e.text is None for e in complaints.history(session, complaint.id) if e.kind == "reply"
        )
