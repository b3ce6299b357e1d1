"""The worker's campaign task: queue the recipients of campaigns being sent, every pass.

It runs before ``messaging.send`` in a pass, so ``wafa worker run --once`` queues a small
campaign and sends it. Each batch is its own transaction; a pass queues at most
``PASS_BATCHES`` batches per campaign so that sending and the outbox get their turn.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from wafa.core.domain import IntervalTask, Task
from wafa.core.settings import Settings
from wafa.messaging.campaigns import service

PASS_BATCHES = 20


def queue_due(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    """Take the segment of every scheduled campaign whose time has come (one transaction
    each), then queue the next recipients of every campaign being queued; how many."""
    with factory() as session:
        scheduled = [c.id for c in service.scheduled_campaigns(session)]
    for campaign_id in scheduled:
        with factory() as session, session.begin():
            service.take_snapshot_if_due(session, settings=settings, campaign_id=campaign_id)
    with factory() as session:
        campaigns = service.queuing_campaigns(session)
    queued = 0
    for campaign_id in campaigns:
        for _ in range(PASS_BATCHES):
            with factory() as session, session.begin():
                handled = service.queue_next_batch(
                    session, settings=settings, campaign_id=campaign_id
                )
            queued += handled
            if not handled:
                break
    return {"recipients": queued}


def tasks() -> list[Task]:
    """List what the worker runs for campaigns: queuing recipients, at every pass."""
    return [IntervalTask("messaging.campaigns", every=0.0, run=queue_due)]
