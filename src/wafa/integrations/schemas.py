"""What the integrations API reads and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Secret = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=500)]


class ConnectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop: Literal["shopify", "woocommerce"]
    name: Name
    secret: Secret | None = Field(
        default=None, description="The shop's signing secret; generated when omitted."
    )


class ConnectionRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: Secret | None = Field(
        default=None, description="The new secret; generated when omitted."
    )
    grace_hours: int = Field(
        default=24, ge=0, le=720, description="How long the old one still works."
    )


class ConnectionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    shop: str
    paused_at: datetime | None
    created_at: datetime
    rotated_at: datetime | None
    previous_until: datetime | None
    last_delivery_at: datetime | None = None
    failures_last_day: int = 0


class ConnectionCreated(ConnectionRead):
    """A new connection, with what is shown once."""

    intake_path: str
    secret: str


class SecretRotated(ConnectionRead):
    secret: str


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    connection_id: uuid.UUID
    delivery_id: str
    topic: str
    received_at: datetime
    processed_at: datetime | None
    status: str
    error: str | None
    subject: str | None
    attempts: int


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    events: list[str] = Field(
        min_length=1, description="Event types (docs/events.md), or ['*'] for all."
    )
    description: Annotated[str, StringConstraints(max_length=200)] | None = None


class EndpointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    description: str | None
    events: list[str] = Field(validation_alias="topics")
    created_at: datetime
    disabled_at: datetime | None
    disabled_reason: str | None
    last_success_at: datetime | None


class EndpointCreated(EndpointRead):
    secret: str = Field(description="The Standard Webhooks signing key, shown once.")


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    status_code: int | None
    error: str | None
    milliseconds: int


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    topic: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
