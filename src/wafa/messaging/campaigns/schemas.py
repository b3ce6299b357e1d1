"""Campaign input and output shapes."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from wafa.core.contacts import ContactError, normalize_email
from wafa.messaging.campaigns.models import Schedule
from wafa.messaging.models import Channel, Topic
from wafa.messaging.texts import LOCALES

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _check_locales(value: dict[str, str]) -> dict[str, str]:
    for locale in value:
        if locale not in LOCALES:
            raise ValueError(f"unknown locale {locale!r}; use one of {', '.join(LOCALES)}")
    return {k: v for k, v in value.items() if v and v.strip()}


class CouponSpec(BaseModel):
    """A personal single-use coupon for each recipient (issued by the loyalty service)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["discount_percent", "discount_fixed"]
    percent: int | None = Field(default=None, ge=1, le=100, description="For discount_percent.")
    amount: int | None = Field(
        default=None, ge=1, description="For discount_fixed: minor units of the business currency."
    )
    valid_days: int = Field(default=30, ge=1, le=365)


class CampaignCreate(BaseModel):
    """``POST /api/v1/campaigns``: subjects and bodies are template text per locale."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    segment_id: uuid.UUID
    channel: Channel = Channel.email
    topic: Topic = Topic.newsletters
    subject: dict[str, str] = Field(default_factory=dict, description="Per locale; Jinja2 text.")
    body: dict[str, str] = Field(default_factory=dict, description="Text body per locale; Jinja2.")
    html: dict[str, str] = Field(default_factory=dict, description="HTML body per locale (email).")
    holdout_percent: int = Field(default=10, ge=0, le=50)
    schedule: Schedule = Schedule.now
    send_at: datetime | None = Field(default=None, description="For schedule 'at'.")
    local_date: date | None = Field(default=None, description="For schedule 'local'.")
    local_time: str | None = Field(
        default=None, description="For schedule 'local': HH:MM in each customer's timezone."
    )
    coupon: CouponSpec | None = None
    report_days: int = Field(default=14, ge=1, le=90)

    _locales = field_validator("subject", "body", "html")(_check_locales)

    @field_validator("local_time")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        if value is not None and not _HHMM.match(value):
            raise ValueError("use HH:MM, 24-hour")
        return value


class CampaignCreated(BaseModel):
    id: uuid.UUID


class CampaignTestSend(BaseModel):
    """``POST /api/v1/campaigns/{id}/test``: email a test copy to a staff address."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(max_length=320, description="Where the test goes (a staff address).")
    customer_id: uuid.UUID | None = Field(
        default=None,
        description="Whose data fills the message: one of the campaign's sample customers "
        "(its recipients once taken, else the segment's members); the first when left out.",
    )
    locale: str | None = Field(
        default=None, description="en, ar or fa; else the customer's own language."
    )

    @field_validator("to")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            return normalize_email(value, public=False)
        except ContactError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str | None) -> str | None:
        if value is not None and value not in LOCALES:
            raise ValueError(f"unknown locale {value!r}; use one of {', '.join(LOCALES)}")
        return value


class CampaignTestRead(BaseModel):
    """What became of a test copy: ``outcome`` is ``sent`` once the mail server accepted it
    (else ``temporary``, ``permanent`` or ``unknown``, with the server's words in ``detail``)."""

    outcome: str
    detail: str | None
    to: str
    customer_id: uuid.UUID
    locale: str


class Counts(BaseModel):
    queued: int
    sent: int
    skipped: int
    failed: int
    unknown: int
    paused: int
    sending: int


class CampaignRead(BaseModel):
    id: uuid.UUID
    name: str
    status: str
    segment_id: uuid.UUID
    channel: str
    topic: str
    schedule: str
    send_at: datetime | None
    local_date: date | None
    local_time: str | None
    holdout_percent: int
    recipients: int | None = Field(description="Customers of the segment when it was sent.")
    holdout: int = Field(description="Recipients held out so far (they receive nothing).")
    counts: Counts
    skipped_by_reason: dict[str, int]
    created_at: datetime
    started_at: datetime | None
    queued_at: datetime | None


class CampaignSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    status: str
    channel: str
    recipients: int | None
    created_at: datetime
    started_at: datetime | None


class CampaignPage(BaseModel):
    items: list[CampaignSummary]
    next_cursor: str | None


class ComparisonRead(BaseModel):
    """A per-customer mean among recipients and in the holdout; the difference and its
    95 % interval (``null`` when a group is too small)."""

    model_config = ConfigDict(from_attributes=True)

    recipients: float
    holdout: float | None
    difference: float | None
    low: float | None
    high: float | None


class ReportRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: str
    recipients: int = Field(description="Customers chosen to receive (not held out).")
    holdout: int
    counts: Counts
    skipped_by_reason: dict[str, int]
    failed_by_reason: dict[str, int]
    bounces: int
    complaints: int
    unsubscribes: int
    days: int
    window_start: datetime | None
    window_end: datetime | None
    window_open: bool
    currency: str
    conversion: ComparisonRead = Field(description="Share of customers who bought.")
    orders: ComparisonRead = Field(description="Orders per customer.")
    revenue: ComparisonRead = Field(description="Revenue per customer, minor units, net.")
    added_revenue: float | None = Field(description="Revenue difference × recipients.")
    method: str
