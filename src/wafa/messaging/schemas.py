"""API input and output of messaging."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wafa.messaging.models import Channel, Kind, OnCap, Priority, Topic
from wafa.messaging.texts import LOCALES


class MessageCreate(BaseModel):
    """``POST /api/v1/messages``: one message to one customer, once per (customer, reason, occasion)."""

    customer_id: uuid.UUID
    channel: Channel
    kind: Kind
    reason: str = Field(min_length=1, max_length=80)
    occasion: str = Field(min_length=1, max_length=200)
    subject: dict[str, str] = Field(default_factory=dict, description="Per locale; Jinja2 text.")
    body: dict[str, str] = Field(default_factory=dict, description="Text body per locale; Jinja2.")
    html: dict[str, str] = Field(default_factory=dict, description="HTML body per locale (email).")
    template: str | None = Field(default=None, description="A saved template instead of a body.")
    context: dict[str, Any] = Field(default_factory=dict)
    topic: Topic | None = None
    priority: Priority = Priority.newsletter
    on_cap: OnCap | None = None
    not_before: datetime | None = None
    expires_at: datetime | None = None

    @field_validator("subject", "body", "html")
    @classmethod
    def _locales(cls, value: dict[str, str]) -> dict[str, str]:
        for locale in value:
            if locale not in LOCALES:
                raise ValueError(f"unknown locale {locale!r}; use one of {', '.join(LOCALES)}")
        return value


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    customer_id: uuid.UUID
    channel: str
    kind: str
    topic: str | None
    reason: str
    occasion: str
    status: str
    status_reason: str | None
    attempts: int
    campaign_id: uuid.UUID | None
    flow_id: uuid.UUID | None
    not_before: datetime
    queued_at: datetime
    sending_at: datetime | None
    settled_at: datetime | None
    locale: str | None
    to_address: str | None
    subject_line: str | None
    sms_segments: int | None
    error: str | None


class MessagePage(BaseModel):
    items: list[MessageRead]
    next_cursor: str | None
