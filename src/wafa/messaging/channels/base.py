"""The one small interface every channel implements: ``send(message) -> SendResult``.

A channel is built from settings by name (``wafa.messaging.channels.build``): SMTP for
email, an HTTP provider adapter for SMS and WhatsApp. Built-ins use the same
interface a third-party channel would. ``send`` never raises for a delivery problem;
it answers with an outcome the pipeline acts on:

- ``sent``: the server or provider accepted the message;
- ``permanent``: refused for good (SMTP 5xx, an invalid number): the address is
  suppressed where that is the cause;
- ``temporary``: not accepted this time (4xx, a timeout before the message was
  handed over): retried with backoff;
- ``unknown``: handed over, but no answer came back (the connection dropped after
  the message's end was sent): it may have been delivered, so it is never retried.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    sent = "sent"
    permanent = "permanent"
    temporary = "temporary"
    unknown = "unknown"


@dataclass(frozen=True)
class Outgoing:
    """A rendered message ready for a channel."""

    message_id: uuid.UUID
    channel: str
    kind: str
    to: str
    text: str
    subject: str | None = None
    html: str | None = None
    locale: str = "en"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_id: str | None = None
    detail: str | None = None
    # The address itself is the cause of a permanent failure (suppress it).
    address_fault: bool = False


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


class Channel(Protocol):
    """What a channel offers the pipeline."""

    name: str

    def send(self, message: Outgoing) -> SendResult: ...

    def health(self) -> Health: ...

    def close(self) -> None: ...


class Disabled:
    """The channel of a medium with no settings: every message is skipped with a reason."""

    name = "disabled"

    def __init__(self, channel: str, reason: str) -> None:
        self.channel = channel
        self.reason = reason

    def send(self, message: Outgoing) -> SendResult:
        return SendResult(Outcome.permanent, detail=self.reason)

    def health(self) -> Health:
        return Health(False, self.reason)

    def close(self) -> None:
        return None


class RateLimiter:
    """At most ``rate`` calls a second (0: unlimited), by sleeping before a call when ahead."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
            now = self._next
        self._next = max(now, self._next) + self.interval
