"""Time-ordered UUIDs (version 7, RFC 9562).

Python 3.11's ``uuid`` module has no ``uuid7`` (it arrives in 3.14); the layout is
twelve lines, so it is written here rather than pulled in as a dependency.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_id() -> uuid.UUID:
    """Return a UUIDv7: 48-bit Unix milliseconds, then a 12-bit counter, then random bits.

    Ids made in one process are strictly increasing, so primary keys sort by creation.
    """
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted within one millisecond: borrow the next one
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        else:
            _last_ms = ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF  # leave headroom
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand
    return uuid.UUID(int=value)


def id_floor(unix_ms: int) -> uuid.UUID:
    """Return the smallest UUIDv7 of the millisecond ``unix_ms``: every id made at or
    after that moment sorts at or above it."""
    return uuid.UUID(int=((unix_ms & ((1 << 48) - 1)) << 80) | (0x7 << 76) | (0b10 << 62))
