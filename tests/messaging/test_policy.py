"""Frequency caps, priority and quiet hours, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.messaging.conftest import Sink
from tests.messaging.helpers import queue, reload, subscriber
from wafa.messaging import consent
from wafa.messaging.models import Priority, Status
from wafa.messaging.pipeline import Pipeline
from wafa.messaging.policy import ChannelPolicy, MessagingPolicy, QuietWindow, save_policy

TEHRAN = ZoneInfo("Asia/Tehran")


def _in_tehran(session: Session, customer_id: object) -> None:
    prefs = consent.ensure_preferences(session, customer_id)  # type: ignore[arg-type]
    prefs.timezone = "Asia/Tehran"
    session.flush()


class TestFrequencyCap:
    def test_a_held_message_waits_for_the_cap_then_for_the_morning(
        self, session: Session, pipeline: Pipeline, smtp_sink: Sink, clock: FrozenClock
    ) -> None:
        customer = subscriber(session, email="cap@example.com")
        queue(session, customer)
        pipeline.run_once()
        second = queue(session, customer, priority=Priority.loyalty, on_cap="hold")
        pipeline.run_once()
        held = reload(session, second)
        assert held.status == Status.queued
        assert held.not_before == datetime(2026, 3, 16, 4, 0, tzinfo=UTC)  # 12:00 + 16 h
        clock.set(datetime(2026, 3, 16, 4, 0, tzinfo=UTC))
        pipeline.run_once()  # 04:00 is quiet (21:00-08:00 in the business's zone, UTC)
        assert reload(session, second).not_before == datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
        clock.set(datetime(2026, 3, 16, 8, 0, tzinfo=UTC))
        pipeline.run_once()
        assert reload(session, second).status == Status.sent
        assert len(smtp_sink.to("cap@example.com")) == 2

    def test_priority_decides_between_competing_messages(
        self, session: Session, pipeline: Pipeline, smtp_sink: Sink, clock: FrozenClock
    ) -> None:
        customer = subscriber(session, email="rivals@example.com")
        newsletter = queue(session, customer, priority=Priority.newsletter)
        winback = queue(session, customer, reason="win_back", priority=Priority.winback)
        status_news = queue(session, customer, reason="tier_up", priority=Priority.loyalty)
        pipeline.run_once()
        assert reload(session, status_news).status == Status.sent
        assert (reload(session, newsletter).status, reload(session, newsletter).status_reason) == (
            Status.skipped,
            "frequency_cap",
        )
        assert reload(session, winback).status_reason == "frequency_cap"
        [got] = smtp_sink.to("rivals@example.com")
        assert got is not None

    def test_transactional_messages_are_exempt(
        self, session: Session, pipeline: Pipeline, clock: FrozenClock
    ) -> None:
        customer = subscriber(session)
        queue(session, customer)
        receipt = queue(session, customer, kind="transactional", reason="receipt")
        pipeline.run_once()
        assert reload(session, receipt).status == Status.sent

    def test_a_cap_set_to_zero_lets_everything_through(
        self, session: Session, pipeline: Pipeline, clock: FrozenClock
    ) -> None:
        save_policy(session, MessagingPolicy(email=ChannelPolicy(cap_hours=0)), by="test")
        customer = subscriber(session)
        first, second = queue(session, customer), queue(session, customer, reason="offer")
        pipeline.run_once()
        assert {reload(session, first).status, reload(session, second).status} == {Status.sent}


class TestQuietHours:
    def test_in_the_customers_own_timezone(
        self, session: Session, pipeline: Pipeline, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2026, 3, 15, 19, 0, tzinfo=UTC))  # 22:30 in Tehran, 19:00 for the shop
        customer = subscriber(session)
        _in_tehran(session, customer.id)
        local_shop = subscriber(session)
        far = queue(session, customer)
        near = queue(session, local_shop)
        receipt = queue(session, customer, kind="transactional", reason="receipt")
        pipeline.run_once()
        assert reload(session, far).status == Status.queued
        assert reload(session, far).not_before == datetime(2026, 3, 16, 8, 0, tzinfo=TEHRAN)
        assert reload(session, near).status == Status.sent
        assert reload(session, receipt).status == Status.sent  # transactional goes at once

    def test_a_friday_weekend_is_quiet_all_day(
        self, session: Session, pipeline: Pipeline, clock: FrozenClock
    ) -> None:
        save_policy(session, MessagingPolicy(quiet_weekend=True, holiday_country="IR"), by="test")
        clock.set(datetime(2026, 5, 8, 10, 0, tzinfo=TEHRAN))  # a Friday morning in Tehran
        customer = subscriber(session)
        _in_tehran(session, customer.id)
        message = queue(session, customer)
        pipeline.run_once()
        assert reload(session, message).not_before == datetime(2026, 5, 9, 8, 0, tzinfo=TEHRAN)

    def test_public_holidays_of_the_persian_calendar_are_quiet(
        self, session: Session, pipeline: Pipeline, clock: FrozenClock
    ) -> None:
        save_policy(
            session,
            MessagingPolicy(quiet_holidays=True, quiet_weekend=True, holiday_country="IR"),
            by="test",
        )
        clock.set(datetime(2027, 3, 21, 10, 0, tzinfo=TEHRAN))  # 1 Farvardin 1406, Nowruz
        customer = subscriber(session)
        _in_tehran(session, customer.id)
        message = queue(session, customer)
        pipeline.run_once()
        # Nowruz holidays run to 4 Farvardin (24 March); Thursday the 25th is a working day.
        assert reload(session, message).not_before == datetime(2027, 3, 25, 8, 0, tzinfo=TEHRAN)

    def test_a_weekday_can_have_its_own_window(
        self, session: Session, pipeline: Pipeline, clock: FrozenClock
    ) -> None:
        thursday_evening = {3: QuietWindow(start=time(18, 0))}
        save_policy(
            session, MessagingPolicy(email=ChannelPolicy(by_weekday=thursday_evening)), by="test"
        )
        clock.set(datetime(2026, 3, 19, 19, 0, tzinfo=UTC))  # a Thursday, 19:00
        customer = subscriber(session)
        message = queue(session, customer)
        pipeline.run_once()
        assert reload(session, message).not_before == datetime(2026, 3, 20, 8, 0, tzinfo=UTC)
