"""Invitations, seats given and reminders go through the flows engine and the real send
pipeline (aiosmtpd on loopback): the event's name, time (Jalali in Persian, the business's
timezone) and place in the customer's language, and signed yes/no links for that customer
and event only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock, make_settings
from tests.flows.helpers import no_limits
from tests.gatherings.helpers import invited
from tests.messaging.conftest import Sink, body_of
from wafa.core.settings import Settings
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
        # The day before (Tehran), the reminder waits for 10:00 local, then goes.
        clock.set(datetime(2026, 12, 18, 21, 0, tzinfo=UTC))  # 00:30 on the 19th in Tehran
        assert (
            service.remind_for_day(session, settings=tehran, day=starts.date() - timedelta(days=1))
            == 1
        )
        _drain_all(session_factory, tehran)
        pipeline.run_once()
        assert not [
            m for m in smtp_sink.to(members[1].email or "") if "فردا" in m.message["Subject"]
        ]
        clock.set(datetime(2026, 12, 19, 6, 31, tzinfo=UTC))  # 10:01 in Tehran
        from wafa.flows.jobs import run_due

        run_due(session_factory, tehran)
        pipeline.run_once()
        [reminder] = [
            m for m in smtp_sink.to(members[1].email or "") if "فردا" in m.message["Subject"]
        ]
        assert "۲۹ آذر ۱۴۰۵" in body_of(reminder, "plain")
