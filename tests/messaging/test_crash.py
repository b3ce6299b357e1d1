"""Crash tests: ``wafa worker run`` killed with SIGKILL mid-campaign, and two workers at once.

The worker runs as in production (its own process, its own engine, real commits); the
SMTP server is aiosmtpd on loopback, slowed a little so that a kill lands mid-send (the
harness is in ``tests/messaging/crash.py``).
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from tests.messaging.crash import (
    SlowSink,
    accounted,
    counts,
    finish,
    kill_repeatedly,
    subscribers,
)
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.messaging.models import Message
from wafa.messaging.queue import Content, queue_many

pytestmark = pytest.mark.slow
RECIPIENTS = 2000


def _campaign(settings: Settings, n: int) -> uuid.UUID:
    """``n`` subscribers and one marketing message each, committed."""
    campaign = uuid.uuid4()
    ids = subscribers(settings, n)
    with session_scope(settings) as session:
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


class TestKilledWorker:
    def test_no_address_twice_everyone_accounted_for(
        self, committed_db: Settings, slow_sink: tuple[SlowSink, int]
    ) -> None:
        sink, port = slow_sink
        campaign = _campaign(committed_db, RECIPIENTS)
        killed = kill_repeatedly(committed_db, sink, port, campaign)
        assert killed.kills >= 3, "the worker finished before it could be killed three times"
        finish(committed_db, port, campaign)
        found = counts(committed_db, campaign)
        figures = accounted(committed_db, sink, campaign, killed.kills)
        assert sum(found.values()) == RECIPIENTS
        assert set(found) <= {"sent", "skipped", "failed", "unknown"}
        assert found.get("unknown", 0) <= killed.in_flight
        assert found.get("sent", 0) + found.get("unknown", 0) >= sink.total >= found.get("sent", 0)
        print(  # noqa: T201 - the figures the report quotes
            f"\ncrash test: {killed.kills} kills, in flight at the kills {killed.in_flight}, "
            f"statuses {found}, delivered {sink.total}, {figures}"
        )


@pytest.mark.postgres_only
class TestTwoWorkers:
    def test_share_a_campaign_without_a_duplicate(
        self, committed_db: Settings, slow_sink: tuple[SlowSink, int]
    ) -> None:
        sink, port = slow_sink
        campaign = _campaign(committed_db, RECIPIENTS)
        finish(committed_db, port, campaign, workers=2)
        assert max(sink.received.values()) == 1
        assert sink.total == RECIPIENTS
        assert counts(committed_db, campaign) == {"sent": RECIPIENTS}
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
