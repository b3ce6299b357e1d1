"""Analytics tables: refresh runs, per-customer scores and "also bought" neighbours.

Every row here is derived from orders by ``wafa analytics refresh``
(:func:`wafa.analytics.refresh.refresh`) and is replaced wholesale by the next run, so
later features can select on it ("at risk", "champions", ``p_alive < 0.3``) without
recomputing anything.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow


class RunStatus(StrEnum):
    """Where a refresh run stands."""

    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class ChurnRisk(StrEnum):
    """Band of the probability that a customer is still a customer."""

    low = "low"
    medium = "medium"
    high = "high"
    unknown = "unknown"


class Activity(StrEnum):
    """Active, lapsed or churned by days since the last purchase (thresholds per run)."""

    active = "active"
    lapsed = "lapsed"
    churned = "churned"


class AnalyticsRun(Base):
    """One refresh: when, on what, which model won, and the business-level figures."""

    __tablename__ = "analytics_runs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.running)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    as_of: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    customers: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[str | None] = mapped_column(String(32))
    # KPIs, cohorts, segments, model parameters, holdout evaluation, warnings.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_analytics_runs_started_at", "started_at"),)


class CustomerScore(Base):
    """A customer's summary, RFM segment and predictions as of the run that wrote it.

    Money is integer minor units of ``currency``. Expected purchases are floats (a
    forecast, not money); the ``_low``/``_high`` columns are 90 % predictive ranges: where
    the actual number (or revenue) falls with 90 % probability if the model is right.
    ``p_alive`` is ``NULL`` when no model was usable (the rule of thumb gives none).

    The table is a cache that every refresh replaces wholesale (a million rows with
    ``COPY``), so it carries no foreign keys and no secondary index: their per-row
    upkeep would dominate the load, and the selections later features make ("at risk",
    ``p_alive < 0.3``) return a large share of the rows, which a scan serves as well.
    Customers are never deleted (erasure keeps the record), a merged customer's row
    disappears with the next refresh, and readers join on ``customer_id``.
    """

    __tablename__ = "analytics_customer_scores"

    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column()
    currency: Mapped[str] = mapped_column(String(3))
    first_order_on: Mapped[date] = mapped_column(Date)
    last_order_on: Mapped[date] = mapped_column(Date)
    orders: Mapped[int] = mapped_column(Integer)
    repeat_purchases: Mapped[int] = mapped_column(Integer)
    spend_amount: Mapped[int] = mapped_column(BigInteger)
    average_order_amount: Mapped[int] = mapped_column(BigInteger)
    recency_days: Mapped[int] = mapped_column(Integer)
    tenure_days: Mapped[int] = mapped_column(Integer)
    activity: Mapped[str] = mapped_column(String(16))
    r_score: Mapped[int] = mapped_column(SmallInteger)
    f_score: Mapped[int] = mapped_column(SmallInteger)
    m_score: Mapped[int] = mapped_column(SmallInteger)
    segment: Mapped[str] = mapped_column(String(32))
    p_alive: Mapped[float | None] = mapped_column(Float)
    expected_purchases_30: Mapped[float | None] = mapped_column(Float)
    expected_purchases_90: Mapped[float | None] = mapped_column(Float)
    expected_purchases_365: Mapped[float | None] = mapped_column(Float)
    # 90 % predictive ranges of the actual number of repeat purchases (whole numbers).
    expected_purchases_30_low: Mapped[float | None] = mapped_column(Float)
    expected_purchases_30_high: Mapped[float | None] = mapped_column(Float)
    expected_purchases_90_low: Mapped[float | None] = mapped_column(Float)
    expected_purchases_90_high: Mapped[float | None] = mapped_column(Float)
    expected_purchases_365_low: Mapped[float | None] = mapped_column(Float)
    expected_purchases_365_high: Mapped[float | None] = mapped_column(Float)
    next_order_on: Mapped[date | None] = mapped_column(Date)
    clv_amount: Mapped[int | None] = mapped_column(BigInteger)
    # 90 % predictive range of the revenue over the lifetime-value horizon.
    clv_low_amount: Mapped[int | None] = mapped_column(BigInteger)
    clv_high_amount: Mapped[int | None] = mapped_column(BigInteger)
    churn_risk: Mapped[str] = mapped_column(String(16))
    favourite_product_id: Mapped[uuid.UUID | None] = mapped_column()
    favourite_category: Mapped[str | None] = mapped_column(String(120))
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("r_score BETWEEN 1 AND 5", name="r_score_range"),
        CheckConstraint("f_score BETWEEN 1 AND 5", name="f_score_range"),
        CheckConstraint("m_score BETWEEN 1 AND 5", name="m_score_range"),
        CheckConstraint("p_alive IS NULL OR (p_alive >= 0 AND p_alive <= 1)", name="p_alive_range"),
    )


class ProductNeighbour(Base):
    """Customers who bought ``product`` also bought ``neighbour``, ranked by similarity."""

    __tablename__ = "analytics_product_neighbours"

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    neighbour_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    customers_both: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("analytics_runs.id", ondelete="CASCADE"), index=True
    )

    __table_args__ = (UniqueConstraint("product_id", "rank"),)
