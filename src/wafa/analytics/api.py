"""/api/v1 analytics: a customer's insights, the business figures, segments and scores."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from wafa.analytics import service
from wafa.analytics.schemas import (
    AlsoBought,
    AtRiskRead,
    InsightsRead,
    ScorePage,
    SegmentsRead,
)
from wafa.api.deps import MayViewReports, Reader, ReadSession
from wafa.api.routing import AutoCommitRoute

router = APIRouter(tags=["analytics"], route_class=AutoCommitRoute)

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]


@router.get(
    "/customers/{customer_id}/insights",
    response_model=InsightsRead,
    summary="A customer's segment, predictions and product recommendations",
)
def customer_insights(
    customer_id: uuid.UUID,
    session: ReadSession,
    _: Reader,
    recommendations: Annotated[int, Query(ge=0, le=50)] = 10,
) -> InsightsRead:
    """Return the customer's stored scores, segment advice and recommended products.

    A merged record answers for the record it was merged into; a customer without a
    purchase yet has ``scored: false``.
    """
    return service.customer_insights(session, customer_id, recommendations=recommendations)


@router.get(
    "/analytics/summary",
    summary="Business figures of the last refresh: KPIs, cohorts, models, holdout check",
)
def analytics_summary(session: ReadSession, _: MayViewReports) -> dict[str, Any]:
    """Return the last refresh's figures; 404 ``no-analytics-yet`` before the first one."""
    return service.analytics_summary(session)


@router.get(
    "/analytics/segments",
    response_model=SegmentsRead,
    summary="RFM segments with customers, revenue, predicted value and what to do",
)
def analytics_segments(session: ReadSession, _: MayViewReports) -> SegmentsRead:
    """Return every RFM segment with its size, revenue, predicted value and advice."""
    return service.segment_summary(session)


@router.get(
    "/analytics/scores",
    response_model=ScorePage,
    summary='Stored scores, filtered (e.g. segment=at_risk, or max_p_alive=0.3 for "P(alive) < 0.3")',
)
def analytics_scores(
    session: ReadSession,
    _: MayViewReports,
    segment: str | None = None,
    churn_risk: str | None = None,
    activity: str | None = None,
    max_p_alive: Annotated[float | None, Query(ge=0, le=1)] = None,
    min_clv: Annotated[int | None, Query(ge=0, description="Minor units.")] = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> ScorePage:
    """Return a page of stored scores matching the filters, by customer id."""
    rows, next_cursor = service.list_scores(
        session,
        segment=segment,
        churn_risk=churn_risk,
        activity_state=activity,
        max_p_alive=max_p_alive,
        min_clv=min_clv,
        limit=limit,
        cursor=cursor,
    )
    return ScorePage(items=[service.score_read(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/analytics/at-risk",
    response_model=list[AtRiskRead],
    summary="Valuable customers at medium or high churn risk, most valuable first",
)
def analytics_at_risk(
    session: ReadSession, _: MayViewReports, limit: Limit = 20
) -> list[AtRiskRead]:
    """Return valuable customers whose churn risk is medium or high."""
    return service.at_risk_customers(session, limit=limit)


@router.get(
    "/products/{product_id}/also-bought",
    response_model=list[AlsoBought],
    summary="Customers who bought this product also bought",
)
def product_also_bought(
    product_id: uuid.UUID, session: ReadSession, _: Reader, limit: Limit = 10
) -> list[AlsoBought]:
    """Return the products most often bought by this product's buyers."""
    return service.also_bought(session, product_id, n=limit)
