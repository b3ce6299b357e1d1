"""Crash tests: ``wafa worker run`` killed with SIGKILL mid-campaign, and two workers at once.

The worker runs as in production (its own process, its own engine, real commits); the
SMTP server is aiosmtpd on loopback, slowed a little so that a kill lands mid-send.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import func, select

from tests.conftest import TEST_SECRET
from tests.messaging.conftest import free_port
from wafa.core.db import session_scope
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.models import ConsentChannel
from wafa.customers.schemas import ConsentIn, CustomerCreate
from wafa.messaging.models import Message
from wafa.messaging.policy import ChannelPolicy, MessagingPolicy, save_policy
from wafa.messaging.queue import Content, queue_many

pytestmark = pytest.mark.slow
RECIPIENTS = 2000
LAPSE = 3.0


class SlowSink:
    """Counts what each address received; each DATA takes ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.received: Counter[str] = Counter()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.delay)
        for rcpt in envelope.rcpt_tos:
            self.received[rcpt] += 1
        return "250 OK"

    @property
    def total(self) -> int:
        return sum(self.received.values())


@pytest.fixture
def slow_sink() -> Iterator[tuple[SlowSink, int]]:
    handler = SlowSink(delay=0.002)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _campaign(settings: Settings, n: int) -> uuid.UUID:
    """``n`` subscribers and one marketing message each, committed."""
    campaign = uuid.uuid4()
    with session_scope(settings) as session:
        # No caps or quiet hours: the test may run at any hour.
        no_limits = ChannelPolicy(cap_hours=0, quiet=None)
        save_policy(session, MessagingPolicy(email=no_limits), by="test")
        ids = []
        for i in range(n):
            customer = customers.create_customer(
                session,
                data=CustomerCreate(
                    name=f"Crash {i}",
                    email=f"crash{i}@example.com",
                    consent=[ConsentIn(channel=ConsentChannel.email, granted=True, source="test")],
                ),
                region="US",
                calendar=CalendarKind.gregorian,
            )
            ids.append(customer.id)
        queue_many(
            session,
            ({"customer_id": cid, "occasion": str(campaign)} for cid in ids),
            channel="email",
            kind="marketing",
            reason="campaign",
            content=Content(subject={"en": "News"}, text={"en": "Hi {{ customer.first_name }}"}),
            campaign_id=campaign,
        )
    return campaign


def _worker(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "WAFA_DATABASE_URL": settings.database_url,
        "WAFA_SECRET_KEY": TEST_SECRET,
        "WAFA_ENVIRONMENT": "test",
        "WAFA_SMTP_URL": f"smtp://127.0.0.1:{port}",
        "WAFA_MAIL_FROM": "shop@example.com",
        "WAFA_PUBLIC_URL": "https://shop.example",
        "WAFA_EMAIL_RATE": "0",
        "WAFA_SEND_LAPSE_SECONDS": str(LAPSE),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "wafa.cli", "worker", "run", "--poll", "0.2", "--no-daily"],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _counts(settings: Settings, campaign: uuid.UUID) -> dict[str, int]:
    with session_scope(settings, write=False) as session:
        rows = session.execute(
            select(Message.status, func.count())
            .where(Message.campaign_id == campaign)
            .group_by(Message.status)
        )
        return {str(s): int(n) for s, n in rows}


def _wait(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def _settled(settings: Settings, campaign: uuid.UUID) -> bool:
    counts = _counts(settings, campaign)
    return not counts.get("queued") and not counts.get("sending") and not counts.get("paused")


class TestKilledWorker:
    def test_no_address_twice_everyone_accounted_for(
        self, committed_db: Settings, slow_sink: tuple[SlowSink, int]
    ) -> None:
        sink, port = slow_sink
        campaign = _campaign(committed_db, RECIPIENTS)
        in_flight_at_kills = 0
        kills = 0
        for _ in range(4):
            before = sink.total
            worker = _worker(committed_db, port)
            try:
                if not _wait(lambda before=before: sink.total >= before + 120, timeout=60):
                    break  # nothing left to interrupt
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
                kills += 1
            finally:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
            in_flight_at_kills += _counts(committed_db, campaign).get("sending", 0)
        assert kills >= 3, "the worker finished before it could be killed three times"
        final = _worker(committed_db, port)
        try:
            assert _wait(lambda: _settled(committed_db, campaign), timeout=180), _counts(
                committed_db, campaign
            )
        finally:
            final.send_signal(signal.SIGTERM)
            final.wait(timeout=30)
        counts = _counts(committed_db, campaign)
        twice = {addr: n for addr, n in sink.received.items() if n > 1}
        assert twice == {}, f"received twice: {twice}"
        assert sum(counts.values()) == RECIPIENTS
        assert set(counts) <= {"sent", "skipped", "failed", "unknown"}
        assert counts.get("unknown", 0) <= in_flight_at_kills
        assert (
            counts.get("sent", 0) + counts.get("unknown", 0) >= sink.total >= counts.get("sent", 0)
        )
        print(  # noqa: T201 - the figures the report quotes
            f"\ncrash test: {kills} kills, in flight at the kills {in_flight_at_kills}, "
            f"statuses {counts}, delivered {sink.total}, addresses twice {len(twice)}"
        )


@pytest.mark.postgres_only
class TestTwoWorkers:
    def test_share_a_campaign_without_a_duplicate(
        self, committed_db: Settings, slow_sink: tuple[SlowSink, int]
    ) -> None:
        sink, port = slow_sink
        campaign = _campaign(committed_db, RECIPIENTS)
        workers = [_worker(committed_db, port), _worker(committed_db, port)]
        try:
            assert _wait(lambda: _settled(committed_db, campaign), timeout=180)
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=30)
        assert max(sink.received.values()) == 1
        assert sink.total == RECIPIENTS
        assert _counts(committed_db, campaign) == {"sent": RECIPIENTS}
        with session_scope(committed_db, write=False) as session:
            by_worker = dict(
                session.execute(
                    select(Message.claimed_by, func.count())
                    .where(Message.campaign_id == campaign)
                    .group_by(Message.claimed_by)
                ).all()
            )
        assert len(by_worker) == 2, by_worker  # both took part
        print(f"\ntwo workers: {by_worker}")  # noqa: T201
