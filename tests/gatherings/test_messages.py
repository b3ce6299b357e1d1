"""Invitations, seats given and reminders go through the flows engine and the real send
pipeline (aiosmtpd on loopback): the event's name, time (Jalali in Persian, the business's
timezone) and place in the customer's language, and signed yes/no links for that customer
and event only."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock, make_settings
from tests.flows.helpers import no_limits
from tests.gatherings.helpers import invited
from tests.messaging.conftest import Sink, body_of
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.flows.models import Enrolment, StepRun
from wafa.gatherings import links, service
from wafa.messaging.pipeline import Pipeline
from wafa.worker.batch import drain_batched


def _drain_all(factory: sessionmaker[Session], settings: Settings) -> None:
    from wafa.app.domains import consumers

    drain_batched(factory, consumers(settings))


class TestMessages:
    def test_persian_invitation_seat_given_and_reminder(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        mail_settings: Settings,
        clock: FrozenClock,
        smtp_sink: Sink,
    ) -> None:
        clock.set(datetime(2026, 12, 10, 8, 0, tzinfo=UTC))  # 11:30 in Tehran
        tehran = make_settings(
            mail_settings.database_url,
            smtp_url=smtp_sink.url,
            mail_from="Test Café <shop@example.com>",
            public_url="https://shop.example",
            email_rate=0,
            timezone="Asia/Tehran",
        )
        pipeline = Pipeline(tehran, session_factory, worker_id="test-worker")
        no_limits(session)
        starts = datetime(2026, 12, 20, 15, 30, tzinfo=UTC)  # 19:00 in Tehran, 29 Azar 1405
        g, members = invited(session, tehran, 2, starts_at=starts, capacity=1, language="fa")
        _drain_all(session_factory, tehran)
        pipeline.run_once()
        mails = smtp_sink.to(members[0].email or "")
        assert len(mails) == 1
        text = body_of(mails[0], "plain")
        assert "شب چشیدن قهوه" in mails[0].message["Subject"]
        assert "۲۹ آذر ۱۴۰۵" in text and "۱۹:۰۰" in text, text
        urls = re.findall(r"https://shop\.example/rsvp/[A-Za-z0-9_-]+", text)
        read = [links.read_token(session, settings=tehran, token=u.rsplit("/", 1)[1]) for u in urls]
        assert {(r.answer, r.customer_id, r.gathering_id) for r in read if r} == {
            ("yes", members[0].id, g.id),
            ("no", members[0].id, g.id),
        }
        # One seat: the first takes it, the second waits; the first gives it back.
        for m in members:
            service.answer(
                session, gathering_id=g.id, customer_id=m.id, answer="yes", source="link"
            )
        service.answer(
            session, gathering_id=g.id, customer_id=members[0].id, answer="no", source="link"
        )
        _drain_all(session_factory, tehran)
        pipeline.run_once()
        [seat] = [
            m
            for m in smtp_sink.to(members[1].email or "")
            if "جایی برای شما" in m.message["Subject"]
        ]
        assert "/rsvp/" in body_of(seat, "plain")
        # The day before (Tehran), nothing before 10:00 local; at 10:00 the reminder goes.
        from wafa.gatherings import jobs

        clock.set(datetime(2026, 12, 18, 21, 0, tzinfo=UTC))  # 00:30 on the 19th in Tehran
        assert jobs.remind(session_factory, tehran) == {"reminded": 0}
        clock.set(datetime(2026, 12, 19, 6, 30, tzinfo=UTC))  # 10:00 in Tehran
        assert jobs.remind(session_factory, tehran) == {"reminded": 1}
        _drain_all(session_factory, tehran)
        pipeline.run_once()
        [reminder] = [
            m for m in smtp_sink.to(members[1].email or "") if "فردا" in m.message["Subject"]
        ]
        assert "۲۹ آذر ۱۴۰۵" in body_of(reminder, "plain")


class TestLateReminder:
    def _setup(
        self,
        session: Session,
        mail_settings: Settings,
        smtp_sink: Sink,
        clock: FrozenClock,
    ) -> tuple[Settings, list[Customer]]:
        clock.set(datetime(2026, 12, 10, 8, 0, tzinfo=UTC))
        tehran = make_settings(
            mail_settings.database_url,
            smtp_url=smtp_sink.url,
            mail_from="Test Café <shop@example.com>",
            public_url="https://shop.example",
            email_rate=0,
            timezone="Asia/Tehran",
        )
        no_limits(session)
        starts = datetime(2026, 12, 20, 15, 30, tzinfo=UTC)  # 19:00 in Tehran, 29 Azar 1405
        g, members = invited(session, tehran, 1, starts_at=starts, language="fa")
        service.answer(
            session, gathering_id=g.id, customer_id=members[0].id, answer="yes", source="link"
        )
        return tehran, members

    def test_a_worker_down_the_day_before_says_today(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        mail_settings: Settings,
        clock: FrozenClock,
        smtp_sink: Sink,
    ) -> None:
        from wafa.gatherings import jobs

        tehran, members = self._setup(session, mail_settings, smtp_sink, clock)
        pipeline = Pipeline(tehran, session_factory, worker_id="test-worker")
        # Down from before the 19th until 08:00 on the 20th (Tehran): the first run reminds.
        clock.set(datetime(2026, 12, 20, 4, 30, tzinfo=UTC))
        assert jobs.remind(session_factory, tehran) == {"reminded": 1}
        _drain_all(session_factory, tehran)
        pipeline.run_once()
        assert jobs.remind(session_factory, tehran) == {"reminded": 0}
        _drain_all(session_factory, tehran)
        pipeline.run_once()
        reminders = [
            m for m in smtp_sink.to(members[0].email or "") if "امروز" in m.message["Subject"]
        ]
        assert len(reminders) == 1
        assert "فردا" not in body_of(reminders[0], "plain")

    def test_a_reminder_reached_only_after_the_start_is_not_sent(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        mail_settings: Settings,
        clock: FrozenClock,
        smtp_sink: Sink,
    ) -> None:
        from wafa.gatherings import jobs

        tehran, members = self._setup(session, mail_settings, smtp_sink, clock)
        pipeline = Pipeline(tehran, session_factory, worker_id="test-worker")
        # The reminder is emitted a minute before the start; the worker then stops, and
        # the flows reach the event only after the start.
        clock.set(datetime(2026, 12, 20, 15, 29, tzinfo=UTC))
        assert jobs.remind(session_factory, tehran) == {"reminded": 1}
        clock.set(datetime(2026, 12, 20, 15, 31, tzinfo=UTC))
        _drain_all(session_factory, tehran)
        pipeline.run_once()
        subjects = [m.message["Subject"] for m in smtp_sink.to(members[0].email or "")]
        assert not [s for s in subjects if "امروز" in s or "فردا" in s], subjects
        late = session.scalar(select(StepRun).where(StepRun.outcome == "late"))
        assert late is not None and late.message_id is None
        enrolment = session.get(Enrolment, late.enrolment_id)
        assert enrolment is not None and enrolment.exit_reason == "too_late"

    def test_an_invitation_reached_only_after_the_start_is_not_sent(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        mail_settings: Settings,
        clock: FrozenClock,
        smtp_sink: Sink,
    ) -> None:
        tehran, members = self._setup(session, mail_settings, smtp_sink, clock)
        pipeline = Pipeline(tehran, session_factory, worker_id="test-worker")
        clock.set(datetime(2026, 12, 20, 15, 31, tzinfo=UTC))  # a minute after the start
        _drain_all(session_factory, tehran)
        pipeline.run_once()
        assert smtp_sink.to(members[0].email or "") == []
        late = session.scalars(select(StepRun.outcome)).all()
        assert late and set(late) == {"late"}
