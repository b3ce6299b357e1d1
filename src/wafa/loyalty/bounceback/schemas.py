"""Input and output shapes of the bounce-back offers. Money is integer minor units."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from wafa.core.validation import refuse
from wafa.loyalty.schemas.io import Amount, Text200, benefit_problems
from wafa.orders.models import Channel

#: What a bounce-back coupon may give (a partner's offer is the partners' business).
KINDS = ("discount_fixed", "discount_percent", "free_product", "gift")

Kind = Annotated[
    str, StringConstraints(pattern="^(discount_fixed|discount_percent|free_product|gift)$")
]
Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool = True
    priority: int = Field(default=100, ge=0, le=10_000, description="Lower is tried first.")
    min_amount: Amount = Field(default=0, description="The order's total at least (minor units).")
    category: Sku | None = Field(default=None, description="A line in this category.")
    product_sku: Sku | None = Field(default=None, description="A line of this product.")
    first_purchase_only: bool = Field(default=False, description="The customer's first sale only.")
    channel: Channel | None = None
    location_id: uuid.UUID | None = None
    kind: Kind = "discount_percent"
    amount: Amount | None = None
    percent_bp: int | None = Field(default=None, gt=0, le=10_000)
    reward_sku: Sku | None = Field(
        default=None, description="The product a free-product coupon gives."
    )
    coupon_min_order: Amount = Field(default=0, description="The next order's minimum to use it.")
    valid_days: int = Field(default=14, ge=1, le=366, description="Local days, from the next one.")
    holdout_percent: int = Field(
        default=10, ge=0, le=50, description="Share of qualifying purchases that get nothing."
    )


class RuleCreate(_Rule):
    name: Text200

    @model_validator(mode="after")
    def _coherent(self) -> RuleCreate:
        problems = benefit_problems(
            self.kind, amount=self.amount, percent_bp=self.percent_bp, partner_name=None
        )
        if problems:
            raise refuse("RuleCreate", problems)
        return self


class RuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    active: bool
    priority: int
    min_amount: int
    category: str | None
    product_sku: str | None
    first_purchase_only: bool
    channel: str | None
    location_id: uuid.UUID | None
    kind: str
    amount: int | None
    percent_bp: int | None
    reward_sku: str | None
    coupon_min_order: int
    valid_days: int
    holdout_percent: int
    created_at: datetime
    updated_at: datetime


class Offer(BaseModel):
    """A purchase's bounce-back coupon, as the receipt and the confirmation show it."""

    order_id: uuid.UUID
    code: str = Field(description="Grouped for reading (ABCD-EFGH).")
    name: str
    kind: str
    amount: int | None
    percent_bp: int | None
    product_sku: str | None
    currency: str
    min_order_amount: int
    valid_from: datetime
    expires_at: datetime
    first_day: date = Field(description="The first local day it works (Gregorian).")
    last_day: date = Field(description="The last local day it works (Gregorian).")


class Comparison(BaseModel):
    recipients: float
    holdout: float | None
    difference: float | None
    low: float | None
    high: float | None


class ReportRead(BaseModel):
    """What the offers did: coupons and their use, and coming back against the holdout."""

    currency: str
    since: date | None
    until: date | None
    rule_id: uuid.UUID | None
    qualifying: int = Field(description="Qualifying purchases (coupon or holdout).")
    issued: int
    held_out: int
    used: int = Field(description="Coupons used on a later order.")
    pending: int = Field(description="Qualifying purchases whose window is still open.")
    matured_issued: int
    matured_held_out: int
    came_back_issued: int = Field(description="Came back within the window, coupon or not.")
    came_back_held_out: int
    used_matured: int
    came_back: Comparison = Field(description="Share who came back, coupon minus holdout.")
    orders: Comparison
    revenue: Comparison
    method: str
