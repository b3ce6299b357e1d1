"""The worker, built from the domains' declarations (their consumers and timed tasks)."""

from __future__ import annotations

from wafa.app import domains
from wafa.auth import business
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.worker.runner import Worker


def stored_settings(settings: Settings) -> Settings:
    """``settings`` with the owner's stored values under the environment (none if the
    database is not set up yet)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        with session_scope(settings, write=False) as session:
            return business.effective(settings, business.stored(session))
    except (OperationalError, ProgrammingError):
        return settings


def build_worker(settings: Settings, *, batch: int = 200) -> Worker:
    """A worker running every domain's consumers and tasks for ``settings``.

    The owner's stored settings (Settings page) fill what the environment leaves unset,
    as they do for the web app; the worker reads them when it starts.
    """
    settings = stored_settings(settings)
    return Worker(
        settings, consumers=domains.consumers(settings), tasks=domains.tasks(), batch=batch
    )
