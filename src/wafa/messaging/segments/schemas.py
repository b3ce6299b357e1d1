"""Segment input and output shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from wafa.messaging.segments.rules import Rules

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class SegmentCreate(BaseModel):
    """A named rule to save."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description | None = None
    rules: Rules = Field(
        description='`{"all"|"any": [{"field", "op", "value"}, ...]}`; groups nest. '
        "Fields: GET /api/v1/segments/fields."
    )


class SegmentUpdate(BaseModel):
    """Any of the segment's name, description and rules."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    rules: Rules | None = None


class CountIn(BaseModel):
    """A rule to count without saving it (the builder's live count)."""

    model_config = ConfigDict(extra="forbid")

    rules: Rules


class CountOut(BaseModel):
    count: int = Field(description="Live customers the rule selects now.")


class SegmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    rules: dict[str, Any]
    count: int | None = Field(description="Customers in the segment when it was last counted.")
    counted_at: datetime | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class SegmentCounted(SegmentRead):
    """A segment with its size counted now."""

    count: int = Field(description="Live customers in the segment now.")


class SegmentPage(BaseModel):
    items: list[SegmentRead]
    next_cursor: str | None


class FieldRead(BaseModel):
    """One field a rule can test (see :mod:`wafa.messaging.segments.fields`)."""

    name: str
    kind: str
    group: str
    label: str
    help: str
    ops: list[str]
    choices: list[str] | None = Field(description="The allowed values, when fixed or known.")
