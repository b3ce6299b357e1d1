"""The send pipeline against a real SMTP server on loopback."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock, make_settings
from tests.messaging.conftest import Sink, body_of, headers_of
from tests.messaging.helpers import (
    HELLO,
    MARKED,
    REST,
    FakeEmail,
    Killed,
    die,
    queue,
    reload,
    subscriber,
)
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.messaging.models import Message, Status, Suppression
from wafa.messaging.pipeline import Pipeline
from wafa.messaging.pipeline.worker import HANDOVER_CHUNK
from wafa.messaging.queue import Content, queue_message

pytestmark = pytest.mark.usefixtures("daytime")


class TestTransactional:
    def test_reaches_the_server_with_headers_and_both_bodies(
        self, session: Session, pipeline: Pipeline, smtp_sink: Sink
    ) -> None:
        customer = subscriber(session, name="Sara Ahmadi", email="sara@example.com")
        message = queue(session, customer, kind="transactional", reason="order_confirmation")
        report = pipeline.run_once()
        assert report.sent == 1
        [got] = smtp_sink.to("sara@example.com")
        headers = headers_of(got)
        assert headers["from"] == "Test Café <shop@example.com>"  # transactional From
        assert headers["subject"] == "Hello Sara"
        assert headers["message-id"].startswith("<") and "example.com" in headers["message-id"]
        assert "list-unsubscribe" not in headers
        mime = got.message
        assert mime.get_content_type() == "multipart/alternative"
        kinds = [part.get_content_type() for part in mime.iter_parts()]
        assert kinds == ["text/plain", "text/html"]
        assert "Dear Sara, you have 0 points." in body_of(got, "plain")
        stored = reload(session, message)
        assert stored.status == Status.sent
        assert stored.provider_id == headers["message-id"]
        assert stored.to_address == "sara@example.com"

    def test_the_send_is_on_the_customer_timeline(
        self, session: Session, pipeline: Pipeline
    ) -> None:
        customer = subscriber(session)
        queue(session, customer, kind="transactional")
        pipeline.run_once()
        topics = session.scalars(
            select(OutboxEvent.topic).where(OutboxEvent.subject_id == customer.id)
        ).all()
        assert "message.sent" in topics

    def test_without_smtp_url_email_is_skipped_and_the_worker_carries_on(
        self, session: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        customer = subscriber(session)
        message = queue(session, customer, kind="transactional")
        pipe = Pipeline(make_settings(settings.database_url), session_factory)
        report = pipe.run_once()
        assert report.skipped == 1
        stored = reload(session, message)
        assert (stored.status, stored.status_reason) == (Status.skipped, "channel_off")


class TestOncePerOccasion:
    def test_a_repeat_returns_the_first_message_and_sends_once(
        self, session: Session, pipeline: Pipeline, smtp_sink: Sink
    ) -> None:
        customer = subscriber(session, email="once@example.com")
        first, created = queue_message(
            session,
            customer_id=customer.id,
            channel="email",
            kind="transactional",
            reason="order_confirmation",
            occasion="order-1",
            content=HELLO,
        )
        again, created_again = queue_message(
            session,
            customer_id=customer.id,
            channel="email",
            kind="transactional",
            reason="order_confirmation",
            occasion="order-1",
            content=Content(text={"en": "something else"}),
        )
        assert created and not created_again and again.id == first.id
        pipeline.run_once()
        pipeline.run_once()
        assert len(smtp_sink.to("once@example.com")) == 1


class TestMarketing:
    def test_carries_one_click_unsubscribe_and_a_visible_link(
        self, session: Session, pipeline: Pipeline, smtp_sink: Sink
    ) -> None:
        customer = subscriber(session, email="news@example.com")
        queue(session, customer)
        pipeline.run_once()
        [got] = smtp_sink.to("news@example.com")
        headers = headers_of(got)
        assert headers["from"] == "Test Café News <news@example.com>"  # marketing From
        assert re.fullmatch(
            r"<https://shop\.example/u/[A-Za-z0-9_-]+>", headers["list-unsubscribe"]
        )
        assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
        url = headers["list-unsubscribe"].strip("<>")
        text = body_of(got, "plain")
        html = body_of(got, "html")
        assert url in text
        assert f'href="{url}"' in html

    def test_without_consent_it_is_skipped(self, session: Session, pipeline: Pipeline) -> None:
        from tests.factories import create_customer

        customer = create_customer(session)
        message = queue(session, customer)
        pipeline.run_once()
        assert reload(session, message).status_reason == "no_consent"

    def test_persian_customer_gets_right_to_left_html_and_persian_digits(
        self, session: Session, pipeline: Pipeline, smtp_sink: Sink
    ) -> None:
        customer = subscriber(session, name="مریم رضایی", email="maryam@example.com", language="fa")
        queue(
            session,
            customer,
            content=Content(
                subject={"en": "Hi", "fa": "سلام {{ customer.first_name }}"},
                text={"en": "x", "fa": "مریم عزیز، {{ context_points }} امتیاز"},
            ),
            context={"context_points": 1250},
        )
        pipeline.run_once()
        [got] = smtp_sink.to("maryam@example.com")
        assert headers_of(got)["subject"] == "سلام مریم"
        html = body_of(got, "html")
        assert '<html lang="fa" dir="rtl"' in html
        assert '<body dir="rtl" lang="fa"' in html
        assert 'dir="rtl"' in html.split("<table", 1)[1]
        assert "text-align: right" in html
        assert "۱۲۵۰" in html and "1250" not in html
        assert headers_of(got)["content-language"] == "fa"


class TestSuppression:
    def test_a_5xx_fails_and_suppresses_so_nothing_more_goes(
        self, session: Session, pipeline: Pipeline, smtp_sink: Sink
    ) -> None:
        customer = subscriber(session, email="gone@example.com")
        smtp_sink.reply_to_rcpt("gone@example.com", "550 5.1.1 No such user")
        first = queue(session, customer, kind="transactional")
        pipeline.run_once()
        stored = reload(session, first)
        assert (stored.status, stored.status_reason) == (Status.failed, "hard_bounce")
        entry = session.scalar(select(Suppression))
        assert entry is not None and entry.reason == "hard_bounce" and entry.scope == "all"
        second = queue(session, customer, kind="transactional")
        pipeline.run_once()
        assert reload(session, second).status_reason == "suppressed"
        assert smtp_sink.received == []

    def test_a_4xx_is_retried_with_backoff_then_suppressed(
        self, session: Session, pipeline: Pipeline, smtp_sink: Sink, clock: FrozenClock
    ) -> None:
        customer = subscriber(session, email="full@example.com")
        smtp_sink.reply_to_rcpt("full@example.com", "452 4.2.2 Mailbox full")
        message = queue(session, customer, kind="transactional")
        pipeline.run_once()
        stored = reload(session, message)
        assert stored.status == Status.queued and stored.status_reason == "retry"
        assert stored.not_before == datetime(2026, 3, 15, 12, 5, tzinfo=UTC)
        pipeline.run_once()  # not due yet: nothing happens
        assert reload(session, message).attempts == 1
        for minutes in (5, 30):
            clock.advance(minutes=minutes)
            pipeline.run_once()
        stored = reload(session, message)
        assert (stored.status, stored.status_reason) == (Status.failed, "soft_bounces")
        assert stored.attempts == 3
        assert session.scalar(select(Suppression.reason)) == "soft_bounces"


class TestLoyaltyVariables:
    def test_points_tier_and_referral_link_come_from_the_loyalty_service(
        self, session: Session, pipeline: Pipeline, smtp_sink: Sink, mail_settings: Settings
    ) -> None:
        from wafa.loyalty import referrals
        from wafa.loyalty import service as loyalty

        customer = subscriber(session, name="Reza Ahmadi", email="reza@example.com", language="fa")
        loyalty.adjust(
            session,
            settings=mail_settings,
            customer_id=customer.id,
            points=120,
            reason="welcome",
            by="test",
        )
        code = referrals.referral_code(session, settings=mail_settings, customer_id=customer.id)
        queue(
            session,
            customer,
            kind="transactional",
            content=Content(
                text={
                    "fa": "{{ points.available }} امتیاز · {{ referral_link }} · {{ portal_url }}"
                }
            ),
        )
        pipeline.run_once()
        [got] = smtp_sink.to("reza@example.com")
        text = body_of(got, "plain")
        assert text.startswith("۱۲۰ امتیاز")
        assert code in text
        assert "https://shop.example/portal/login/" in text


def _twelve(session: Session) -> list[Message]:
    """Twelve order confirmations to twelve customers: more than one mark's worth
    (``HANDOVER_CHUNK``), on one connection."""
    assert HANDOVER_CHUNK < 12
    return [
        queue(
            session,
            subscriber(session, email=f"c{i}@example.com"),
            kind="transactional",
            reason="order_confirmation",
        )
        for i in range(12)
    ]


def _topics(session: Session, message: Message) -> list[str]:
    return [
        t
        for t, payload in session.execute(
            select(OutboxEvent.topic, OutboxEvent.payload).where(
                OutboxEvent.subject_id == message.customer_id
            )
        )
        if payload.get("message_id") == str(message.id)
    ]


class TestStoppedWorker:
    """A worker killed with messages in hand: what it marked as handed over may have
    reached the server and becomes ``unknown``; what it never marked goes back to the queue
    and is sent once, by the next worker."""

    def test_never_handed_go_back_to_the_queue_and_are_sent_once(
        self,
        session: Session,
        mail_settings: Settings,
        session_factory: sessionmaker[Session],
        pipeline: Pipeline,
        smtp_sink: Sink,
        clock: FrozenClock,
    ) -> None:
        messages = _twelve(session)
        # Killed while handing over its third message: the first mark (MARKED messages)
        # was written, 2 reached the "server", the other REST were never marked.
        fake = FakeEmail(at=3, then=die)
        dead = Pipeline(mail_settings, session_factory, channels={"email": fake}, worker_id="dead")
        with pytest.raises(Killed):
            dead.run_once()
        assert len(fake.handed) == 2
        stored = [reload(session, m) for m in messages]
        assert {m.status for m in stored} == {Status.sending}
        marked = {m.id for m in stored if m.handed_at is not None}
        assert len(marked) == MARKED and set(fake.handed) <= marked

        clock.advance(minutes=3)  # the dead worker's heartbeat lapses (two minutes)
        report = pipeline.run_once()
        assert (report.lapsed, report.requeued, report.sent) == (MARKED, REST, REST)
        for message in messages:
            stored_message = reload(session, message)
            if message.id in marked:
                assert (stored_message.status, stored_message.status_reason) == (
                    Status.unknown,
                    "worker_lost",
                )
                assert _topics(session, message) == ["message.unknown"]
                assert not smtp_sink.to(stored_message.to_address or "")
            else:
                assert stored_message.status == Status.sent
                assert stored_message.claimed_by == "test-worker"
                assert stored_message.attempts == 1  # the lost take is not an attempt
                assert _topics(session, message) == ["message.sent"]
                assert len(smtp_sink.to(stored_message.to_address or "")) == 1
        assert len(smtp_sink.received) == REST

        # Nothing is sent again on later passes.
        clock.advance(minutes=3)
        again = pipeline.run_once()
        assert (again.sent, again.lapsed, again.requeued) == (0, 0, 0)
        assert len(smtp_sink.received) == REST

    def test_a_connection_whose_mark_does_not_take_hands_nothing_over_and_records_nothing(
        self,
        session: Session,
        mail_settings: Settings,
        session_factory: sessionmaker[Session],
        pipeline: Pipeline,
        smtp_sink: Sink,
        clock: FrozenClock,
    ) -> None:
        messages = _twelve(session)

        def presumed_dead() -> None:
            # The slow worker is silent past the lapse: the next worker settles its
            # messages, the marked ones as unknown, the REST unmarked back to the queue.
            clock.advance(minutes=3)
            assert pipeline.settle_lapsed() == (MARKED, REST)

        fake = FakeEmail(at=1, then=presumed_dead)
        slow = Pipeline(mail_settings, session_factory, channels={"email": fake}, worker_id="slow")
        report = slow.run_once()
        # It handed over what it had marked (and records it: sent, not unknown), and not
        # the REST whose mark no longer took.
        assert len(fake.handed) == MARKED
        assert (report.sent, report.unknown, report.retried, report.requeued) == (MARKED, 0, 0, 0)
        handed = set(fake.handed)
        for message in messages:
            stored = reload(session, message)
            if message.id in handed:
                assert (stored.status, stored.claimed_by) == (Status.sent, "slow")
                assert sorted(_topics(session, message)) == ["message.sent", "message.unknown"]
            else:
                assert (stored.status, stored.claimed_by) == (Status.queued, None)
                assert (stored.handed_at, stored.attempts) == (None, 0)
                assert _topics(session, message) == []

        # The next worker sends the REST, once each; none of the MARKED again.
        after = pipeline.run_once()
        assert after.sent == REST
        assert len(smtp_sink.received) == REST
        received = {r.rcpt_tos[0] for r in smtp_sink.received}
        for message in messages:
            stored = reload(session, message)
            assert stored.status == Status.sent
            assert (stored.to_address in received) is (message.id not in handed)
