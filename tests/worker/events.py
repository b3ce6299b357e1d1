"""A test event type and a consumer that records what it saw."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy.orm import Session

from wafa.core.events import Consumer, Envelope, Event, Handles


class Noted(Event):
    """Something a test wrote down (``bad``: the handler refuses it)."""

    topic: ClassVar[str] = "test.noted"
    subject_field: ClassVar[str | None] = None

    n: str
    bad: bool = False


def recording(seen: list[str], *, name: str = "recorder") -> Consumer:
    """A consumer of ``Noted`` that appends each ``n`` to ``seen`` and refuses the bad ones."""

    def handle(session: Session, event: Noted, _: Envelope) -> None:
        seen.append(event.n)
        if event.bad:
            raise RuntimeError(f"cannot handle {event.n}")

    return Consumer(name, (Handles(Noted, handle),))
