"""The worker's messaging task: send what is due, every pass.

``wafa worker run`` runs ``send_due`` on every pass (``INTERVAL_TASKS`` with a zero
interval): one pipeline per process and database keeps its SMTP connection open
between passes. A pass takes at most ``PASS_LIMIT`` messages so that the outbox
consumers get their turn during a long campaign (the worker starts the next pass at
once while there is work).
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from wafa.core.domain import IntervalTask, Task
from wafa.core.settings import Settings
from wafa.messaging.checks import CHECK_EVERY, check_channels
from wafa.messaging.pipeline import Pipeline
from wafa.messaging.queue import SEND_TASK

PASS_LIMIT = 2000
_pipelines: dict[tuple[str, int], Pipeline] = {}


def pipeline_for(factory: sessionmaker[Session], settings: Settings) -> Pipeline:
    """This process's pipeline for the settings' database (made on first use)."""
    key = (settings.database_url, id(settings))
    found = _pipelines.get(key)
    if found is None:
        found = Pipeline(settings, factory)
        _pipelines[key] = found
    return found


def send_due(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    """Send the due messages (up to ``PASS_LIMIT``); what happened, by outcome."""
    return pipeline_for(factory, settings).run_once(limit=PASS_LIMIT).as_dict()


def tasks() -> list[Task]:
    """List what the worker runs for messaging: sending what is due, at every pass; the
    channels' health checks every ``CHECK_EVERY`` seconds."""
    return [
        IntervalTask(SEND_TASK, every=0.0, run=send_due),
        IntervalTask("messaging.channel_checks", every=CHECK_EVERY, run=check_channels),
    ]
