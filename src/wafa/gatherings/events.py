"""What gatherings announce, each about one customer (the timeline shows the labelled ones).

The flows engine turns ``gathering.invited``, ``gathering.seat_given``,
``gathering.reminder`` and ``gathering.cancelled`` into messages (presets
``event_invitation``, ``event_seat_given``, ``event_reminder``, ``event_cancelled``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from wafa.core.events import Event
from wafa.core.i18n import N_


class GatheringInvited(Event):
    """The customer was invited to a gathering (once per gathering and customer);
    ``not_after`` (the start): an invitation the flows reach only later is not sent."""

    topic: ClassVar[str] = "gathering.invited"
    label: ClassVar[str | None] = N_("Invited to an event")
    icon: ClassVar[str] = "calendar"

    customer_id: uuid.UUID
    gathering_id: uuid.UUID
    rsvp_id: uuid.UUID
    not_after: datetime | None = None


class GatheringAnswered(Event):
    """The customer answered (``yes``, ``no``; staff may also answer ``waiting``);
    ``status`` is where that left them (``yes``, ``waiting`` when it was full, ``no``)."""

    topic: ClassVar[str] = "gathering.answered"
    label: ClassVar[str | None] = N_("Answered an event invitation")
    icon: ClassVar[str] = "calendar"

    customer_id: uuid.UUID
    gathering_id: uuid.UUID
    rsvp_id: uuid.UUID
    answer: str
    status: str
    source: str


class SeatGiven(Event):
    """A seat freed up and went to the first on the waiting list: this customer."""

    topic: ClassVar[str] = "gathering.seat_given"
    label: ClassVar[str | None] = N_("Moved from the waiting list to a seat")
    icon: ClassVar[str] = "calendar"

    customer_id: uuid.UUID
    gathering_id: uuid.UUID
    rsvp_id: uuid.UUID


class GatheringReminder(Event):
    """The day before a gathering (in the business calendar): remind one who said yes.
    ``not_after`` (the start): the flows send nothing from that moment on."""

    topic: ClassVar[str] = "gathering.reminder"

    customer_id: uuid.UUID
    gathering_id: uuid.UUID
    rsvp_id: uuid.UUID
    not_after: datetime | None = None


class GatheringCancelled(Event):
    """A gathering the customer had a seat at, or waited for, was called off."""

    topic: ClassVar[str] = "gathering.cancelled"
    label: ClassVar[str | None] = N_("An event they were coming to was cancelled")
    icon: ClassVar[str] = "calendar"

    customer_id: uuid.UUID
    gathering_id: uuid.UUID
    rsvp_id: uuid.UUID


class CheckedIn(Event):
    """The customer came: checked in at the counter (``points`` given for attending)."""

    topic: ClassVar[str] = "gathering.checked_in"
    label: ClassVar[str | None] = N_("Checked in at an event")
    icon: ClassVar[str] = "calendar"

    customer_id: uuid.UUID
    gathering_id: uuid.UUID
    rsvp_id: uuid.UUID
    points: int = 0


EVENTS: tuple[type[Event], ...] = (
    GatheringInvited,
    GatheringAnswered,
    SeatGiven,
    GatheringReminder,
    GatheringCancelled,
    CheckedIn,
)
