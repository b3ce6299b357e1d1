"""``wafa messaging test`` and ``health`` against the loopback SMTP server, and
``wafa worker run --once`` sending what is due."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.cli.conftest import Invoke
from tests.messaging.conftest import Sink, body_of, free_port, headers_of
from wafa.core.db import session_scope
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerCreate
from wafa.messaging.models import Message
from wafa.messaging.queue import Content, queue_message


class TestMessagingTest:
    def test_sends_a_test_and_says_so(
        self,
        wafa: Invoke,
        smtp_sink: Sink,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("WAFA_SMTP_URL", smtp_sink.url)
        result = wafa("messaging", "test", "--to", "owner@example.com", "--locale", "fa")
        assert result.exit_code == 0, result.output
        assert "sent to owner@example.com" in result.stdout
        [got] = smtp_sink.to("owner@example.com")
        assert 'dir="rtl"' in body_of(got, "html")
        assert headers_of(got)["subject"] == "پیام آزمایشی از وفا"

    def test_without_a_server_it_fails_with_the_reason(
        self,
        wafa: Invoke,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("WAFA_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
        result = wafa("messaging", "test", "--to", "owner@example.com")
        assert result.exit_code == 1
        assert "temporary: cannot connect" in result.stderr

    def test_without_settings_it_says_email_is_off(self, wafa: Invoke) -> None:
        result = wafa("messaging", "test", "--to", "owner@example.com")
        assert result.exit_code == 1
        assert "WAFA_SMTP_URL is not set" in result.stderr


class TestWorkerOnce:
    def test_worker_run_once_sends_due_messages(
        self,
        wafa: Invoke,
        committed_db: Settings,
        smtp_sink: Sink,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        with session_scope(committed_db) as session:
            customer = customers.create_customer(
                session,
                data=CustomerCreate(name="Ali", email="ali@example.com"),
                region="US",
                calendar=CalendarKind.gregorian,
            )
            queue_message(
                session,
                customer_id=customer.id,
                channel="email",
                kind="transactional",
                reason="order_confirmation",
                occasion="1001",
                content=Content(text={"en": "Order 1001 is confirmed"}),
            )
        monkeypatch.setenv("WAFA_SMTP_URL", smtp_sink.url)
        result = wafa("worker", "run", "--once", "--no-daily")
        assert result.exit_code == 0, result.output
        assert "messaging.send: sent 1" in result.stdout
        assert len(smtp_sink.to("ali@example.com")) == 1
        again = wafa("worker", "run", "--once", "--no-daily")
        assert again.exit_code == 0
        assert len(smtp_sink.to("ali@example.com")) == 1
        with session_scope(committed_db, write=False) as session:
            assert session.scalar(select(Message.status)) == "sent"
