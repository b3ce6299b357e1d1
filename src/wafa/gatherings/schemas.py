"""What the gatherings API and pages accept and return."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OptionalName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Place = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Capacity = Annotated[int, Field(ge=1, le=100_000, description="seats")]
Points = Annotated[int, Field(ge=0, le=1_000_000, description="points for attending")]


class GatheringCreate(BaseModel):
    """A members-only event: its name in English (Arabic and Persian optional), when (with
    an offset; shown in the business's timezone), where, how many seats, who is invited
    (a messaging segment) and the points for attending."""

    model_config = ConfigDict(extra="forbid")

    name_en: Name
    name_ar: OptionalName | None = None
    name_fa: OptionalName | None = None
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    place: Place
    capacity: Capacity
    segment_id: uuid.UUID | None = None
    points: Points = 0


class GatheringUpdate(BaseModel):
    """Fields to change; those left out stay."""

    model_config = ConfigDict(extra="forbid")

    name_en: Name | None = None
    name_ar: OptionalName | None = None
    name_fa: OptionalName | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    place: Place | None = None
    capacity: Capacity | None = None
    segment_id: uuid.UUID | None = None
    points: Points | None = None


class GatheringRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name_en: str
    name_ar: str | None
    name_fa: str | None
    starts_at: datetime
    ends_at: datetime
    place: str
    capacity: int
    accepted: int
    segment_id: uuid.UUID | None
    points: int
    status: str
    invite_requested_at: datetime | None
    invited_at: datetime | None
    cancelled_at: datetime | None
    created_at: datetime


class RsvpAnswer(BaseModel):
    """An answer on a customer's behalf (staff, an integrator): ``yes``, ``no``, or
    ``waiting`` (the end of the waiting list; a seat, if they had one, goes to the first
    who waits)."""

    model_config = ConfigDict(extra="forbid")

    answer: Literal["yes", "no", "waiting"]


class CheckIn(BaseModel):
    """Check a customer in at a gathering (the counter)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID


class RsvpRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    gathering_id: uuid.UUID
    customer_id: uuid.UUID
    status: str
    waiting_seq: int | None
    invited_at: datetime
    answered_at: datetime | None
    promoted_at: datetime | None
    reminded_at: datetime | None
    checked_in_at: datetime | None
    points_awarded: int
