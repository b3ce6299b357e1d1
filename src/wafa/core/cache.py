"""Answers kept between requests: one small store instead of a hand-rolled dict per reader.

Some dashboard figures read a whole table (the all-time repeat rate, the segment totals
of a million scores). ``Kept`` keeps such answers per database, thread-safely, with the
two policies the readers need:

- ``get_or_compute(key, compute, *, keep_if=...)``: the answer is kept when ``keep_if``
  says so (a slow query; a quick answer on a small store is never kept), served for
  ``ttl`` seconds, then served stale while a fresh one is computed in the background by
  ``refresh`` — the page never waits for it twice.
- ``drop(where)``: forget every key matching a predicate (a new analytics run makes the
  previous run's answers useless).

Keys start with ``wafa.core.db.database_key(session)``: a session bound to one connection
(a test's transaction) gets ``None`` and nothing is kept, so no answer outlives it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger("wafa")

V = TypeVar("V")


@dataclass
class _Entry(Generic[V]):
    value: V
    at: float
    refreshing: bool = False


class Kept(Generic[V]):
    """A thread-safe store of answers (see the module docstring)."""

    def __init__(self, name: str, *, ttl: float | None = None) -> None:
        self.name = name
        self.ttl = ttl
        self._entries: dict[Hashable, _Entry[V]] = {}
        self._lock = threading.Lock()

    def get_or_compute(
        self,
        key: Hashable | None,
        compute: Callable[[], V],
        *,
        keep_if: Callable[[float], bool] = lambda _seconds: True,
        refresh: Callable[[], V] | None = None,
    ) -> V:
        """The kept answer for ``key``, else ``compute()`` (kept if ``keep_if(seconds)``).

        A stale answer (older than ``ttl``) is still returned while ``refresh`` (which
        must open its own session) computes a new one in a background thread.
        """
        if key is None:
            return compute()
        with self._lock:
            entry = self._entries.get(key)
            stale = (
                entry is not None
                and self.ttl is not None
                and time.monotonic() - entry.at > self.ttl
            )
            if entry is not None and stale and not entry.refreshing and refresh is not None:
                entry.refreshing = True
                threading.Thread(
                    target=self._refresh, args=(key, refresh), daemon=True, name=self.name
                ).start()
        if entry is not None:
            return entry.value
        started = time.monotonic()
        value = compute()
        if keep_if(time.monotonic() - started):
            with self._lock:
                self._entries[key] = _Entry(value, time.monotonic())
        return value

    def _refresh(self, key: Hashable, refresh: Callable[[], V]) -> None:
        try:
            value = refresh()
        except Exception:  # the stale answer stays; the next read tries again
            log.exception("recomputing the kept answer %s of %s failed", key, self.name)
            with self._lock:
                if key in self._entries:
                    self._entries[key].refreshing = False
            return
        with self._lock:
            self._entries[key] = _Entry(value, time.monotonic())

    def drop(self, where: Callable[[Hashable], bool]) -> None:
        """Forget every kept answer whose key matches ``where``."""
        with self._lock:
            for key in [k for k in self._entries if where(k)]:
                del self._entries[key]

    def kept_keys(self) -> list[Hashable]:
        """The keys kept now."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._entries.clear()
