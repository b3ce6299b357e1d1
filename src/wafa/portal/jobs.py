"""What the worker runs for the portal: forgetting what has expired, every hour.

Ended or expired sessions, spent or expired codes and rate-limit attempts older than their
window are deleted. Each run is one transaction of plain deletes, so a run cut short (a
SIGKILL) leaves nothing half-done, and running twice changes nothing more. Spent sign-in
links are kept: their digests are what makes a link open only once.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from wafa.core.db import rowcount
from wafa.core.domain import Factory, IntervalTask, Task
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.portal.access import WINDOW
from wafa.portal.models import PortalAttempt, PortalCode, PortalSession

EVERY_SECONDS = 3600.0
KEEP_ENDED = timedelta(days=1)


def forget_expired(session: Session) -> dict[str, int]:
    """Delete what no longer counts; how many rows of each kind went."""
    now = utcnow()
    sessions = session.execute(
        delete(PortalSession).where(
            or_(PortalSession.expires_at < now, PortalSession.ended_at < now - KEEP_ENDED)
        )
    )
    codes = session.execute(
        delete(PortalCode).where(or_(PortalCode.expires_at < now, PortalCode.used_at.is_not(None)))
    )
    attempts = session.execute(delete(PortalAttempt).where(PortalAttempt.at < now - WINDOW))
    return {
        "sessions": rowcount(sessions),
        "codes": rowcount(codes),
        "attempts": rowcount(attempts),
    }


def run_cleanup(factory: Factory, settings: Settings) -> dict[str, int]:
    with factory() as session, session.begin():
        return forget_expired(session)


def tasks() -> list[Task]:
    """The hourly cleanup."""
    return [IntervalTask("portal.cleanup", every=EVERY_SECONDS, run=run_cleanup)]
