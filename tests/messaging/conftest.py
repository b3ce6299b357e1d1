"""Messaging fixtures: a real SMTP server on loopback (aiosmtpd) and a pipeline on the
test's database transaction."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from tests.cli.conftest import wafa  # noqa: F401 - re-exported fixture (wafa messaging ...)
from tests.conftest import make_settings
from wafa.core.settings import Settings
from wafa.messaging.pipeline import Pipeline


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SinkHandler:
    """Records every message; answers RCPT for the addresses in ``rcpt_replies`` with that reply."""

    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        with self.lock:
            self.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(content))
            )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]


class Sink:
    def __init__(self, handler: SinkHandler, port: int) -> None:
        self.handler = handler
        self.port = port

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def to(self, address: str) -> list[Received]:
        return self.handler.to(address)

    def reply_to_rcpt(self, address: str, reply: str) -> None:
        self.handler.rcpt_replies[address.lower()] = reply


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_sink() -> Iterator[Sink]:
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Sink(handler, port)
    finally:
        controller.stop()


@pytest.fixture
def slow_sink() -> Iterator[tuple[Any, int]]:
    """A sink that takes a moment per message, for the crash tests (``tests/messaging/crash.py``)."""
    from tests.messaging.crash import running_slow_sink

    with running_slow_sink() as found:
        yield found


@pytest.fixture
def daytime(request: pytest.FixtureRequest) -> Iterator[None]:
    """Marketing waits out quiet hours (21:00-08:00): tests that send it run at midday.

    Without this, a suite run after 21:00 UTC holds every marketing message. A test that
    asks for ``clock`` keeps its own time.
    """
    if "clock" in request.fixturenames:
        yield
        return
    from datetime import UTC, datetime

    from wafa.core.time import set_clock

    set_clock(lambda: datetime(2026, 3, 16, 12, 0, tzinfo=UTC))
    try:
        yield
    finally:
        set_clock(None)


@pytest.fixture
def mail_settings(settings: Settings, smtp_sink: Sink) -> Settings:
    return make_settings(
        settings.database_url,
        smtp_url=smtp_sink.url,
        mail_from="Test Café <shop@example.com>",
        mail_from_marketing="Test Café News <news@example.com>",
        public_url="https://shop.example",
        email_rate=0,
    )


@pytest.fixture
def pipeline(
    mail_settings: Settings, session_factory: sessionmaker[DbSession]
) -> Iterator[Pipeline]:
    pipe = Pipeline(mail_settings, session_factory, worker_id="test-worker")
    try:
        yield pipe
    finally:
        for channel in pipe.channels.values():
            channel.close()


def body_of(received: Received, kind: str) -> str:
    """The ``plain`` or ``html`` body of a received message."""
    part = received.message.get_body((kind,))
    assert part is not None, f"no {kind} body"
    return str(part.get_content())


def headers_of(received: Received) -> dict[str, Any]:
    msg = received.message
    return {k.lower(): str(v) for k, v in msg.items()}
