"""The worker, built from the domains' declarations (their consumers and timed tasks)."""

from __future__ import annotations

from wafa.app import domains
from wafa.auth import business
from wafa.core.db import session_scope
from wafa.core.events import Consumer
from wafa.core.settings import Settings
from wafa.worker.runner import Worker


def _read(settings: Settings) -> tuple[Settings, str | None]:
    """``settings`` with the owner's stored values under the environment, and the version
    token of those values, read in one transaction (unchanged and ``None`` if the database
    is not set up yet)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        with session_scope(settings, write=False) as session:
            token = business.version(session)
            return business.effective(settings, business.stored(session)), token
    except (OperationalError, ProgrammingError):
        return settings, None


def stored_settings(settings: Settings) -> Settings:
    """``settings`` with the owner's stored values under the environment (none if the
    database is not set up yet)."""
    return _read(settings)[0]


def build_worker(settings: Settings, *, batch: int = 200) -> Worker:
    """A worker running every domain's consumers and tasks for ``settings``.

    The owner's stored settings (Settings page) fill what the environment leaves unset,
    as they do for the web app. They are read when the worker starts and followed after:
    each pass first reads their version token (one primary-key read) and, when the owner
    saved since, reads them again and rebuilds the consumers with them, so a new shop
    name, timezone or calendar is in force from the next pass without a restart.
    """
    base = settings
    current, token = _read(base)
    applied = [token]

    def follow() -> tuple[Settings, list[Consumer]] | None:
        with session_scope(base, write=False) as session:
            latest = business.version(session)
        if latest == applied[0]:
            return None
        fresh, applied[0] = _read(base)
        return fresh, domains.consumers(fresh)

    return Worker(
        current,
        consumers=domains.consumers(current),
        tasks=domains.tasks(),
        batch=batch,
        follow=follow,
    )
