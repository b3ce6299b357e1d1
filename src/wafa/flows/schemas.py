"""What the flows API reads and writes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FlowRead(BaseModel):
    key: str
    name: str
    description: str | None
    enabled: bool
    kind: str
    holdout_percent: int
    conversion_days: int
    preset: bool
    version: int
    definition: dict[str, Any]


class FlowUpdate(BaseModel):
    """Switch a flow, or change it (each field optional)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    holdout_percent: int | None = None
    conversion_days: int | None = None
    definition: dict[str, Any] | None = None


class ComparisonRead(BaseModel):
    recipients: float
    holdout: float | None
    difference: float | None
    low: float | None
    high: float | None


class LiftRead(BaseModel):
    days: int
    currency: str
    pending: int
    recipients: int
    holdout: int
    conversion: ComparisonRead
    orders: ComparisonRead
    revenue: ComparisonRead
    method: str


class FlowReport(BaseModel):
    flow: FlowRead
    entered: int
    active: int
    done: int
    exited: int
    held_out: int
    steps: dict[str, dict[str, int]]
    waiting: dict[str, int]
    lift: LiftRead
