"""Login throttling by account and by address (issue 9 item 6).

Every login attempt first claims a try, in its own short transaction committed before the
password is hashed (so no write lock is ever held across argon2): an atomic upsert counts
the try against ``account:<email>`` and ``address:<ip>`` within a window. The first
``FREE_*`` tries of a window pass; after that one try is let through per delay (a guarded
update that only one of any number of parallel requests can win), the delay doubling up to
``MAX_DELAY``. A stranger guessing at the owner's account slows it down, never shuts it: the
owner gets a try at least every ``MAX_DELAY``, and from a browser they logged in with before
(a signed device cookie) the account's count does not apply at all.

The account key is the typed email, whether or not such a login exists: an unknown email is
counted, delayed and answered exactly like a known one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from wafa.auth.models import LoginThrottle
from wafa.core.domain import Factory, IntervalTask, Task
from wafa.core.settings import Settings
from wafa.core.time import utcnow

WINDOW = timedelta(minutes=15)
FREE_PER_ACCOUNT = 5
FREE_PER_ADDRESS = 20
MAX_DELAY = timedelta(seconds=60)


@dataclass(frozen=True)
class Claim:
    """The answer to a login attempt's claim: go ahead, or wait ``retry_after`` seconds."""

    allowed: bool
    retry_after: int = 0


def account_key(email: str) -> str:
    return "account:" + email.strip().lower()[:320]


def address_key(address: str | None) -> str:
    return "address:" + (address or "unknown")[:64]


def _delay(attempts: int, free: int) -> timedelta:
    over = max(0, attempts - free)
    return min(MAX_DELAY, timedelta(seconds=2 ** min(over + 2, 10)))  # 8 s, 16 s, 32 s, 60 s


def _count(session: Session, key: str, now: datetime) -> tuple[int, datetime]:
    """Count one try against ``key`` atomically; the count in the window and the next slot."""
    values = {"key": key, "attempts": 1, "window_started": now, "next_try_at": now}
    table = LoginThrottle.__table__
    expired = table.c.window_started < now - WINDOW
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    upsert = insert(LoginThrottle).values(values)
    counted = upsert.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "attempts": _case(expired, 1, table.c.attempts + 1),
            "window_started": _case(expired, now, table.c.window_started),
            "next_try_at": _case(expired, now, table.c.next_try_at),
        },
    ).returning(table.c.attempts, table.c.next_try_at)
    attempts, next_try_at = session.execute(counted).one()
    return int(attempts), next_try_at


def _case(condition: object, then: object, otherwise: object) -> object:
    from sqlalchemy import case

    return case((condition, then), else_=otherwise)  # type: ignore[arg-type]


def _take_slot(session: Session, key: str, now: datetime, delay: timedelta) -> bool:
    """Whether this try wins the next slot of ``key`` (only one parallel try can)."""
    result = session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.key == key, LoginThrottle.next_try_at <= now)
        .values(next_try_at=now + delay)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def claim(session: Session, keys: Iterable[tuple[str, int]]) -> Claim:
    """Count one try against each ``(key, free tries)``; commit it before checking a password."""
    now = utcnow()
    wait = 0
    for key, free in keys:
        attempts, next_try_at = _count(session, key, now)
        if attempts <= free:
            continue
        if not _take_slot(session, key, now, _delay(attempts, free)):
            seconds = int((next_try_at - now).total_seconds()) + 1
            wait = max(wait, max(1, seconds))
    return Claim(allowed=wait == 0, retry_after=wait)


def forget(session: Session, key: str) -> None:
    """After a right password: the account's count starts again."""
    session.execute(
        delete(LoginThrottle)
        .where(LoginThrottle.key == key)
        .execution_options(synchronize_session=False)
    )


def prune(session: Session) -> int:
    """Drop counts whose window ended and whose delay is over (nothing that still counts)."""
    now = utcnow()
    result = session.execute(
        delete(LoginThrottle)
        .where(LoginThrottle.window_started < now - WINDOW, LoginThrottle.next_try_at < now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _run_prune(factory: Factory, settings: Settings) -> dict[str, int]:
    with factory() as session, session.begin():
        return {"login_counts": prune(session)}


def tasks() -> list[Task]:
    """Every hour, the worker forgets login counts that no longer count (one delete)."""
    return [IntervalTask("auth.login-throttle-cleanup", every=3600.0, run=_run_prune)]
