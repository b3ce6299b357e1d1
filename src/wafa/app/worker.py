"""The worker, built from the domains' declarations (their consumers and timed tasks)."""

from __future__ import annotations

from wafa.app import domains
from wafa.core.settings import Settings
from wafa.worker.runner import Worker


def build_worker(settings: Settings, *, batch: int = 200) -> Worker:
    """A worker running every domain's consumers and tasks for ``settings``."""
    return Worker(
        settings, consumers=domains.consumers(settings), tasks=domains.tasks(), batch=batch
    )
