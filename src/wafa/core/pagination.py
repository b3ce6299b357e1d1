"""Keyset pagination: opaque cursors over time-ordered ids.

Every list of the API answers ``{"items": [...], "next_cursor": ...}``; a cursor is the
last id of a page, base64url-encoded, so clients cannot build or tamper with it
meaningfully and a damaged one is a clear 422.
"""

from __future__ import annotations

import base64
import uuid

from wafa.core.errors import Invalid


def encode_cursor(value: uuid.UUID) -> str:
    """An opaque cursor for keyset pagination by id."""
    return base64.urlsafe_b64encode(value.bytes).decode().rstrip("=")


def decode_cursor(cursor: str, *, field: str = "cursor") -> uuid.UUID:
    """Read a cursor made by ``encode_cursor``; a damaged one is an ``Invalid`` error."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (ValueError, TypeError):
        raise Invalid.field((field,), "not a cursor returned by this API") from None
