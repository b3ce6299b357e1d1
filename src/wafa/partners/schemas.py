"""What the partners API and pages accept and return."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class PartnerCreate(BaseModel):
    """A partner business: its name, who to call, what it gives our customers."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    contact_name: Short | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None = None
    offer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    offer_value: int = Field(default=0, ge=0, le=10**12, description="minor units per use")
    reward_id: uuid.UUID | None = None


class PartnerUpdate(BaseModel):
    """Fields to change; those left out stay."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    contact_name: Short | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    email: Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)] | None = None
    offer: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
        | None
    ) = None
    offer_value: int | None = Field(default=None, ge=0, le=10**12)
    reward_id: uuid.UUID | None = None


class PartnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    contact_name: str | None
    phone: str | None
    email: str | None
    offer: str
    offer_value_amount: int
    currency: str
    reward_id: uuid.UUID | None
    links_revoked_at: datetime | None
    created_at: datetime
    archived_at: datetime | None


class CodesIssue(BaseModel):
    """A batch of single-use codes for a partner.

    ``offer``: codes our customers take to the partner (its offer). ``reciprocal``: codes
    the partner hands out, good here for ``kind`` (money off, a percentage, a gift).
    """

    model_config = ConfigDict(extra="forbid")

    direction: Literal["offer", "reciprocal"]
    count: int = Field(ge=1, le=500)
    valid_days: int = Field(default=90, ge=1, le=730)
    kind: Literal["discount_fixed", "discount_percent", "gift"] | None = None
    amount: int | None = Field(default=None, ge=1, le=10**12)
    percent_bp: int | None = Field(default=None, ge=1, le=10_000)
    customer_id: uuid.UUID | None = None


class CodeRead(BaseModel):
    code: str
    direction: str
    name: str
    expires_at: datetime | None


class LinkRead(BaseModel):
    url: str
    expires_at: datetime


class CheckRead(BaseModel):
    """What a partner's page learns about a code: whether it is good, and what for."""

    status: str
    code: str
    offer: str | None = None
    expires_at: datetime | None = None
    used_at: datetime | None = None


class StatementRead(BaseModel):
    """A partner's month in the business calendar: what the service computes and the API answers."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    partner_id: uuid.UUID
    calendar: str
    year: int
    month: int
    starts_at: datetime
    ends_at: datetime
    currency: str
    offer_codes_issued: int
    offer_codes_redeemed: int
    offer_value: int
    reciprocal_codes_issued: int
    reciprocal_codes_used: int
    reciprocal_discount: int
    new_customers: int
    new_customer_revenue: int
