"""The crash-test harness: ``wafa worker run`` in its own process (real commits, its own
engine) against a slightly slow aiosmtpd sink on loopback, killed with SIGKILL and
restarted. Used by the send pipeline's crash tests and by the campaigns' ones."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

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
from wafa.messaging.pipeline.worker import HANDOVER_CHUNK
from wafa.messaging.policy import ChannelPolicy, MessagingPolicy, save_policy

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


@contextmanager
def running_slow_sink(delay: float = 0.002) -> Iterator[tuple[SlowSink, int]]:
    """A :class:`SlowSink` listening on a free loopback port (the ``slow_sink`` fixture)."""
    handler = SlowSink(delay=delay)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def subscribers(settings: Settings, n: int, *, city: str | None = None) -> list[uuid.UUID]:
    """``n`` customers who accept marketing email, and no caps or quiet hours (the test may
    run at any hour); committed."""
    with session_scope(settings) as session:
        no_limits = ChannelPolicy(cap_hours=0, quiet=None)
        save_policy(session, MessagingPolicy(email=no_limits), by="test")
        ids = []
        for i in range(n):
            customer = customers.create_customer(
                session,
                data=CustomerCreate(
                    name=f"Crash {i}",
                    email=f"crash{i}@example.com",
                    city=city,
                    consent=[ConsentIn(channel=ConsentChannel.email, granted=True, source="test")],
                ),
                region="US",
                calendar=CalendarKind.gregorian,
            )
            ids.append(customer.id)
    return ids


def worker(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    """``wafa worker run`` sending to the sink on ``port``."""
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


def counts(settings: Settings, campaign: uuid.UUID) -> dict[str, int]:
    """The campaign's messages per status."""
    with session_scope(settings, write=False) as session:
        rows = session.execute(
            select(Message.status, func.count())
            .where(Message.campaign_id == campaign)
            .group_by(Message.status)
        )
        return {str(s): int(n) for s, n in rows}


def wait(predicate: Callable[..., bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def settled(settings: Settings, campaign: uuid.UUID) -> bool:
    found = counts(settings, campaign)
    return not found.get("queued") and not found.get("sending") and not found.get("paused")


@dataclass
class Kills:
    kills: int = 0
    in_flight: int = 0
    statuses: list[dict[str, int]] = field(default_factory=list)  # at each kill


def kill_repeatedly(
    settings: Settings,
    sink: SlowSink,
    port: int,
    campaign: uuid.UUID,
    *,
    times: int = 4,
    every: int = 120,
    started: Callable[[], int] | None = None,
) -> Kills:
    """Start a worker, SIGKILL it once ``every`` more messages arrived (or, with
    ``started``, once that figure grew by ``every``), ``times`` times; count the messages
    in a worker's hand (``sending``) at each kill."""
    progress = started or (lambda: sink.total)
    done = Kills()
    for _ in range(times):
        before = progress()
        process = worker(settings, port)
        try:
            # 180 s: on a loaded machine (load 19 on two cores) a worker takes some 30 s
            # just to start, and the kill waits for ``every`` messages after that.
            if not wait(lambda before=before: progress() >= before + every, timeout=180):
                break  # nothing left to interrupt
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            done.kills += 1
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        at_kill = counts(settings, campaign)
        done.statuses.append(at_kill)
        done.in_flight += at_kill.get("sending", 0)
    return done


def finish(
    settings: Settings,
    port: int,
    campaign: uuid.UUID,
    *,
    workers: int = 1,
    queued: Callable[[], bool] = lambda: True,
) -> None:
    """Run ``workers`` workers until everything is queued (``queued``) and every message of
    the campaign is settled, then stop them."""
    running = [worker(settings, port) for _ in range(workers)]
    try:
        assert wait(lambda: queued() and settled(settings, campaign), timeout=180), counts(
            settings, campaign
        )
    finally:
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            process.wait(timeout=30)


def accounted(
    settings: Settings, sink: SlowSink, campaign: uuid.UUID, kills: int
) -> dict[str, int]:
    """Check that every message of the campaign is accounted for after ``kills`` kills, by
    what the server received, and return the figures:

    - nobody received a message twice;
    - every ``sent`` address received its message (once), every address that received
      one is ``sent`` or ``unknown``;
    - an ``unknown`` message the server never received can only be one a connection had
      marked as handed over when its worker was killed: at most ``HANDOVER_CHUNK`` per
      connection per kill (every other message in a killed worker's hand goes back to the
      queue and is sent later).
    """
    with session_scope(settings, write=False) as session:
        rows = session.execute(
            select(Message.to_address, Message.status).where(Message.campaign_id == campaign)
        ).all()
    twice = {address: n for address, n in sink.received.items() if n > 1}
    assert twice == {}, f"received twice: {twice}"
    status = {str(address): str(s) for address, s in rows if address}
    not_received = [a for a, s in status.items() if s == "sent" and not sink.received[a]]
    assert not_received == [], f"sent but never received: {not_received[:5]}"
    strays = [a for a in sink.received if status.get(a) not in ("sent", "unknown")]
    assert strays == [], f"received but neither sent nor unknown: {strays[:5]}"
    lost = sum(1 for a, s in status.items() if s == "unknown" and not sink.received[a])
    bound = kills * settings.send_connections * HANDOVER_CHUNK
    assert lost <= bound, f"{lost} unknown never reached the server (at most {bound})"
    unknown = sum(1 for s in status.values() if s == "unknown")
    return {"unknown": unknown, "unknown_received": unknown - lost, "unknown_not_received": lost}
