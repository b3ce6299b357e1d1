"""Customer input and output shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from wafa.core.settings import CalendarKind
from wafa.core.validation import PersonName
from wafa.customers.models import ConsentChannel, Gender, MaritalStatus

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class Birthday(BaseModel):
    """Day and month are required; the year is optional. In the given calendar."""

    day: int = Field(ge=1, le=31)
    month: int = Field(ge=1, le=12)
    year: int | None = Field(
        default=None,
        ge=1279,
        le=2100,
        description="Optional; 1900-2100 Gregorian, 1279-1479 Jalali.",
    )
    calendar: CalendarKind | None = Field(
        default=None, description="Calendar of day/month/year; the business calendar if omitted."
    )


class ExternalIdIn(BaseModel):
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    external_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]


class ConsentIn(BaseModel):
    channel: ConsentChannel
    granted: bool
    source: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class CustomerBase(BaseModel):
    name: PersonName | None = None
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    birthday: Birthday | None = None
    city: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] | None = None
    address: Annotated[str, StringConstraints(max_length=1000)] | None = None
    gender: Gender | None = None
    marital_status: MaritalStatus | None = None
    language: Annotated[str, StringConstraints(max_length=8)] | None = None
    tags: list[Tag] | None = None
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None


class CustomerCreate(CustomerBase):
    model_config = ConfigDict(extra="forbid")

    source: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "api"
    consent: list[ConsentIn] = Field(default_factory=list)
    external_ids: list[ExternalIdIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _someone(self) -> CustomerCreate:
        if not (self.name or self.email or self.phone):
            raise ValueError("a customer needs at least a name, an email or a phone")
        return self


class CustomerUpdate(CustomerBase):
    """Fields to change; omitted fields stay, ``null`` clears an optional field."""

    model_config = ConfigDict(extra="forbid")


class BirthdayRead(BaseModel):
    day: int
    month: int
    year: int | None
    calendar: str


class ExternalIdRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    source: str
    external_id: str


class CustomerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str | None
    email: str | None
    phone: str | None
    birthday: BirthdayRead | None
    city: str | None
    gender: str | None
    marital_status: str | None
    language: str | None
    tags: list[str]
    notes: str | None
    source: str
    email_consent: bool
    sms_consent: bool
    merged_into_id: uuid.UUID | None
    erased_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CustomerPage(BaseModel):
    items: list[CustomerRead]
    next_cursor: str | None


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_id: uuid.UUID = Field(description="The duplicate record to fold into this one.")


class MergeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    winner_id: uuid.UUID
    loser_id: uuid.UUID
    merged_by: str
    merged_at: datetime
    details: dict[str, object]


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    title: str
    data: dict[str, object]
