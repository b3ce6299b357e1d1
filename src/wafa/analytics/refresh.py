"""Refresh the stored scores: the analytics pipeline on the shop's own database.

:func:`refresh` recomputes everything from the orders in one transaction and replaces
the stored per-customer scores (:class:`~wafa.analytics.tables.CustomerScore`) and "also
bought" lists wholesale, so a failure leaves the previous refresh in place and a reader
never sees half a refresh. The computation is :mod:`wafa.analytics.pipeline`'s, the same
as ``wafa analyze``'s, with :class:`DatabaseSource` as its source.

Both purchase models are fitted on the whole history and the usable one with the higher
log-likelihood makes the forecasts (:mod:`wafa.analytics.fitting`). When the history is
long enough, the last quarter of it (4 weeks to 6 months) is also held out to *validate*
the forecasts: the models are fitted on what precedes it, and each one's forecast and 90 %
range for the holdout window are compared with what happened (the choice is never made
on it). Predictions are "as of" the business's today (or ``as_of``), in its timezone.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from wafa.analytics import pipeline, products
from wafa.analytics.fitting import FitSettings, TimeUnit
from wafa.analytics.retention import db_delivery
from wafa.analytics.scores import store_scores
from wafa.analytics.sqlfetch import KeyIndex
from wafa.analytics.summary import (
    CustomerSummary,
    Occasions,
    day_number,
    day_to_date,
    db_occasions,
    db_summary,
    purchases_filter,
)
from wafa.analytics.tables import AnalyticsRun, CustomerScore, ProductNeighbour, RunStatus
from wafa.core.calendars import local_date
from wafa.core.db import dialect_name
from wafa.core.errors import Invalid
from wafa.core.ids import new_id
from wafa.core.money import minor_digits
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.orders.models import Order

__all__ = ["DatabaseSource", "RefreshOptions", "record_failed_run", "refresh"]

#: Histories shorter than this are not split for a holdout check.
HOLDOUT_MIN_SPAN_DAYS = 120
#: Cohorts kept in a run's details.
COHORTS_KEPT = 36

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RefreshOptions:
    """How a refresh computes.

    Attributes
    ----------
    as_of : datetime.date or None
        The day the analysis is "as of" (default: today in the business's timezone).
    time_unit : TimeUnit
        Unit of time for the models.
    clv_months : int
        Lifetime value horizon in months.
    annual_discount_rate : float
        Yearly discount rate of future revenue.
    holdout_days : int or None
        Days held out to check the forecasts (``None``: a quarter of the history, 28 to
        180 days, when it spans at least 120 days; 0: no holdout).
    recommendations : bool
        Learn "also bought" lists and evaluate recommendations.
    """

    as_of: dt.date | None = None
    time_unit: TimeUnit = TimeUnit.week
    clv_months: int = 12
    annual_discount_rate: float = 0.10
    holdout_days: int | None = None
    recommendations: bool = True


class DatabaseSource:
    """The pipeline's source for the shop's own orders (SQLite or PostgreSQL)."""

    def __init__(self, session: Session, *, zone: str, currency: str) -> None:
        self.session = session
        self.zone = zone
        self.currency = currency
        #: Each customer's sales channels (bits of ``CHANNEL_FLAGS``), set by ``occasions``.
        self.channel_masks: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)

    def summary(
        self, *, as_of_day: int, calibration_day: int, holdout_end_day: int
    ) -> CustomerSummary:
        """Return every customer's summary from one SQL ``GROUP BY``."""
        return db_summary(
            self.session,
            zone=self.zone,
            currency=self.currency,
            as_of_day=as_of_day,
            calibration_day=calibration_day,
            holdout_end_day=holdout_end_day,
        )

    def occasions(self, summary: CustomerSummary, *, as_of_day: int) -> Occasions:
        """Return every purchase occasion, keeping each customer's channels aside."""
        occasions, self.channel_masks = db_occasions(
            self.session, summary.keys, zone=self.zone, currency=self.currency, as_of_day=as_of_day
        )
        return occasions

    def delivery(self) -> dict[str, Any] | None:
        """Return on-time delivery of the orders that carried a promised date."""
        return db_delivery(self.session, currency=self.currency)


def _lock(session: Session) -> None:
    """Serialise refreshes: on PostgreSQL a transaction-scoped advisory lock.

    On SQLite the write transaction (``BEGIN IMMEDIATE``) already serialises writers.
    PostgreSQL also gets, for this transaction only, room to hash a few million rows in
    memory rather than on disk, and no JIT compilation (it costs more than it saves on
    these one-off queries).
    """
    if dialect_name(session) == "postgresql":
        key = zlib.crc32(b"wafa.analytics.refresh")
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        session.execute(text("SET LOCAL work_mem = '128MB'"))
        session.execute(text("SET LOCAL jit = off"))


def _first_purchase_day(session: Session, zone: str, currency: str, as_of_day: int) -> int | None:
    first = session.scalar(select(func.min(Order.placed_at)).where(purchases_filter(currency)))
    if first is None:
        return None
    day = day_number(local_date(first, ZoneInfo(zone)))
    return day if day <= as_of_day else None


def _holdout_days(options: RefreshOptions, span: int) -> int:
    if options.holdout_days is not None:
        if options.holdout_days < 0:
            raise Invalid.field(("holdout_days",), "must be 0 or more")
        return min(options.holdout_days, max(span - 1, 0))
    if span < HOLDOUT_MIN_SPAN_DAYS:
        return 0
    return int(min(max(span // 4, 28), 180))


def refresh(
    session: Session,
    *,
    settings: Settings,
    options: RefreshOptions | None = None,
    progress: Progress | None = None,
) -> AnalyticsRun:
    """Recompute every customer's scores, segments and predictions, and store them.

    Everything happens in the caller's transaction: the previous scores are replaced
    only when the whole refresh succeeds. Refreshes never run concurrently (an advisory
    lock on PostgreSQL; the write lock on SQLite). A store with too little history for
    the models still gets its RFM segments and descriptive figures, with a warning in
    the run's details, and ``NULL`` predictions.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        A write session.
    settings : Settings
        Business currency, timezone and calendar.
    options : RefreshOptions, optional
        As-of date, time unit, CLV horizon and discount rate, holdout.
    progress : callable, optional
        Called with a short description before each step.

    Returns
    -------
    AnalyticsRun
        The succeeded run (its ``details`` hold the business-level figures).
    """
    options = options or RefreshOptions()
    timer = pipeline.Timer(progress)
    _lock(session)
    now = utcnow()
    zone, currency = settings.timezone, settings.currency
    as_of = options.as_of or local_date(now, settings.zone)
    as_of_day = day_number(as_of)
    run = AnalyticsRun(
        id=new_id(),
        status=RunStatus.running,
        started_at=now,
        as_of=as_of,
        currency=currency,
        customers=0,
        details={},
    )
    session.add(run)
    session.flush()

    first_day = _first_purchase_day(session, zone, currency, as_of_day)
    if first_day is None:
        session.execute(delete(CustomerScore))
        session.execute(delete(ProductNeighbour))
        run.status = RunStatus.succeeded
        run.finished_at = utcnow()
        run.details = {
            "as_of": as_of.isoformat(),
            "warnings": [f"No purchases in {currency} yet: nothing to analyse."],
            "headline": {"customers": 0},
        }
        session.flush()
        return run
    holdout_days = _holdout_days(options, as_of_day - first_day)
    cal_day = as_of_day - holdout_days
    fit_settings = FitSettings(
        time_unit=options.time_unit,
        clv_months=options.clv_months,
        annual_discount_rate=options.annual_discount_rate,
        money_scale=float(10 ** minor_digits(currency)),
    )
    source = DatabaseSource(session, zone=zone, currency=currency)
    result = pipeline.run(
        source,
        pipeline.Cutoffs(first_day, cal_day, as_of_day, as_of_day, refit=True),
        fit_settings,
        calendar=settings.calendar,
        timer=timer,
        forecast_required=False,
    )
    summary = result.summary

    timer.step("Learning which products go together")
    pairs = products.product_pairs(
        session, summary, KeyIndex(summary.keys), zone=zone, currency=currency
    )
    favourites = products.favourites(pairs, len(summary))
    recommendations = (
        products.store_neighbours(session, run, pairs, len(summary))
        if options.recommendations
        else None
    )
    timer.lap("recommend")

    timer.step("Storing the scores")
    store_scores(
        session,
        run,
        summary,
        currency=currency,
        scores=result.scores,
        segments=result.segments,
        states=result.states,
        predictions=result.predictions,
        channel_masks=source.channel_masks,
        favourites=favourites,
        product_ids=pairs.ids,
        computed_at=now,
    )
    timer.lap("store")

    run.customers = len(summary)
    run.model = result.predictions.method if result.predictions is not None else None
    figures = pipeline.figures(result, max_cohorts=COHORTS_KEPT)
    run.details = _clean(
        {
            **figures,
            "first_order_date": day_to_date(first_day).isoformat(),
            "currency": currency,
            "minor_digits": minor_digits(currency),
            "timezone": zone,
            "calendar": settings.calendar.value,
            "holdout": result.holdout if result.holdout is not None else {"days": 0},
            "recommendations": recommendations,
            "timings": timer.timings,
        }
    )
    run.status = RunStatus.succeeded
    run.finished_at = utcnow()
    session.flush()
    return run


def record_failed_run(session: Session, *, settings: Settings, error: str) -> AnalyticsRun:
    """Record that a refresh failed (in its own transaction, after the refresh rolled back).

    The previous scores stay in place; the dashboard shows when the last refresh failed
    and why.
    """
    now = utcnow()
    run = AnalyticsRun(
        id=new_id(),
        status=RunStatus.failed,
        started_at=now,
        finished_at=now,
        as_of=local_date(now, settings.zone),
        currency=settings.currency,
        customers=0,
        details={},
        error=error[:2000],
    )
    session.add(run)
    session.flush()
    return run


def _clean(value: Any) -> Any:
    """JSON-ready data: NumPy scalars to Python, non-finite floats to ``None``."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
