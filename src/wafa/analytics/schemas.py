"""Typed answers of the analytics read side (money in minor units, dates as dates).

:mod:`wafa.analytics.service` returns these; the API serialises them (dates as ISO 8601)
and the dashboard renders them as they are.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from wafa.analytics.tables import AnalyticsRun

__all__ = [
    "AlsoBought",
    "AtRiskRead",
    "Dashboard",
    "ExpectedPurchases",
    "InsightsRead",
    "NamedScore",
    "ProductRecommendation",
    "ScorePage",
    "ScoreRead",
    "SegmentInfo",
    "SegmentMembers",
    "SegmentRead",
    "SegmentsRead",
]

RANGE_MEANING = (
    "90 % range for the actual number of repeat purchases, if the model is right: "
    "[low, high] whole numbers. The model can be wrong in ways no range shows; the "
    "refresh's holdout check says how it did on this shop's recent past."
)


class SegmentInfo(BaseModel):
    """A named RFM segment and what to do about it."""

    key: str = Field(description="champions, loyal, potential_loyalists, new, promising, ...")
    name: str
    description: str
    action: str = Field(description="What an owner should do about these customers.")


class ExpectedPurchases(BaseModel):
    """Expected number of repeat purchases in the coming days, with 90 % ranges."""

    next_30_days: float | None
    next_90_days: float | None
    next_365_days: float | None
    next_30_days_range: list[int] | None = Field(description=RANGE_MEANING)
    next_90_days_range: list[int] | None = Field(description=RANGE_MEANING)
    next_365_days_range: list[int] | None = Field(description=RANGE_MEANING)
    range_level: float = Field(description="Coverage of the ranges (0.9).")


class ScoreRead(BaseModel):
    """A customer's stored summary, segment and predictions, as of the last refresh."""

    customer_id: uuid.UUID
    computed_at: dt.datetime
    currency: str
    first_order_on: dt.date
    last_order_on: dt.date
    orders: int = Field(description="Purchase occasions (orders on one day count once).")
    repeat_purchases: int
    spend: int = Field(description="Net spend, minor units.")
    average_order: int = Field(description="Minor units.")
    recency_days: int
    tenure_days: int
    activity: str = Field(description="active, lapsed or churned.")
    rfm: dict[str, int]
    segment: SegmentInfo
    p_alive: float | None = Field(
        description="Probability the customer is still a customer (null when too few customers "
        "came back for a model: the stated rule of thumb gives none)."
    )
    churn_risk: str = Field(description="low, medium, high, or unknown without a model.")
    expected_purchases: ExpectedPurchases
    next_order_on: dt.date | None = Field(
        description="Expected next order (if still a customer); null when not expected."
    )
    clv: int | None = Field(
        description="Predicted revenue over the run's horizon (lifetime value), minor units; "
        "null without a forecast."
    )
    clv_range: list[int] | None = Field(
        description="90 % range for the actual revenue over the horizon, if the model is "
        "right, minor units."
    )
    favourite_product_id: uuid.UUID | None
    favourite_category: str | None
    channels: list[str]


class NamedScore(ScoreRead):
    """A stored score with the customer's name (``None`` once erased or never given)."""

    name: str | None


AtRiskRead = NamedScore


class ProductRecommendation(BaseModel):
    """A product to suggest to a customer."""

    product_id: uuid.UUID
    sku: str
    name: str
    category: str | None
    price: int = Field(description="Minor units.")
    currency: str
    score: float
    reason: str = Field(description="bought_together or popular.")


class InsightsRead(BaseModel):
    """What analytics knows about one customer."""

    customer_id: uuid.UUID
    scored: bool = Field(description="False until the customer has a purchase and a refresh ran.")
    as_of: dt.date | None
    model: str | None = Field(
        description="bgnbd, pareto_nbd or rule_of_thumb: what made the forecasts."
    )
    clv_months: int | None
    score: ScoreRead | None
    recommendations: list[ProductRecommendation]


class ScorePage(BaseModel):
    """A page of stored scores."""

    items: list[ScoreRead]
    next_cursor: str | None


class SegmentRead(SegmentInfo):
    """A segment with its size and value."""

    customers: int
    share: float
    revenue: int = Field(description="Net spend of its customers, minor units.")
    revenue_share: float
    clv: int | None = Field(description="Predicted lifetime value of its customers, minor units.")
    average_p_alive: float | None


class SegmentsRead(BaseModel):
    """Every segment, in a fixed order."""

    as_of: dt.date
    currency: str
    segments: list[SegmentRead]


class SegmentMembers(BaseModel):
    """A page of a segment's customers, most valuable first."""

    segment: SegmentInfo
    total: int
    items: list[NamedScore]
    has_more: bool


class AlsoBought(BaseModel):
    """A product often bought by the buyers of another."""

    product_id: uuid.UUID
    sku: str
    name: str
    category: str | None
    similarity: float
    customers_both: int


@dataclass(frozen=True)
class Dashboard:
    """What the analytics page shows.

    Attributes
    ----------
    run : AnalyticsRun
        The latest successful refresh.
    figures : dict
        Its business-level figures (the run's ``details``).
    segments : list of SegmentRead
        Every segment.
    at_risk : list of NamedScore
        Valuable customers at risk.
    failed : AnalyticsRun or None
        A failed refresh newer than ``run``.
    """

    run: AnalyticsRun
    figures: dict[str, Any]
    segments: list[SegmentRead]
    at_risk: list[NamedScore]
    failed: AnalyticsRun | None
