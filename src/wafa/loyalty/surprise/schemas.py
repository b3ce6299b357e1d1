"""Input and output shapes of surprise rules and grants. Money is integer minor units."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from wafa.loyalty.models import SurpriseStatus, SurpriseTrigger

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Amount = Annotated[int, Field(ge=0, le=10**15, description="Minor units.")]


class SurpriseRuleCreate(BaseModel):
    """A surprise rule. ``count`` is N: the Nth order, the Nth anniversary of joining (1 when
    left out), the Nth visit to ``location_id``, or 1 in N qualifying purchases (``random``).
    The reward is ``points`` or a catalogue ``reward_id`` (a coupon or a free product).
    ``cost_amount`` overrides what one grant is counted as costing (by default: the points'
    value, the coupon's fixed amount, the free product's price)."""

    model_config = ConfigDict(extra="forbid")

    name: Text200
    trigger: SurpriseTrigger
    count: int | None = Field(default=None, ge=1, le=1_000_000)
    location_id: uuid.UUID | None = None
    min_order_amount: Amount = 0
    points: int | None = Field(default=None, ge=1, le=10**9)
    reward_id: uuid.UUID | None = None
    cost_amount: Amount | None = None
    monthly_budget_amount: Amount | None = Field(
        default=None, description="At most this much a month (minor units); none: no cap."
    )
    status: SurpriseStatus = SurpriseStatus.active


class SurpriseRuleUpdate(BaseModel):
    """Fields to change; the rest stay. ``monthly_budget_amount: null`` removes the cap."""

    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = None
    count: int | None = Field(default=None, ge=1, le=1_000_000)
    location_id: uuid.UUID | None = None
    min_order_amount: Amount | None = None
    points: int | None = Field(default=None, ge=1, le=10**9)
    reward_id: uuid.UUID | None = None
    cost_amount: Amount | None = None
    monthly_budget_amount: Amount | None = None
    status: SurpriseStatus | None = None


class SurpriseRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    trigger: str
    count: int | None
    location_id: uuid.UUID | None
    min_order_amount: int
    points: int | None
    reward_id: uuid.UUID | None
    currency: str
    unit_cost_amount: int
    monthly_budget_amount: int | None
    status: str
    created_at: datetime
    updated_at: datetime


class SegmentGrantIn(BaseModel):
    """Grant a rule for a chosen segment (``trigger: segment``) now to the segment's members."""

    model_config = ConfigDict(extra="forbid")

    rule_id: uuid.UUID


class GrantRunRead(BaseModel):
    """What granting to many customers did: given now, given before, over the budget."""

    occasion: str
    granted: int
    already: int
    over_budget: int


class SurpriseGrantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    rule_id: uuid.UUID
    customer_id: uuid.UUID
    occasion: str
    month: str
    cost_amount: int
    currency: str
    points: int | None
    coupon_id: uuid.UUID | None
    order_id: uuid.UUID | None
    granted_at: datetime
    handed_at: datetime | None


class MonthCostRead(BaseModel):
    """What surprises cost in one month of the business calendar (``2026-12``)."""

    month: str
    grants: int
    cost_amount: int
    currency: str
    by_rule: dict[str, int] = Field(default_factory=dict, description="Rule id to cost.")
