"""One analytics pipeline, with a source for a shop's database and one for an export file.

``wafa analytics refresh`` (:mod:`wafa.analytics.refresh`) and ``wafa analyze``
(:mod:`wafa.analytics.analyze`) compute the same figures the same way: only where the
orders come from differs, behind :class:`Source`. The steps:

1. the per-customer summary at the cut-offs (:class:`Cutoffs`), from the source;
2. the descriptive figures: gaps between purchases, the recency bands (active, lapsed,
   churned), monthly cohorts, on-time delivery;
3. the models, fitted on the calibration period; with a holdout period, the forecasts
   of the holdout window are checked against what happened (:mod:`wafa.analytics.holdout`),
   and with ``refit`` (a refresh) the models are then fitted again on the whole history;
4. every customer's forecast with its ranges (:mod:`wafa.analytics.predicting`);
5. RFM scores and segments (:mod:`wafa.analytics.rfm`);
6. the figures both show (:func:`figures`), valuable customers at risk included
   (:mod:`wafa.analytics.at_risk`).

Products (recommendations) and what is kept afterwards (the report, the stored scores)
stay with each face.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from wafa.analytics import at_risk, rfm
from wafa.analytics.cohorts import CohortMatrix, occasion_cohorts
from wafa.analytics.fitting import FitSettings, Fitted, ModelFailed, fit_models
from wafa.analytics.holdout import (
    HoldoutData,
    evaluate,
    last_period_repeats,
    occasion_daily_repeats,
)
from wafa.analytics.predicting import Predictions, predict
from wafa.analytics.retention import (
    ActivityThresholds,
    activity,
    activity_counts,
    gap_distribution,
    headline,
    occasion_gap_counts,
)
from wafa.analytics.simple_rules import WindowForecast
from wafa.analytics.summary import CustomerSummary, Occasions, RFMArrays, day_to_date
from wafa.core.settings import CalendarKind

__all__ = [
    "CLV_BANDS",
    "HOLDOUT_SAMPLE",
    "Cutoffs",
    "Result",
    "Source",
    "Timer",
    "clv_distribution",
    "figures",
    "run",
]

IntArray = npt.NDArray[np.int64]

#: Above this many customers, a holdout check that only validates (``refit``) is made on
#: a random sample of them (the final fit uses all).
HOLDOUT_SAMPLE = 200_000
#: Lifetime value bands, in multiples of the average order.
CLV_BANDS = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)


class Source(Protocol):
    """Where the orders come from: per-customer summaries, purchase occasions, delivery."""

    def summary(
        self, *, as_of_day: int, calibration_day: int, holdout_end_day: int
    ) -> CustomerSummary:
        """Return every customer's summary (see :class:`CustomerSummary`)."""
        ...

    def occasions(self, summary: CustomerSummary, *, as_of_day: int) -> Occasions:
        """Return every purchase occasion, by the summary's customer codes and day."""
        ...

    def delivery(self) -> dict[str, Any] | None:
        """Return the on-time delivery figures, or ``None`` when the source has none."""
        ...


@dataclass(frozen=True)
class Cutoffs:
    """The days that split the history (days since 1970-01-01).

    Attributes
    ----------
    first_day : int
        First purchase of the store.
    calibration_day : int
        Last day the models learn from.
    holdout_end_day : int
        End of the holdout window ``(calibration_day, holdout_end_day]``.
    as_of_day : int
        The day the figures are "as of".
    refit : bool
        After a holdout check, fit the models again on everything up to ``as_of_day``
        (a refresh); otherwise the calibration fit makes the forecasts (``wafa analyze``,
        whose calibration end is the user's choice).
    """

    first_day: int
    calibration_day: int
    holdout_end_day: int
    as_of_day: int
    refit: bool

    @property
    def has_holdout(self) -> bool:
        """Whether there is a window to check the forecasts on."""
        return self.holdout_end_day > self.calibration_day


class Timer:
    """Seconds per step (wall and the process's CPU), and a progress callback per step."""

    def __init__(
        self,
        progress: Callable[[str], None] | None = None,
        *,
        started: tuple[float, float] | None = None,
    ) -> None:
        """Start the clocks now, or at ``started`` (``perf_counter()``, ``process_time()``)."""
        self.progress = progress or (lambda _message: None)
        self.timings: dict[str, float] = {}
        #: CPU seconds of the whole process (every thread) per step: on a shared machine
        #: the wall clock mostly measures the neighbours.
        self.cpu_timings: dict[str, float] = {}
        self._clock, self._cpu = started or (time.perf_counter(), time.process_time())

    def step(self, message: str) -> None:
        """Tell the user what comes next."""
        self.progress(message)

    def lap(self, name: str) -> None:
        """Record the time since the last lap under ``name``."""
        now, cpu = time.perf_counter(), time.process_time()
        self.timings[name] = round(now - self._clock, 3)
        self.cpu_timings[name] = round(cpu - self._cpu, 3)
        self._clock, self._cpu = now, cpu


@dataclass
class Result:
    """Everything the pipeline computed, for the faces to show or store."""

    cutoffs: Cutoffs
    summary: CustomerSummary
    occasions: Occasions
    gaps: dict[str, Any]
    thresholds: ActivityThresholds
    states: npt.NDArray[np.str_]
    cohorts: CohortMatrix
    delivery: dict[str, Any] | None
    settings: FitSettings
    fitted: Fitted | None
    predictions: Predictions | None
    holdout: dict[str, Any] | None
    #: With a holdout: calibration customers' positions, the chosen method's forecast
    #: of the window for each, and what they actually bought.
    holdout_rows: tuple[IntArray, WindowForecast, IntArray] | None
    calibration_customers: int
    scores: tuple[IntArray, IntArray, IntArray]
    codes: IntArray
    segments: npt.NDArray[np.str_]
    #: The RFM figures that need no prediction: ``thresholds`` and ``grid``.
    rfm_figures: dict[str, Any]
    #: The headline, the customers per activity state and the at-risk value floor (of
    #: :func:`figures`; they need no prediction either).
    described: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def run(
    source: Source,
    cutoffs: Cutoffs,
    settings: FitSettings,
    *,
    calendar: CalendarKind,
    timer: Timer,
    forecast_required: bool,
    on_fitted: Callable[[], None] | None = None,
) -> Result:
    """Run the pipeline on a source.

    Parameters
    ----------
    source : Source
        The orders.
    cutoffs : Cutoffs
        Calibration, holdout and as-of days.
    settings : FitSettings
        Time unit, value horizon, discount, currency scale.
    calendar : CalendarKind
        Calendar of the monthly cohorts.
    timer : Timer
        Progress and timings.
    forecast_required : bool
        Raise :class:`ModelFailed` when no forecast can be made (``wafa analyze``);
        otherwise say so in the warnings and carry on with the other figures (a refresh).
    on_fitted : callable, optional
        Called once when the models that make the forecasts are fitted, or have failed,
        before the forecasts are made, from the thread that fitted them. Without a
        holdout that is a thread beside the descriptive figures: ``wafa analyze`` starts
        its recommendations then, so that they share the processor with the forecasts
        rather than slow the fit, which every later step waits for.

    Returns
    -------
    Result
        The figures' ingredients.
    """
    c = cutoffs
    timer.step("Summarising each customer")
    summary = source.summary(
        as_of_day=c.as_of_day, calibration_day=c.calibration_day, holdout_end_day=c.holdout_end_day
    )
    timer.lap("summary")
    unit = settings.time_unit.days
    # Without a holdout the models and their forecasts need only the summary: they are
    # made in a thread beside the descriptive figures (NumPy and SciPy release the GIL
    # for most of that work), from the same inputs, so they are the same.
    pool: ThreadPoolExecutor | None = None
    early_fit: Future[tuple[Fitted, Predictions | None]] | None = None
    if not c.has_holdout:
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wafa-models")
        early_fit = pool.submit(_fit_and_predict, summary.current(unit), settings, on_fitted)
        on_fitted = None
    try:
        return _after_summary(
            source,
            summary,
            c,
            settings,
            calendar,
            timer,
            early_fit,
            forecast_required=forecast_required,
            on_fitted=on_fitted,
        )
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


def _after_summary(
    source: Source,
    summary: CustomerSummary,
    c: Cutoffs,
    settings: FitSettings,
    calendar: CalendarKind,
    timer: Timer,
    early_fit: Future[tuple[Fitted, Predictions | None]] | None,
    *,
    forecast_required: bool,
    on_fitted: Callable[[], None] | None,
) -> Result:
    """Run the steps after the summary (``early_fit``: the models started then).

    ``on_fitted`` as in :func:`run`, when ``early_fit`` does not call it.
    """
    timer.step("Describing retention")
    occasions = source.occasions(summary, as_of_day=c.as_of_day)
    # The source's last query: from here a file source may learn the products in the
    # background (at once, or once ``on_fitted`` is called).
    delivery = source.delivery()
    gaps = gap_distribution(*occasion_gap_counts(occasions))
    thresholds = ActivityThresholds.from_gaps(gaps)
    states = activity(summary, thresholds)
    cohorts = occasion_cohorts(
        occasions,
        summary.first_day,
        calendar=calendar,
        start_day=c.first_day,
        as_of_day=c.as_of_day,
    )
    # RFM needs only the summary: done here, while the models (started after the
    # summary) may still be fitting, rather than after them.
    r, f, m = rfm.rfm_scores(summary.as_of_day - summary.last_day, summary.purchases, summary.spend)
    codes = rfm.segment_codes(r, f, m)
    segments = rfm.segment_names(codes)
    rfm_figures = _rfm_figures(summary, (r, f, m))
    described = _described(summary, states, thresholds)
    timer.lap("describe")

    timer.step("Fitting the models")
    warnings: list[str] = []
    unit = settings.time_unit.days
    calibration = summary.calibration(unit)
    calibration_customers = int(calibration.index.shape[0])
    fitted: Fitted | None = None
    early: Predictions | None = None
    holdout: dict[str, Any] | None = None
    holdout_rows = None
    try:
        if c.has_holdout:
            try:
                holdout, holdout_rows, cal_fit = _holdout(
                    summary, occasions, calibration, settings, c, timer
                )
                fitted = None if c.refit else cal_fit
            except ModelFailed as exc:
                if forecast_required or not c.refit:
                    raise
                warnings.append(f"The holdout check was skipped: {exc.detail}")
        if fitted is None:
            try:
                if early_fit is not None:
                    fitted, early = early_fit.result()
                else:
                    fitted = fit_models(summary.current(unit), settings)
            except ModelFailed as exc:
                if forecast_required:
                    raise
                warnings.append(
                    "No predictions yet: "
                    + exc.detail
                    + " Segments and the other figures are ready."
                )
            timer.lap("fit")
    finally:
        if on_fitted is not None:
            on_fitted()

    predictions: Predictions | None = None
    timer.step("Predicting for every customer")
    if fitted is not None:
        predictions = (
            early
            if early is not None
            else predict(fitted, summary.current(unit), thresholds=thresholds)
        )
        warnings.extend(fitted.warnings)
        warnings.extend(predictions.warnings)
    timer.lap("predict")
    return Result(
        cutoffs=c,
        summary=summary,
        occasions=occasions,
        gaps=gaps,
        thresholds=thresholds,
        states=states,
        cohorts=cohorts,
        delivery=delivery,
        settings=settings,
        fitted=fitted,
        predictions=predictions,
        holdout=holdout,
        holdout_rows=holdout_rows,
        calibration_customers=calibration_customers,
        scores=(r, f, m),
        codes=codes,
        segments=segments,
        rfm_figures=rfm_figures,
        described=described,
        warnings=warnings,
    )


def _rfm_figures(
    summary: CustomerSummary, scores: tuple[IntArray, IntArray, IntArray]
) -> dict[str, Any]:
    """Return the RFM thresholds and grid of :func:`figures` (they need no prediction)."""
    s = summary
    r, f, m = scores
    return {
        "thresholds": {
            "recency_days": rfm.thresholds(
                s.as_of_day - s.last_day, higher_is_better=False, scores=r
            ),
            "purchases": rfm.thresholds(s.purchases, scores=f),
            "spend": rfm.thresholds(s.spend, scores=m),
        },
        "grid": rfm.grid(r, (f + m + 1) // 2, s.spend),
    }


def _described(
    summary: CustomerSummary, states: npt.NDArray[np.str_], thresholds: ActivityThresholds
) -> dict[str, Any]:
    """Return the figures of :func:`figures` that need only the description.

    Made before the pipeline waits for the models (which may still be fitting in their
    thread), not after the forecasts, when everything else waits for them.
    """
    top = headline(summary)
    return {
        "headline": top,
        "activity": activity_counts(states, thresholds),
        "at_risk_value_floor": at_risk.value_floor(summary.spend, top["average_order_value"]),
    }


def _fit_and_predict(
    current: RFMArrays, settings: FitSettings, on_fitted: Callable[[], None] | None = None
) -> tuple[Fitted, Predictions | None]:
    """Fit the models and forecast with the chosen one (``None``: no model is usable).

    The rule of thumb that stands in for an unusable model needs the recency bands of
    the descriptive step, so it is left to the caller. ``on_fitted`` as in :func:`run`.
    """
    try:
        fitted = fit_models(current, settings)
    finally:
        if on_fitted is not None:
            on_fitted()
    if fitted.chosen is None:
        return fitted, None
    return fitted, predict(fitted, current, thresholds=None)


def _holdout(
    summary: CustomerSummary,
    occasions: Occasions,
    calibration: RFMArrays,
    settings: FitSettings,
    c: Cutoffs,
    timer: Timer,
) -> tuple[dict[str, Any] | None, tuple[IntArray, WindowForecast, IntArray] | None, Fitted]:
    """Fit on the calibration period and check the forecasts of the holdout window.

    When the check only validates (``refit``) and the store is large, it is made on a
    seeded random sample of :data:`HOLDOUT_SAMPLE` customers: the same data give the same
    figures.
    """
    sampled = calibration
    if c.refit and calibration.index.shape[0] > HOLDOUT_SAMPLE:
        rng = np.random.default_rng(settings.random_state)
        keep = np.sort(rng.choice(calibration.index.shape[0], size=HOLDOUT_SAMPLE, replace=False))
        sampled = RFMArrays(
            index=calibration.index[keep],
            frequency=calibration.frequency[keep],
            recency=calibration.recency[keep],
            T=calibration.T[keep],
            monetary=calibration.monetary[keep],
        )
    in_sample = np.zeros(len(summary), dtype=bool)
    in_sample[sampled.index] = True
    mine = occasions.where(in_sample[occasions.code])
    cal_fit = fit_models(sampled, settings)
    timer.lap("fit")
    timer.step("Checking the forecasts against the holdout period")
    days = c.holdout_end_day - c.calibration_day
    data = HoldoutData(
        days=days,
        actual=summary.holdout_purchases[sampled.index],
        daily=occasion_daily_repeats(
            mine, summary.first_day, calibration_day=c.calibration_day, end_day=c.holdout_end_day
        ),
        last_period=last_period_repeats(
            mine, summary.first_day, calibration_day=c.calibration_day, days=days
        )[sampled.index],
    )
    early = occasions.where(occasions.day <= c.calibration_day)
    thresholds = ActivityThresholds.from_gaps(gap_distribution(*occasion_gap_counts(early)))
    result = evaluate(cal_fit, sampled, data, thresholds=thresholds)
    report = result.report
    if sampled is not calibration:
        report["sampled_customers"] = int(sampled.index.shape[0])
    timer.lap("holdout")
    return report, (sampled.index, result.chosen, data.actual), cal_fit


def clv_distribution(clv: npt.NDArray[np.float64], average_order: int) -> list[dict[str, Any]]:
    """Count customers and predicted value by lifetime-value band.

    Bands are multiples of the average order value (under half an order, half to one
    order, one to two...), which an owner reads more easily than raw amounts.

    Parameters
    ----------
    clv : numpy.ndarray
        Predicted lifetime value per customer, minor units.
    average_order : int
        Average order value, minor units.

    Returns
    -------
    list of dict
        ``from`` and ``to`` (minor units; ``to`` is ``None`` for the last band),
        ``orders_from``/``orders_to`` (the multiples), ``customers`` and ``value``.
    """
    unit = max(int(average_order), 1)
    edges = [round(m * unit) for m in CLV_BANDS]
    out = []
    for i, low in enumerate(edges):
        high = edges[i + 1] if i + 1 < len(edges) else None
        mask = clv >= low if high is None else (clv >= low) & (clv < high)
        out.append(
            {
                "from": low,
                "to": high,
                "orders_from": CLV_BANDS[i],
                "orders_to": CLV_BANDS[i + 1] if i + 1 < len(CLV_BANDS) else None,
                "customers": int(np.count_nonzero(mask)),
                "value": round(float(clv[mask].sum())),
            }
        )
    return out


def figures(result: Result, *, max_cohorts: int | None = None) -> dict[str, Any]:
    """Return the figures that the report, the dashboard and the API all show.

    Parameters
    ----------
    result : Result
        The pipeline's output.
    max_cohorts : int, optional
        Keep only the latest cohorts (a refresh stores a bounded number).

    Returns
    -------
    dict
        JSON-ready: headline, activity, gaps, cohorts, delivery, RFM, predictions and
        their ranges, lifetime-value bands, models, holdout check, the at-risk value
        floor, dates and warnings.
    """
    s, p, c = result.summary, result.predictions, result.cutoffs
    described = result.described
    top = described["headline"]
    return {
        "first_order_date": day_to_date(c.first_day).isoformat(),
        "calibration_end": day_to_date(c.calibration_day).isoformat(),
        "as_of": day_to_date(c.as_of_day).isoformat(),
        "holdout_end": day_to_date(c.holdout_end_day).isoformat(),
        "time_unit": result.settings.time_unit.value,
        "clv_months": result.settings.clv_months,
        "annual_discount_rate": result.settings.annual_discount_rate,
        "warnings": result.warnings,
        "headline": top,
        "activity": described["activity"],
        "inter_purchase_days": result.gaps,
        "cohorts": result.cohorts.to_dict(max_cohorts=max_cohorts),
        "on_time_delivery": result.delivery,
        "rfm": {
            "segments": rfm.segment_table(result.codes, s.spend, None if p is None else p.clv),
            **result.rfm_figures,
        },
        "predictions": None if p is None else p.totals(),
        "clv_distribution": None
        if p is None or p.clv is None
        else clv_distribution(p.clv, top["average_order_value"]),
        "models": None if result.fitted is None else result.fitted.report(),
        "holdout": result.holdout
        if result.holdout is not None
        else {
            "days": 0,
            "note": "no holdout: the forecasts are not checked against what happened "
            "(a longer history, --holdout-days N or a --calibration-end before the last "
            "order gives one)",
        },
        "at_risk_value_floor": described["at_risk_value_floor"],
    }
