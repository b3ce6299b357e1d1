"""Typed domain events: declared once, written to the outbox, read back by type.

A domain declares each of its events in its ``events.py`` as a frozen pydantic model
with its ``topic``::

    class OrderPlaced(Event):
        '''An order was recorded (by the API, the point of sale, an import or a webhook).'''

        topic: ClassVar[str] = "order.placed"
        subject_field: ClassVar[str | None] = "customer_id"

        order_id: UUID
        customer_id: UUID | None

and writes it with ``emit(session, OrderPlaced(...))`` in the transaction of the change it
describes (``emit_many`` for a batch; ``rows`` gives the importer's ``COPY`` path the very
same rows). A consumer maps event types to handlers (``Consumer(name, (Handles(OrderPlaced,
on_placed), ...))``); the worker parses each stored payload back into its type before the
handler sees it. A payload that does not parse raises ``EventRejected``: the worker
records the event as failed with its error and retries it later or shows it to the owner,
never receipting it as handled.

Payloads are encoded by pydantic (``model_dump(mode="json")``) and nothing else: UUIDs,
instants, dates and decimals all round-trip. The catalogue of every event (topic, fields,
who emits, who consumes) is generated from the domains' declarations into
``docs/events.md`` (``wafa.app.catalogue``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Table, insert, text
from sqlalchemy.orm import Session

from wafa.core.db import dialect_name
from wafa.core.ids import new_id
from wafa.core.outbox import OutboxEvent
from wafa.core.time import utcnow

if TYPE_CHECKING:
    from wafa.core.settings import Settings


class Event(BaseModel):
    """A fact a domain announces. Subclasses set ``topic`` and declare their fields.

    ``subject_field`` names the field holding the customer the event is about (it is stored
    as the outbox row's ``subject_id``: the customer's timeline and per-customer
    ordering read it). ``label`` and ``icon`` say how the customer timeline shows it
    (an English msgid, translated when drawn); events without a label are not shown.
    Unknown fields in a stored payload are ignored (a newer writer may add one); a
    missing or malformed field is an error, never a silent default.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    topic: ClassVar[str]
    subject_field: ClassVar[str | None] = "customer_id"
    label: ClassVar[str | None] = None
    icon: ClassVar[str] = "dot"

    def subject_id(self) -> uuid.UUID | None:
        """The customer this event is about, if any."""
        if self.subject_field is None:
            return None
        value = getattr(self, self.subject_field, None)
        return value if isinstance(value, uuid.UUID) else None


E = TypeVar("E", bound=Event)

#: Where a consumer's handlers may memoize facts that cannot change inside one transaction
#: (``session.info[BATCH_MEMO]``, a dict): the worker leaves it while it handles a batch of
#: events in one transaction (``wafa.worker.batch``), and a bulk job that holds such facts
#: still may do the same; without it, handlers read per call.
BATCH_MEMO = "wafa.batch"

_EVENTS = cast(Table, OutboxEvent.__table__)
_INSERT = insert(_EVENTS)


def row(event: Event, *, at: datetime | None = None) -> dict[str, Any]:
    """The outbox row for ``event``: a new time-ordered id, its topic, subject and payload."""
    return {
        "id": new_id(),
        "topic": event.topic,
        "subject_id": event.subject_id(),
        "payload": event.model_dump(mode="json", by_alias=True),
        "occurred_at": at or utcnow(),
    }


def rows(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Outbox rows for ``events``, in order (for writers that bulk-load, like ``COPY``)."""
    now = utcnow()
    return [row(e, at=now) for e in events]


_UNNEST_INSERT = text(
    f'INSERT INTO "{_EVENTS.name}" (id, topic, subject_id, payload, occurred_at) '
    "SELECT r.id, r.topic, r.subject_id, CAST(r.payload AS JSON), r.occurred_at FROM unnest("
    "CAST(:ids AS UUID[]), CAST(:topics AS VARCHAR[]), CAST(:subjects AS UUID[]), "
    "CAST(:payloads AS TEXT[]), CAST(:occurred AS TIMESTAMP WITH TIME ZONE[])"
    ") AS r(id, topic, subject_id, payload, occurred_at)"
)


def write_rows(session: Session, values: Sequence[Mapping[str, Any]]) -> None:
    """Insert outbox rows made by ``row`` (a worker's group of events) in the caller's
    transaction. On PostgreSQL one short ``INSERT … SELECT … FROM unnest(arrays)`` (an
    ``INSERT`` of a hundred rows' values is 500 parameters, a statement psycopg parses
    anew each time); elsewhere an executemany. The payload is the same JSON text."""
    if not values:
        return
    if dialect_name(session) != "postgresql":
        session.execute(_INSERT, list(values))
        return
    session.execute(
        _UNNEST_INSERT,
        {
            "ids": [v["id"] for v in values],
            "topics": [v["topic"] for v in values],
            "subjects": [v["subject_id"] for v in values],
            # (what the JSON column's own bind processor writes: ``json.dumps``)
            "payloads": [json.dumps(v["payload"]) for v in values],
            "occurred": [v["occurred_at"] for v in values],
        },
    )


def emit(session: Session, event: Event) -> uuid.UUID:
    """Write ``event`` to the outbox now, in the caller's transaction; return its id.

    One Core ``INSERT`` (no ORM unit of work): events are written on hot paths (one per
    accrued order), and the row commits or rolls back with the change it describes.
    """
    values = row(event)
    session.execute(_INSERT, values)
    return cast(uuid.UUID, values["id"])


def emit_many(session: Session, events: Iterable[Event]) -> int:
    """Write many events in one ``executemany``; return how many."""
    values = rows(events)
    if values:
        session.execute(_INSERT, values)
    return len(values)


class EventRejected(Exception):
    """A stored payload does not parse as its event type (kept, recorded as failed)."""

    def __init__(self, topic: str, event_id: uuid.UUID, error: ValidationError) -> None:
        fields = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(payload)'}: {e['msg']}"
            for e in error.errors()
        )
        super().__init__(f"{topic} event {event_id} does not parse: {fields}")
        self.topic = topic
        self.event_id = event_id


@dataclass(frozen=True)
class Envelope:
    """Where a stored event came from: its outbox id, when, and about whom."""

    id: uuid.UUID
    occurred_at: datetime
    subject_id: uuid.UUID | None


@dataclass(frozen=True)
class Handles(Generic[E]):
    """A handler of one event type: ``run(session, event, envelope)``.

    ``run_many`` (optional) handles a run of consecutive events of the type at once, in
    the caller's transaction, with the same outcome as ``run`` on each in turn: the
    worker's batched draining hands it the events of its batch that follow each other.
    """

    event: type[E]
    run: Callable[[Session, E, Envelope], None]
    run_many: Callable[[Session, Sequence[tuple[E, Envelope]]], None] | None = None


def parse(event_type: type[E], stored: OutboxEvent) -> E:
    """The typed event of a stored row; ``EventRejected`` when its payload does not fit."""
    try:
        return event_type.model_validate(stored.payload or {})
    except ValidationError as exc:
        raise EventRejected(stored.topic, stored.id, exc) from exc


@dataclass(frozen=True)
class Consumer:
    """A named, idempotent reader of some event types.

    Handlers must be idempotent: the worker records a receipt per ``(consumer, event)``
    in the handler's own transaction, and handlers also guard their writes with unique
    keys, so a replay changes nothing.
    """

    name: str
    handlers: tuple[Handles[Any], ...]
    _by_topic: Mapping[str, Handles[Any]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_topic: dict[str, Handles[Any]] = {}
        for handles in self.handlers:
            topic = handles.event.topic
            if topic in by_topic:
                raise ValueError(f"consumer {self.name}: two handlers for {topic}")
            by_topic[topic] = handles
        object.__setattr__(self, "_by_topic", by_topic)

    @property
    def topics(self) -> frozenset[str]:
        """The topics this consumer reads."""
        return frozenset(self._by_topic)

    @property
    def event_types(self) -> tuple[type[Event], ...]:
        """The event types this consumer reads."""
        return tuple(h.event for h in self.handlers)

    def handle(self, session: Session, stored: OutboxEvent) -> None:
        """Parse ``stored`` as its type and run its handler (``EventRejected`` if it does not parse)."""
        handles = self._by_topic.get(stored.topic)
        if handles is None:
            raise LookupError(f"consumer {self.name} does not read {stored.topic}")
        event = parse(handles.event, stored)
        handles.run(session, event, Envelope(stored.id, stored.occurred_at, stored.subject_id))

    def handle_many(self, session: Session, stored: Sequence[OutboxEvent]) -> None:
        """Handle ``stored`` in order: consecutive events of a type whose handler has
        ``run_many`` together, every other one by ``handle``."""
        start = 0
        while start < len(stored):
            handles = self._by_topic.get(stored[start].topic)
            if handles is None or handles.run_many is None:
                self.handle(session, stored[start])
                start += 1
                continue
            end = start
            while end < len(stored) and stored[end].topic == stored[start].topic:
                end += 1
            handles.run_many(
                session,
                [
                    (parse(handles.event, e), Envelope(e.id, e.occurred_at, e.subject_id))
                    for e in stored[start:end]
                ],
            )
            start = end


ConsumerFactory = Callable[["Settings"], Consumer]

__all__ = [
    "Consumer",
    "ConsumerFactory",
    "Envelope",
    "Event",
    "EventRejected",
    "Handles",
    "emit",
    "emit_many",
    "parse",
    "row",
    "rows",
]
