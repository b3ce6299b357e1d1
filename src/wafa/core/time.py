"""Instants are aware UTC; this module is the one place that asks the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_clock: Callable[[], datetime] | None = None


def utcnow() -> datetime:
    """Return the current instant as an aware UTC datetime (or the injected test clock)."""
    if _clock is not None:
        return _clock()
    return datetime.now(UTC)


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests only); ``None`` restores the system clock."""
    global _clock
    _clock = clock


def ensure_utc(value: datetime, *, field: str = "datetime") -> datetime:
    """Return ``value`` converted to UTC; naive datetimes are refused, never guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field} must carry a timezone offset, got naive {value.isoformat()}")
    return value.astimezone(UTC)
