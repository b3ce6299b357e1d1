"""Crash tests of a campaign: 2,000 customers, the worker (which queues the recipients and
sends) SIGKILLed several times and restarted; two workers at once on PostgreSQL. The
harness is the send pipeline's (``tests/messaging/crash.py``)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from tests.messaging.campaigns.conftest import draft, segment_of
from tests.messaging.crash import (
    SlowSink,
    accounted,
    counts,
    finish,
    kill_repeatedly,
    subscribers,
)
from wafa.app.worker import build_worker
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.messaging.campaigns import service
from wafa.messaging.campaigns.models import CampaignRecipient
from wafa.messaging.models import Message
from wafa.worker.runner import Worker

pytestmark = pytest.mark.slow
CUSTOMERS = 2000
CITY = {"all": [{"field": "city", "op": "=", "value": "Crashville"}]}


def _sent_campaign(settings: Settings) -> uuid.UUID:
    subscribers(settings, CUSTOMERS, city="Crashville")
    # The 2,000 customers' events (some 8,000) are handled here first: a killed worker
    # would otherwise spend its first minutes on them (at load 20 on two cores, longer
    # than the kill waits) and be killed before the campaign's first batch.
    worker = build_worker(settings)
    drain = Worker(settings, consumers=worker.consumers, tasks=[])
    while drain.run_once(daily=False).events:
        pass
    with session_scope(settings) as session:
        campaign = draft(session, settings, segment_of(session, settings, CITY))
        service.start_sending(session, settings=settings, campaign_id=campaign.id)
        return campaign.id


def _queued(settings: Settings, campaign: uuid.UUID) -> bool:
    """Whether the worker has queued every recipient (the campaign left ``queuing``)."""
    with session_scope(settings, write=False) as session:
        return service.get_campaign(session, campaign).status != "queuing"


def _chosen(settings: Settings, campaign: uuid.UUID) -> int:
    with session_scope(settings, write=False) as session:
        undrawn = session.scalar(
            select(func.count()).where(
                CampaignRecipient.campaign_id == campaign, CampaignRecipient.holdout.is_(None)
            )
        )
        assert undrawn == 0, "a recipient was never queued nor held out"
        return int(
            session.scalar(
                select(func.count()).where(
                    CampaignRecipient.campaign_id == campaign,
                    CampaignRecipient.holdout.is_(False),
                )
            )
            or 0
        )


def _messages(settings: Settings, campaign: uuid.UUID) -> int:
    with session_scope(settings, write=False) as session:
        return int(session.scalar(select(func.count()).where(Message.campaign_id == campaign)) or 0)


def test_killed_worker_no_address_twice_every_recipient_accounted_for(
    committed_db: Settings, slow_sink: tuple[SlowSink, int]
) -> None:
    sink, port = slow_sink
    campaign = _sent_campaign(committed_db)
    # Progress counts queued messages too, so the first kill lands while queuing.
    killed = kill_repeatedly(
        committed_db,
        sink,
        port,
        campaign,
        started=lambda: _messages(committed_db, campaign) + sink.total,
        every=150,
    )
    assert killed.kills >= 3, "the worker finished before it could be killed three times"
    finish(committed_db, port, campaign, queued=lambda: _queued(committed_db, campaign))
    found = counts(committed_db, campaign)
    chosen = _chosen(committed_db, campaign)
    figures = accounted(committed_db, sink, campaign, killed.kills)
    assert 0 < CUSTOMERS - chosen < CUSTOMERS * 0.2  # the holdout, about 10 %
    assert sum(found.values()) == chosen
    assert set(found) <= {"sent", "skipped", "failed", "unknown"}
    assert found.get("unknown", 0) <= killed.in_flight
    assert found.get("sent", 0) + found.get("unknown", 0) >= sink.total >= found.get("sent", 0)
    with session_scope(committed_db, write=False) as session:
        assert service.read_campaign(session, campaign_id=campaign)["status"] == "finished"
    print(  # noqa: T201 - the figures the notes quote
        f"\ncampaign crash test: {killed.kills} kills, in flight at the kills "
        f"{killed.in_flight}, held out {CUSTOMERS - chosen}, statuses {found}, "
        f"delivered {sink.total}, {figures}; at the kills {killed.statuses}"
    )


@pytest.mark.postgres_only
def test_two_workers_share_a_campaign_without_a_duplicate(
    committed_db: Settings, slow_sink: tuple[SlowSink, int]
) -> None:
    sink, port = slow_sink
    campaign = _sent_campaign(committed_db)
    finish(committed_db, port, campaign, workers=2, queued=lambda: _queued(committed_db, campaign))
    chosen = _chosen(committed_db, campaign)
    assert max(sink.received.values()) == 1
    assert sink.total == chosen
    assert counts(committed_db, campaign) == {"sent": chosen}
    with session_scope(committed_db, write=False) as session:
        by_worker = dict(
            session.execute(
                select(Message.claimed_by, func.count())
                .where(Message.campaign_id == campaign)
                .group_by(Message.claimed_by)
            ).all()
        )
    assert len(by_worker) == 2, by_worker
    print(f"\ncampaign, two workers: {by_worker}")  # noqa: T201
