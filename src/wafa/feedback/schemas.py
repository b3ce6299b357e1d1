"""Feedback's input and output shapes (pydantic)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wafa.feedback.models import ComplaintKind, ComplaintStatus, Severity, SurveyKind, Touchpoint

LOCALES = ("en", "ar", "fa")
Text = Annotated[str, Field(min_length=1, max_length=500)]


def _locales(value: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(value) - set(LOCALES))
    if unknown:
        raise ValueError(f"unknown language {', '.join(unknown)}: use en, ar or fa")
    cleaned = {k: v.strip() for k, v in value.items() if v and v.strip()}
    if any(len(v) > 500 for v in cleaned.values()):
        raise ValueError("at most 500 characters per language")
    return cleaned


class SurveyCreate(BaseModel):
    """A survey: its kind, name, touchpoint and question per language (English or another)."""

    model_config = ConfigDict(extra="forbid")

    kind: SurveyKind
    name: Annotated[str, Field(min_length=1, max_length=200)]
    question: dict[str, str]
    why: dict[str, str] = Field(default_factory=dict)
    touchpoint: Touchpoint = Touchpoint.other
    ask_every_days: Annotated[int, Field(ge=30, le=365)] = 90
    edit_hours: Annotated[int, Field(ge=0, le=24 * 30)] = 72
    link_days: Annotated[int, Field(ge=1, le=90)] = 14

    @field_validator("question")
    @classmethod
    def _question(cls, value: dict[str, str]) -> dict[str, str]:
        cleaned = _locales(value)
        if not cleaned:
            raise ValueError("write the question in at least one language")
        return cleaned

    @field_validator("why")
    @classmethod
    def _why(cls, value: dict[str, str]) -> dict[str, str]:
        return _locales(value)


class SurveyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    name: str
    touchpoint: str
    question: dict[str, str]
    why: dict[str, str]
    ask_every_days: int
    edit_hours: int
    link_days: int
    active: bool
    created_at: datetime


class ResponseCreate(BaseModel):
    """An answer recorded by an integrator (the same rules as the public link's form)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    occasion: Annotated[str, Field(min_length=1, max_length=200)]
    score: int
    comment: Annotated[str | None, Field(max_length=2000)] = None
    order_id: uuid.UUID | None = Field(
        default=None, description="the order the answer is about (default: the link's)"
    )
    staff_id: uuid.UUID | None = Field(
        default=None, description="the staff member who served (default: the link's)"
    )


class ResponseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    survey_id: uuid.UUID
    customer_id: uuid.UUID
    occasion: str
    score: int
    comment: str | None
    language: str | None
    channel: str
    order_id: uuid.UUID | None = None
    staff_id: uuid.UUID | None = None
    created_at: datetime
    updated_at: datetime


class LinkCreate(BaseModel):
    """Ask for a survey link for a customer and an occasion (fatigue rules apply)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    occasion: Annotated[str, Field(min_length=1, max_length=200)]
    order_id: uuid.UUID | None = None
    staff_id: uuid.UUID | None = None


class LinkRead(BaseModel):
    """A signed, expiring link to the answer page, or why none was made."""

    url: str | None
    expires_at: datetime | None
    skipped: str | None = None


class Results(BaseModel):
    """A survey's figures (``nps`` for NPS surveys; ``score`` is CSAT % or CES %)."""

    survey_id: uuid.UUID
    kind: str
    responses: int
    asked: int
    response_rate: int | None
    promoters: int
    passives: int
    detractors: int
    satisfied: int
    nps: int | None
    score: int | None
    mean: float | None


class ComplaintCreate(BaseModel):
    """A complaint (or praise) about an order, a product, a location or a staff member."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID
    category: Annotated[str, Field(min_length=1, max_length=40)]
    text: Annotated[str, Field(min_length=1, max_length=5000)]
    kind: ComplaintKind = ComplaintKind.complaint
    severity: Severity = Severity.normal
    order_id: uuid.UUID | None = None
    product: Annotated[str | None, Field(max_length=200)] = None
    location: Annotated[str | None, Field(max_length=120)] = None
    staff_id: uuid.UUID | None = None
    assignee_id: uuid.UUID | None = None


class ComplaintRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    customer_id: uuid.UUID
    category: str
    severity: str
    channel: str
    status: str
    text: str
    order_id: uuid.UUID | None
    product: str | None
    location: str | None
    staff_id: uuid.UUID | None
    assignee_id: uuid.UUID | None
    survey_response_id: uuid.UUID | None
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    first_response_due_at: datetime
    resolution_due_at: datetime


class ComplaintPage(BaseModel):
    """A page of complaints, newest first; ``next_cursor`` fetches the next (``None``: the
    last page)."""

    items: list[ComplaintRead]
    next_cursor: str | None = None


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ComplaintStatus
    note: Annotated[str | None, Field(max_length=5000)] = None


class ReplyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1, max_length=5000)]
    internal: bool = False


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee_id: uuid.UUID | None


class EntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    text: str | None
    status: str | None
    by: str | None
    at: datetime


class AttachmentRead(BaseModel):
    """A file on a complaint (its bytes at ``GET .../attachments/{id}``)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    complaint_id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    width: int | None
    height: int | None
    from_customer: bool
    shared: bool
    by: str | None
    created_at: datetime


class CouponGift(BaseModel):
    """A single-use coupon: a fixed amount off (minor units), a percentage off, or a free product."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["fixed", "percent", "product"]
    amount: Annotated[int | None, Field(gt=0)] = None
    percent: Annotated[int | None, Field(gt=0, le=100)] = None
    product_sku: Annotated[str | None, Field(min_length=1, max_length=120)] = None
    valid_days: Annotated[int, Field(ge=1, le=365)] = 30

    @model_validator(mode="after")
    def _complete(self) -> CouponGift:
        needed = {"fixed": "amount", "percent": "percent", "product": "product_sku"}[self.kind]
        if getattr(self, needed) is None:
            raise ValueError(f"a {self.kind} coupon needs {needed}")
        return self


class CompensationCreate(BaseModel):
    """Points (available at once) or a coupon, with the reason the customer reads."""

    model_config = ConfigDict(extra="forbid")

    points: Annotated[int | None, Field(gt=0, le=1_000_000)] = None
    coupon: CouponGift | None = None
    reason: Annotated[str, Field(min_length=1, max_length=500)] = "Sorry for the trouble"

    @model_validator(mode="after")
    def _one(self) -> CompensationCreate:
        if (self.points is None) == (self.coupon is None):
            raise ValueError("give either points or a coupon")
        return self


class CompensationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    complaint_id: uuid.UUID
    customer_id: uuid.UUID
    kind: str
    points: int | None
    coupon_code: str | None
    discount_kind: str | None
    amount: int | None
    percent: int | None
    product_sku: str | None
    currency: str | None
    reason: str
    by: str | None
    created_at: datetime


class Group(BaseModel):
    """One group of a breakdown: ``value`` is the location id, channel, staff id or product
    SKU (``None``: answers without an order or staff member); ``margin`` the half-width of
    the score's 95 % interval; ``small`` under 30 answers (a hint, not a finding)."""

    value: str | None
    label: str | None
    responses: int
    promoters: int
    passives: int
    detractors: int
    satisfied: int
    score: int | None
    mean: float | None
    margin: int | None
    small: bool


class Breakdown(BaseModel):
    """A survey's figures per location, channel, staff member or product."""

    survey_id: uuid.UUID
    kind: str
    by: str
    min_responses: int
    groups: list[Group]
