"""Analytics read side: what the dashboard, the API and the profile ask of the stored scores.

Every answer is typed (:mod:`wafa.analytics.schemas`). The stored scores change only with
a refresh (:mod:`wafa.analytics.refresh`), which makes a new run: what is read from them
over every customer (segment totals, the at-risk ranking: a scan of the whole table, most
of a second on a million customers) is kept per database and run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import desc, func, select
from sqlalchemy.orm import Session

from wafa.analytics import at_risk, rfm
from wafa.analytics.products import also_bought, recommendations_for
from wafa.analytics.schemas import (
    Dashboard,
    ExpectedPurchases,
    InsightsRead,
    NamedScore,
    ScoreRead,
    SegmentInfo,
    SegmentMembers,
    SegmentRead,
    SegmentsRead,
)
from wafa.analytics.tables import (
    AnalyticsRun,
    ChurnRisk,
    CustomerScore,
    RunStatus,
)
from wafa.core.cache import Kept
from wafa.core.db import database_key
from wafa.core.errors import Invalid, NotFound
from wafa.core.pagination import decode_cursor, encode_cursor
from wafa.customers import service as customers
from wafa.customers.models import Customer

__all__ = [
    "NoAnalyticsYet",
    "also_bought",
    "analytics_summary",
    "at_risk_customers",
    "customer_insights",
    "dashboard",
    "latest_run",
    "list_scores",
    "personal_data",
    "recommendations_for",
    "score_read",
    "segment_members",
    "segment_summary",
]

#: Coverage of the stored ranges.
RANGE_LEVEL = 0.9


class NoAnalyticsYet(NotFound):
    """No refresh has been run yet."""

    code = "no-analytics-yet"


def latest_run(session: Session) -> AnalyticsRun:
    """Return the most recent successful refresh.

    Raises
    ------
    NoAnalyticsYet
        When no refresh has succeeded yet.
    """
    run = session.scalar(
        select(AnalyticsRun)
        .where(AnalyticsRun.status == RunStatus.succeeded)
        .order_by(desc(AnalyticsRun.started_at), desc(AnalyticsRun.id))
        .limit(1)
    )
    if run is None:
        raise NoAnalyticsYet(
            "no analytics yet: run `wafa analytics refresh` (or wait for the nightly job)"
        )
    return run


def _segment_info(key: str) -> SegmentInfo:
    seg = rfm.segment(key)
    return SegmentInfo(key=seg.key, name=seg.name, description=seg.description, action=seg.action)


def _range(low: float | int | None, high: float | int | None) -> list[int] | None:
    """Return a stored range as ``[low, high]`` in whole numbers, or ``None``."""
    if low is None or high is None:
        return None
    return [round(low), round(high)]


def score_read(score: CustomerScore) -> ScoreRead:
    """Return a stored score, typed (money in minor units with its currency).

    Parameters
    ----------
    score : CustomerScore
        The row.

    Returns
    -------
    ScoreRead
        Every column, the segment's name and advice included.
    """
    return ScoreRead(**_score_fields(score))


def _score_fields(score: CustomerScore) -> dict[str, Any]:
    return {
        "customer_id": score.customer_id,
        "computed_at": score.computed_at,
        "currency": score.currency,
        "first_order_on": score.first_order_on,
        "last_order_on": score.last_order_on,
        "orders": score.orders,
        "repeat_purchases": score.repeat_purchases,
        "spend": score.spend_amount,
        "average_order": score.average_order_amount,
        "recency_days": score.recency_days,
        "tenure_days": score.tenure_days,
        "activity": score.activity,
        "rfm": {"r": score.r_score, "f": score.f_score, "m": score.m_score},
        "segment": _segment_info(score.segment),
        "p_alive": score.p_alive,
        "churn_risk": score.churn_risk,
        "expected_purchases": ExpectedPurchases(
            next_30_days=score.expected_purchases_30,
            next_90_days=score.expected_purchases_90,
            next_365_days=score.expected_purchases_365,
            next_30_days_range=_range(
                score.expected_purchases_30_low, score.expected_purchases_30_high
            ),
            next_90_days_range=_range(
                score.expected_purchases_90_low, score.expected_purchases_90_high
            ),
            next_365_days_range=_range(
                score.expected_purchases_365_low, score.expected_purchases_365_high
            ),
            range_level=RANGE_LEVEL,
        ),
        "next_order_on": score.next_order_on,
        "clv": score.clv_amount,
        "clv_range": _range(score.clv_low_amount, score.clv_high_amount),
        "favourite_product_id": score.favourite_product_id,
        "favourite_category": score.favourite_category,
        "channels": list(score.channels or []),
    }


def _named(score: CustomerScore, name: str | None) -> NamedScore:
    return NamedScore(**_score_fields(score), name=name)


def customer_insights(
    session: Session, customer_id: uuid.UUID, *, recommendations: int = 10
) -> InsightsRead:
    """Return a customer's stored scores, segment advice and product recommendations.

    A merged customer is answered for the record it was merged into. A customer with
    no purchase yet has ``scored: false``.

    Raises
    ------
    NotFound
        When there is no such customer.
    """
    customer = customers.get_live_customer(session, customer_id)
    score = session.get(CustomerScore, customer.id)
    run = session.get(AnalyticsRun, score.run_id) if score is not None else None
    return InsightsRead(
        customer_id=customer.id,
        scored=score is not None,
        as_of=run.as_of if run is not None else None,
        model=run.model if run is not None else None,
        clv_months=(run.details or {}).get("clv_months") if run is not None else None,
        score=score_read(score) if score is not None else None,
        recommendations=recommendations_for(session, customer.id, n=recommendations)
        if recommendations
        else [],
    )


def list_scores(
    session: Session,
    *,
    segment: str | None = None,
    churn_risk: str | None = None,
    activity_state: str | None = None,
    max_p_alive: float | None = None,
    min_clv: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[CustomerScore], str | None]:
    """Return a page of stored scores matching the filters, by customer id.

    Raises
    ------
    Invalid
        On an unknown segment or churn-risk band.
    """
    stmt = select(CustomerScore)
    if segment is not None:
        if segment not in rfm.SEGMENT_KEYS:
            raise Invalid.field(
                ("segment",), f"unknown segment; use one of {', '.join(rfm.SEGMENT_KEYS)}"
            )
        stmt = stmt.where(CustomerScore.segment == segment)
    if churn_risk is not None:
        if churn_risk not in {c.value for c in ChurnRisk}:
            raise Invalid.field(("churn_risk",), "use low, medium, high or unknown")
        stmt = stmt.where(CustomerScore.churn_risk == churn_risk)
    if activity_state is not None:
        stmt = stmt.where(CustomerScore.activity == activity_state)
    if max_p_alive is not None:
        stmt = stmt.where(CustomerScore.p_alive < max_p_alive)
    if min_clv is not None:
        stmt = stmt.where(CustomerScore.clv_amount >= min_clv)
    if cursor:
        stmt = stmt.where(CustomerScore.customer_id > decode_cursor(cursor))
    rows = list(session.scalars(stmt.order_by(CustomerScore.customer_id).limit(limit + 1)))
    nxt = encode_cursor(rows[limit - 1].customer_id) if len(rows) > limit else None
    return rows[:limit], nxt


def segment_summary(session: Session) -> SegmentsRead:
    """Count customers, revenue and predicted value per segment from the stored scores.

    Returns
    -------
    SegmentsRead
        ``as_of``, ``currency`` and every segment (in a fixed order) with its name,
        description, advice, ``customers``, ``revenue`` and ``clv``.

    Raises
    ------
    NoAnalyticsYet
        Before the first refresh.
    """
    run = latest_run(session)
    kept: SegmentsRead = _per_run(session, run, "segments", lambda: _segment_summary(session, run))
    return kept.model_copy(deep=True)


def _segment_summary(session: Session, run: AnalyticsRun) -> SegmentsRead:
    rows = session.execute(
        select(
            CustomerScore.segment,
            func.count(),
            func.coalesce(func.sum(CustomerScore.spend_amount), 0),
            func.sum(CustomerScore.clv_amount),
            func.avg(CustomerScore.p_alive),
        ).group_by(CustomerScore.segment)
    ).all()
    found = {key: (int(n), int(spend), clv, avg) for key, n, spend, clv, avg in rows}
    total = sum(v[0] for v in found.values()) or 1
    total_revenue = sum(v[1] for v in found.values()) or 1
    segments = []
    for seg in rfm.SEGMENTS:
        n, spend, clv, avg = found.get(seg.key, (0, 0, None, None))
        segments.append(
            SegmentRead(
                **_segment_info(seg.key).model_dump(),
                customers=n,
                share=n / total,
                revenue=spend,
                revenue_share=spend / total_revenue,
                clv=int(clv) if clv is not None else None,
                average_p_alive=float(avg) if avg is not None else None,
            )
        )
    return SegmentsRead(as_of=run.as_of, currency=run.currency, segments=segments)


def analytics_summary(session: Session) -> dict[str, Any]:
    """Return the latest refresh's business-level figures (KPIs, cohorts, models...).

    Raises
    ------
    NoAnalyticsYet
        Before the first refresh.
    """
    run = latest_run(session)
    return {
        "run_id": str(run.id),
        "as_of": run.as_of.isoformat(),
        "computed_at": run.finished_at.isoformat() if run.finished_at else None,
        "customers": run.customers,
        "model": run.model,
        **(run.details or {}),
    }


def at_risk_customers(session: Session, *, limit: int = 20) -> list[NamedScore]:
    """List valuable customers at risk, most worth a call first (:mod:`~wafa.analytics.at_risk`).

    Medium or high churn risk, spend at least the run's value floor, ranked by spend
    times ``p (1 - p)``: the same definition as the file report's.
    """
    try:
        run = latest_run(session)
    except NoAnalyticsYet:
        return []
    ranked = (
        _per_run(session, run, "at-risk", lambda: _rank_at_risk(session, run, AT_RISK_KEPT))
        if limit <= AT_RISK_KEPT
        else _rank_at_risk(session, run, limit)
    )[:limit]
    if not ranked:
        return []
    rows = session.execute(
        select(CustomerScore, Customer.name)
        .join(Customer, Customer.id == CustomerScore.customer_id)
        .where(CustomerScore.customer_id.in_(ranked))
    ).all()
    found = {score.customer_id: (score, name) for score, name in rows}
    return [_named(*found[i]) for i in ranked if i in found]


def _rank_at_risk(session: Session, run: AnalyticsRun, limit: int) -> list[uuid.UUID]:
    floor = int((run.details or {}).get("at_risk_value_floor") or 1)
    value = CustomerScore.spend_amount
    return list(
        session.scalars(
            select(CustomerScore.customer_id)
            .where(
                CustomerScore.churn_risk.in_(at_risk.AT_RISK_BANDS),
                CustomerScore.spend_amount >= floor,
            )
            .order_by(
                desc(at_risk.rank_expression(value, CustomerScore.p_alive)),
                desc(value),
                CustomerScore.customer_id,
            )
            .limit(limit)
        )
    )


# The stored scores change only with a refresh, which makes a new run: what is read from
# them over every customer (segment totals, the at-risk ranking: a scan of the whole
# table, most of a second on a million customers) is kept per database and run.
AT_RISK_KEPT = 200
PER_RUN: Kept[Any] = Kept("analytics-per-run")


def _per_run(session: Session, run: AnalyticsRun, name: str, compute: Callable[[], Any]) -> Any:
    database = database_key(session)
    if database is None:
        return compute()
    value = PER_RUN.get_or_compute((database, run.id, name), compute)
    # An earlier run's figures are useless now.
    PER_RUN.drop(lambda key: isinstance(key, tuple) and key[0] == database and key[1] != run.id)
    return value


def personal_data(session: Session, customer_id: uuid.UUID) -> dict[str, Any]:
    """Return what analytics holds on one person, for their data export (GDPR Art. 15).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Database session.
    customer_id : uuid.UUID
        The customer.

    Returns
    -------
    dict
        ``scores``: the stored scores and predictions (``None`` when not scored).
    """
    score = session.get(CustomerScore, customer_id)
    return {"scores": score_read(score).model_dump(mode="json") if score is not None else None}


def dashboard(session: Session, *, at_risk: int = 20) -> Dashboard | None:
    """Gather what the analytics page shows; ``None`` before the first refresh.

    Returns
    -------
    Dashboard or None
        The latest successful refresh, its figures, the segments, valuable customers
        at risk, and a failed refresh newer than it, if any.
    """
    try:
        run = latest_run(session)
    except NoAnalyticsYet:
        return None
    failed = session.scalar(
        select(AnalyticsRun)
        .where(AnalyticsRun.status == RunStatus.failed, AnalyticsRun.started_at > run.started_at)
        .order_by(desc(AnalyticsRun.started_at))
        .limit(1)
    )
    return Dashboard(
        run=run,
        figures=run.details or {},
        segments=segment_summary(session).segments,
        at_risk=at_risk_customers(session, limit=at_risk),
        failed=failed,
    )


def segment_members(
    session: Session, segment_key: str, *, limit: int = 50, offset: int = 0
) -> SegmentMembers:
    """List a segment's customers, most valuable first, with names.

    Raises
    ------
    NotFound
        On an unknown segment.
    """
    if segment_key not in rfm.SEGMENT_KEYS:
        raise NotFound(f"no segment {segment_key!r}")
    value = func.coalesce(CustomerScore.clv_amount, CustomerScore.spend_amount)
    rows = session.execute(
        select(CustomerScore, Customer.name)
        .join(Customer, Customer.id == CustomerScore.customer_id)
        .where(CustomerScore.segment == segment_key)
        .order_by(desc(value), CustomerScore.customer_id)
        .limit(limit + 1)
        .offset(offset)
    ).all()
    total = session.scalar(
        select(func.count()).select_from(CustomerScore).where(CustomerScore.segment == segment_key)
    )
    return SegmentMembers(
        segment=_segment_info(segment_key),
        total=int(total or 0),
        items=[_named(score, name) for score, name in rows[:limit]],
        has_more=len(rows) > limit,
    )
