"""``wafa analyze``: every figure of the retention report from an order export, no database.

The file is read into an in-memory DuckDB (:mod:`wafa.analytics.reading`), summarised
per customer in SQL (:func:`wafa.analytics.summary.duckdb_summary`), and the models are
fitted on the calibration period (orders up to and including ``calibration_end``, by
default the last order date); what follows is the holdout. The result is one
JSON-ready dict (:attr:`Analysis.figures`) that the HTML report renders and
``--json`` writes, plus per-customer arrays for the customer list.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt

from wafa import __version__
from wafa.analytics import at_risk, rfm
from wafa.analytics.cohorts import occasion_cohorts
from wafa.analytics.fitting import FitSettings, TimeUnit, fit_models
from wafa.analytics.holdout import (
    HoldoutData,
    evaluate,
    last_period_repeats,
    occasion_daily_repeats,
)
from wafa.analytics.predicting import Predictions, WindowForecast, predict
from wafa.analytics.reading import BadInput, InputFormat, LoadedOrders, connect, load_orders
from wafa.analytics.recommend import ItemSimilarity, evaluate_hit_rate, owned_matrix
from wafa.analytics.retention import (
    ActivityThresholds,
    activity,
    activity_counts,
    duckdb_delivery,
    gap_distribution,
    headline,
    occasion_gap_counts,
)
from wafa.analytics.summary import (
    CustomerSummary,
    Occasions,
    day_number,
    day_to_date,
    duckdb_occasions,
    duckdb_summary,
)
from wafa.core.money import minor_digits
from wafa.core.settings import CalendarKind

__all__ = ["Analysis", "AnalyzeOptions", "analyze_file"]

Progress = Callable[[str], None]

#: Valuable customers at risk listed in the report.
AT_RISK_LISTED = 25
#: Products whose "also bought" lists appear in the report.
ALSO_BOUGHT_LISTED = 15


@dataclass(frozen=True)
class AnalyzeOptions:
    """What ``wafa analyze`` was asked to do.

    Attributes
    ----------
    path : pathlib.Path
        The export.
    fmt : InputFormat
        Its layout.
    calibration_end : datetime.date or None
        Last day of the calibration period (default: the last order date).
    holdout_days : int or None
        Holdout length: without ``calibration_end`` the calibration ends this many days
        before the last order; with it, only this many days after it are evaluated.
    time_unit : TimeUnit
        Unit of time for the models.
    timezone : str
        Business timezone (calendar days are counted in it).
    calendar : CalendarKind
        Business calendar for the monthly cohorts.
    currency : str or None
        Currency to analyse (default: the file's most common).
    default_currency : str
        Currency of a file without a currency column.
    clv_months : int
        Lifetime value horizon in months.
    annual_discount_rate : float
        Yearly discount rate of future revenue.
    """

    path: Path
    fmt: InputFormat = InputFormat.generic
    calibration_end: dt.date | None = None
    holdout_days: int | None = None
    time_unit: TimeUnit = TimeUnit.week
    timezone: str = "UTC"
    calendar: CalendarKind = CalendarKind.gregorian
    currency: str | None = None
    default_currency: str = "USD"
    clv_months: int = 12
    annual_discount_rate: float = 0.10


@dataclass
class Analysis:
    """The result: JSON-ready figures and per-customer arrays.

    Attributes
    ----------
    figures : dict
        Everything the report shows (also written by ``--json``).
    summary : CustomerSummary
        Per-customer statistics up to the analysis date.
    predictions : Predictions
        Per-customer predictions, aligned with ``summary``.
    segments : numpy.ndarray
        RFM segment key per customer.
    scores : tuple of numpy.ndarray
        R, F and M scores.
    holdout : tuple or None
        With a holdout: the calibration customers' positions in ``summary``, the chosen
        method's forecast of the holdout window for each, and what they actually bought.
    timings : dict
        Seconds spent per step.
    """

    figures: dict[str, Any]
    summary: CustomerSummary
    predictions: Predictions
    segments: npt.NDArray[np.str_]
    scores: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]
    holdout: tuple[npt.NDArray[np.int64], WindowForecast, npt.NDArray[np.int64]] | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _cut_offs(options: AnalyzeOptions, first_day: int, last_day: int) -> tuple[int, int, int]:
    """Return ``(calibration_day, as_of_day, holdout_end_day)``."""
    if options.holdout_days is not None and options.holdout_days < 1:
        raise BadInput("--holdout-days must be 1 or more")
    if options.calibration_end is not None:
        cal = day_number(options.calibration_end)
        if cal < first_day:
            raise BadInput(
                f"--calibration-end {options.calibration_end.isoformat()} is before the first "
                f"order ({day_to_date(first_day).isoformat()}): nothing to fit on"
            )
        as_of = max(last_day, cal)
        hold_end = as_of if options.holdout_days is None else min(as_of, cal + options.holdout_days)
        return cal, as_of, hold_end
    if options.holdout_days is not None:
        cal = last_day - options.holdout_days
        if cal < first_day:
            raise BadInput(
                f"--holdout-days {options.holdout_days} leaves no calibration period: the "
                f"orders span only {last_day - first_day} days"
            )
        return cal, last_day, last_day
    return last_day, last_day, last_day


def _recommendations(
    con: duckdb.DuckDBPyConnection, as_of_day: int, n_customers: int
) -> dict[str, Any] | None:
    """Evaluate and describe product recommendations from ``wafa_items``.

    Customers are the codes of ``wafa_customers`` (left by the summary); a customer's
    last purchase occasion is held out for the evaluation.
    """
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE wafa_pairs AS
        SELECT c.code AS customer, o.sku,
               bool_or(o.day < c.last_day OR c.purchases = 1) AS in_train,
               bool_or(o.day = c.last_day AND c.purchases > 1) AS in_last
        FROM (
            SELECT customer_id, day, unnest(skus) AS sku
            FROM wafa_orders WHERE purchase AND day <= $as_of
        ) o
        JOIN wafa_customers c USING (customer_id)
        GROUP BY c.code, o.sku
        """,
        {"as_of": as_of_day},
    )
    skus = [
        str(r[0]) for r in con.execute("SELECT DISTINCT sku FROM wafa_pairs ORDER BY 1").fetchall()
    ]
    if len(skus) < 2:
        return None
    con.register(
        "wafa_sku_codes", {"sku": np.asarray(skus, dtype=object), "code": np.arange(len(skus))}
    )
    result = con.execute(
        "SELECT p.customer, s.code AS item, p.in_train, p.in_last "
        "FROM wafa_pairs p JOIN wafa_sku_codes s USING (sku)"
    ).fetchnumpy()
    con.unregister("wafa_sku_codes")
    customers = np.asarray(result["customer"], dtype=np.int64)
    items = np.asarray(result["item"], dtype=np.int64)
    n_items = len(skus)
    quality = evaluate_hit_rate(
        customers,
        items,
        np.asarray(result["in_train"], dtype=bool),
        np.asarray(result["in_last"], dtype=bool),
        n_customers=n_customers,
        n_items=n_items,
    )
    model = ItemSimilarity().fit(owned_matrix(customers, items, n_customers, n_items))
    top = np.argsort(-model.popularity_, kind="stable")[:ALSO_BOUGHT_LISTED]
    also = [
        {
            "sku": skus[int(i)],
            "customers": int(model.popularity_[int(i)]),
            "also_bought": [
                {"sku": skus[j], "similarity": round(score, 4), "customers_both": both}
                for j, score, both in model.also_bought(int(i), 5)
            ],
        }
        for i in top
    ]
    return {"products": n_items, "evaluation": quality.to_dict(), "also_bought": also}


def analyze_file(options: AnalyzeOptions, progress: Progress | None = None) -> Analysis:
    """Analyse an order export: summary, descriptive retention, models, holdout, RFM.

    Parameters
    ----------
    options : AnalyzeOptions
        File, format, cut-offs and settings.
    progress : callable, optional
        Called with a short description before each step.

    Returns
    -------
    Analysis
        Figures and per-customer arrays.

    Raises
    ------
    BadInput
        When the file cannot be read (the message names the line and column).
    ModelFailed
        When no purchase model can be fitted (the message says what to try).
    """
    step = progress or (lambda _message: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    con = connect()
    try:
        step("Reading the orders")
        loaded = load_orders(
            con,
            options.path,
            fmt=options.fmt,
            timezone=options.timezone,
            currency=options.currency,
            default_currency=options.default_currency,
        )
        lap("read")
        first_day, last_day = loaded.first_day, loaded.last_day
        cal_day, as_of_day, hold_end = _cut_offs(options, first_day, last_day)

        step("Summarising each customer")
        summary = duckdb_summary(
            con, as_of_day=as_of_day, calibration_day=cal_day, holdout_end_day=hold_end
        )
        lap("summary")

        step("Describing retention")
        occasions = duckdb_occasions(con, as_of_day=as_of_day)
        gaps = gap_distribution(*occasion_gap_counts(occasions))
        thresholds = ActivityThresholds.from_gaps(gaps)
        states = activity(summary, thresholds)
        cohorts = occasion_cohorts(
            occasions,
            summary.first_day,
            calendar=options.calendar,
            start_day=first_day,
            as_of_day=as_of_day,
        )
        delivery = duckdb_delivery(con) if loaded.has_delivery else None
        lap("describe")

        step("Fitting the models")
        scale = float(10 ** minor_digits(loaded.currency))
        settings = FitSettings(
            time_unit=options.time_unit,
            clv_months=options.clv_months,
            annual_discount_rate=options.annual_discount_rate,
            money_scale=scale,
        )
        calibration = summary.calibration(settings.time_unit.days)
        fitted = fit_models(calibration, settings)
        lap("fit")

        holdout: dict[str, Any] | None = None
        holdout_rows = None
        if hold_end > cal_day:
            step("Checking the forecasts against the holdout period")
            data = HoldoutData(
                days=hold_end - cal_day,
                actual=summary.holdout_purchases[calibration.index],
                daily=occasion_daily_repeats(
                    occasions, summary.first_day, calibration_day=cal_day, end_day=hold_end
                ),
                last_period=last_period_repeats(
                    occasions, summary.first_day, calibration_day=cal_day, days=hold_end - cal_day
                )[calibration.index],
            )
            result = evaluate(
                fitted, calibration, data, thresholds=_calibration_thresholds(occasions, cal_day)
            )
            holdout = result.report
            holdout_rows = (calibration.index, result.chosen, data.actual)
            lap("holdout")

        step("Predicting for every customer")
        current = summary.current(settings.time_unit.days)
        predictions = predict(fitted, current, thresholds=thresholds)
        r, f, m = rfm.rfm_scores(
            summary.as_of_day - summary.last_day, summary.purchases, summary.spend
        )
        codes = rfm.segment_codes(r, f, m)
        segments = rfm.segment_names(codes)
        lap("predict")

        recommendations = None
        if loaded.has_items:
            step("Learning which products go together")
            recommendations = _recommendations(con, as_of_day, len(summary))
            lap("recommend")
    finally:
        con.close()

    figures = _figures(
        options,
        loaded,
        summary,
        fitted_report=fitted.report(),
        warnings=[*loaded.warnings, *fitted.warnings, *predictions.warnings],
        holdout=holdout,
        predictions=predictions,
        segment_codes=codes,
        scores=(r, f, m),
        gaps=gaps,
        activity_figures=activity_counts(states, thresholds),
        cohorts=cohorts.to_dict(),
        delivery=delivery,
        recommendations=recommendations,
        cut_offs=(first_day, cal_day, as_of_day, hold_end),
        calibration_customers=int(calibration.index.shape[0]),
    )
    figures["timings"] = timings
    return Analysis(figures, summary, predictions, segments, (r, f, m), holdout_rows, timings)


def _calibration_thresholds(occasions: Occasions, cal_day: int) -> ActivityThresholds:
    """Recency bands learned from the calibration period's purchases alone."""
    keep = occasions.day <= cal_day
    early = Occasions(occasions.code[keep], occasions.day[keep], occasions.value[keep])
    return ActivityThresholds.from_gaps(gap_distribution(*occasion_gap_counts(early)))


def _figures(
    options: AnalyzeOptions,
    loaded: LoadedOrders,
    summary: CustomerSummary,
    *,
    fitted_report: dict[str, Any],
    warnings: list[str],
    holdout: dict[str, Any] | None,
    predictions: Predictions,
    segment_codes: npt.NDArray[np.int64],
    scores: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]],
    gaps: dict[str, Any],
    activity_figures: dict[str, Any],
    cohorts: dict[str, Any],
    delivery: dict[str, Any] | None,
    recommendations: dict[str, Any] | None,
    cut_offs: tuple[int, int, int, int],
    calibration_customers: int,
) -> dict[str, Any]:
    first_day, cal_day, as_of_day, hold_end = cut_offs
    r, f, m = scores
    recency = summary.as_of_day - summary.last_day
    return {
        "generator": f"wafa {__version__}",
        "file": options.path.name,
        "format": options.fmt.value,
        "currency": loaded.currency,
        "minor_digits": minor_digits(loaded.currency),
        "time_unit": options.time_unit.value,
        "timezone": options.timezone,
        "calendar": options.calendar.value,
        "first_order_date": day_to_date(first_day).isoformat(),
        "calibration_end": day_to_date(cal_day).isoformat(),
        "as_of": day_to_date(as_of_day).isoformat(),
        "customers": calibration_customers,
        "input": {
            "rows": loaded.rows,
            "orders": loaded.orders,
            "purchases": loaded.purchases,
            "cancelled": loaded.cancelled,
            "refunded": loaded.refunded,
            "partially_refunded": loaded.partially_refunded,
            "other_currency_orders": loaded.other_currency_orders,
            "guest_orders": loaded.guest_orders,
        },
        "warnings": warnings,
        "models": fitted_report,
        "holdout": holdout
        if holdout is not None
        else {
            "days": 0,
            "note": "no holdout: give --holdout-days N or a --calibration-end before the "
            "last order date to check the predictions against what happened",
        },
        "headline": headline(summary),
        "inter_purchase_days": gaps,
        "activity": activity_figures,
        "cohorts": cohorts,
        "on_time_delivery": delivery,
        "rfm": {
            "segments": rfm.segment_table(segment_codes, summary.spend, predictions.clv),
            "thresholds": {
                "recency_days": rfm.thresholds(recency, higher_is_better=False, scores=r),
                "purchases": rfm.thresholds(summary.purchases, scores=f),
                "spend": rfm.thresholds(summary.spend, scores=m),
            },
            "grid": rfm.grid(r, (f + m + 1) // 2, summary.spend),
        },
        "predictions": predictions.totals(),
        "customers_at_risk": _at_risk(summary, predictions, segment_codes),
        "at_risk_value_floor": at_risk.value_floor(
            summary.spend, headline(summary)["average_order_value"]
        ),
        "recommendations": recommendations,
        "holdout_end": day_to_date(hold_end).isoformat(),
    }


def _at_risk(
    summary: CustomerSummary, predictions: Predictions, codes: npt.NDArray[np.int64]
) -> list[dict[str, Any]]:
    """Valuable customers at risk (:mod:`wafa.analytics.at_risk`), most worth a call first."""
    floor = at_risk.value_floor(summary.spend, headline(summary)["average_order_value"])
    order = at_risk.rank(
        summary.spend, predictions.p_alive, predictions.churn_risk, floor, AT_RISK_LISTED
    )
    return [
        {
            "customer_id": str(summary.keys[i]),
            "segment": rfm.SEGMENT_KEYS[int(codes[i])],
            "purchases": int(summary.purchases[i]),
            "spend": int(summary.spend[i]),
            "last_order": day_to_date(int(summary.last_day[i])).isoformat(),
            "p_alive": None if predictions.p_alive is None else float(predictions.p_alive[i]),
            "churn_risk": str(predictions.churn_risk[i]),
            "clv": None if predictions.clv is None else round(float(predictions.clv[i])),
        }
        for i in order.tolist()
    ]


#: Columns of ``wafa analyze --customers-out`` (one row per customer).
CUSTOMER_COLUMNS = (
    "customer_id",
    "purchases",
    "spend",
    "first_order",
    "last_order",
    "segment",
    "window_days",
    "expected_purchases",
    "purchases_low",
    "purchases_high",
    "purchases_chance",
    "actual_purchases",
    "p_alive",
    "churn_risk",
    "clv",
    "clv_low",
    "clv_high",
)


def customer_rows(analysis: Analysis) -> list[list[object]]:
    """Return the rows of ``--customers-out``, in the order of :data:`CUSTOMER_COLUMNS`.

    The purchase forecast and its 90 % range cover the holdout window when there is one
    (made at the calibration end, for the customers known then, beside what they actually
    bought; empty for later customers), else the next 365 days. ``p_alive`` and the
    lifetime value (minor units, with its range) are as of the analysis date; a column
    the method does not give is empty.
    """
    s, p = analysis.summary, analysis.predictions
    n = len(s)
    got: Any = None
    if analysis.holdout is not None:
        index, forecast_, actual = analysis.holdout
        days = int(analysis.figures["holdout"]["days"])
        expected = np.full(n, np.nan)
        low = np.full(n, -1)
        high = np.full(n, -1)
        chance = np.full(n, np.nan)
        got = np.full(n, -1)
        expected[index], low[index], high[index] = forecast_.expected, forecast_.low, forecast_.high
        chance[index], got[index] = forecast_.chance, actual
    else:
        days = 365
        expected, low, high, chance = (
            p.expected["365"],
            p.low["365"],
            p.high["365"],
            p.chance["365"],
        )

    def number(values: Any, i: int, digits: int = 4) -> object:
        if values is None:
            return ""
        value = float(values[i])
        return "" if not np.isfinite(value) else round(value, digits)

    def whole(values: Any, i: int) -> object:
        if values is None:
            return ""
        value = int(values[i])
        return "" if value < 0 else value

    keys = s.key_strings()
    rows: list[list[object]] = []
    for i in range(n):
        rows.append(
            [
                keys[i],
                int(s.purchases[i]),
                int(s.spend[i]),
                day_to_date(int(s.first_day[i])).isoformat(),
                day_to_date(int(s.last_day[i])).isoformat(),
                str(analysis.segments[i]),
                days,
                number(expected, i),
                whole(low, i),
                whole(high, i),
                number(chance, i, 3),
                whole(got, i),
                number(p.p_alive, i),
                str(p.churn_risk[i]),
                "" if p.clv is None else round(float(p.clv[i])),
                "" if p.clv_low is None else round(float(p.clv_low[i])),
                "" if p.clv_high is None else round(float(p.clv_high[i])),
            ]
        )
    return rows
