"""Calibration/holdout validation: each method's forecast and range against what happened.

The models are fitted, and one is chosen, on the calibration period alone
(:func:`wafa.analytics.fitting.fit_models`); this module never changes that choice. For
each customer known by the end of the calibration period it compares the repeat
purchases made *in the holdout period* with

* each fitted model's forecast for the holdout window and its 90 % predictive range
  (per customer, and for the store total: is the actual inside?);
* the rule of thumb used when no model is usable (:mod:`wafa.analytics.predicting`);
* two baselines: **naive**, each customer keeps buying at their calibration pace
  ``x / T`` (0 for one-time buyers), with a Poisson range; and **same as last period**,
  each customer repeats the number of repeat purchases they made in the equally long
  period just before the calibration end (a point forecast, often the harder yardstick);

per customer (mean absolute error, RMSE), by calibration frequency bucket, and as a
cumulative tracking curve week by week through the holdout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from wafa.analytics.fitting import Fitted
from wafa.analytics.models import compress
from wafa.analytics.predicting import model_window
from wafa.analytics.retention import ActivityThresholds
from wafa.analytics.simple_rules import (
    RULE_OF_THUMB,
    WindowForecast,
    poisson_window,
    rule_of_thumb_pace,
)
from wafa.analytics.summary import Occasions, RFMArrays

__all__ = [
    "LAST_PERIOD",
    "NAIVE",
    "HoldoutData",
    "HoldoutResult",
    "evaluate",
    "last_period_repeats",
    "occasion_daily_repeats",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NAIVE = "naive"
LAST_PERIOD = "same_as_last_period"
#: Frequency buckets of the comparison table (the last is "7 or more").
BUCKETS = 7
#: Budget of (distinct triple x tracking point) evaluations; beyond it the curve is
#: drawn every few weeks rather than every week.
TRACKING_BUDGET = 4_000_000


@dataclass(frozen=True)
class HoldoutData:
    """What happened in the holdout period, and just before it.

    Attributes
    ----------
    days : int
        Length of the holdout period in days.
    actual : numpy.ndarray
        Repeat purchase occasions per calibration customer in the holdout (aligned with
        the calibration :class:`~wafa.analytics.summary.RFMArrays`).
    daily : numpy.ndarray
        Occasions of calibration customers on each holdout day (``daily[0]`` is the
        first day after the calibration end).
    last_period : numpy.ndarray
        Repeat purchase occasions per calibration customer in the ``days`` days up to
        and including the calibration end.
    """

    days: int
    actual: IntArray
    daily: IntArray
    last_period: IntArray


@dataclass(frozen=True)
class HoldoutResult:
    """The JSON-ready report and the chosen method's per-customer forecast.

    Attributes
    ----------
    report : dict
        Everything shown (see :func:`evaluate`).
    chosen : WindowForecast
        The chosen method's forecast of the holdout window, per calibration customer.
    """

    report: dict[str, Any]
    chosen: WindowForecast


def occasion_daily_repeats(
    occasions: Occasions, first_day: IntArray, *, calibration_day: int, end_day: int
) -> IntArray:
    """Count calibration customers' purchase occasions per holdout day from arrays.

    Parameters
    ----------
    occasions : Occasions
        Every purchase occasion.
    first_day : numpy.ndarray
        First purchase day per customer code.
    calibration_day, end_day : int
        The holdout is ``(calibration_day, end_day]``.

    Returns
    -------
    numpy.ndarray
        ``end_day - calibration_day`` counts.
    """
    width = max(end_day - calibration_day, 0)
    keep = (
        (occasions.day > calibration_day)
        & (occasions.day <= end_day)
        & (first_day[occasions.code] <= calibration_day)
    )
    offsets = occasions.day[keep] - calibration_day - 1
    return np.bincount(offsets, minlength=width)[:width].astype(np.int64)


def last_period_repeats(
    occasions: Occasions, first_day: IntArray, *, calibration_day: int, days: int
) -> IntArray:
    """Repeat occasions per customer code in ``(calibration_day - days, calibration_day]``.

    A customer's first purchase is not a repeat purchase, so it is not counted even when
    it falls in the period.

    Parameters
    ----------
    occasions : Occasions
        Every purchase occasion.
    first_day : numpy.ndarray
        First purchase day per customer code.
    calibration_day, days : int
        End and length of the period.

    Returns
    -------
    numpy.ndarray
        Count per customer code.
    """
    keep = (
        (occasions.day > calibration_day - days)
        & (occasions.day <= calibration_day)
        & (occasions.day > first_day[occasions.code])
    )
    return np.bincount(occasions.code[keep], minlength=first_day.shape[0]).astype(np.int64)


def _errors(predicted: FloatArray, actual: IntArray) -> dict[str, float]:
    diff = predicted - actual
    total_actual = float(actual.sum())
    total_predicted = float(predicted.sum())
    return {
        "predicted_repeat_purchases": total_predicted,
        "mae": float(np.mean(np.abs(diff))) if diff.size else 0.0,
        "rmse": float(math.sqrt(np.mean(diff**2))) if diff.size else 0.0,
        "total_error_pct": (
            100.0 * (total_predicted - total_actual) / total_actual if total_actual else 0.0
        ),
    }


def _with_range(window: WindowForecast, actual: IntArray, level: float) -> dict[str, Any]:
    total = int(actual.sum())
    inside = (window.low <= actual) & (actual <= window.high)
    return {
        **_errors(window.expected, actual),
        "low": window.total_low,
        "high": window.total_high,
        "level": level,
        "inside": bool(window.total_low <= total <= window.total_high),
        "customer_coverage": float(inside.mean()) if inside.size else None,
        "customer_chance": float(window.chance.mean()) if window.chance.size else None,
    }


def evaluate(
    fitted: Fitted,
    calibration: RFMArrays,
    data: HoldoutData,
    *,
    thresholds: ActivityThresholds,
) -> HoldoutResult:
    """Compare every method's forecast of the holdout window with what happened.

    Parameters
    ----------
    fitted : Fitted
        Models fitted, and chosen, on the calibration period (the choice is not changed).
    calibration : RFMArrays
        The calibration summary the models were fitted on.
    data : HoldoutData
        Actual holdout purchases, and those of the period before.
    thresholds : ActivityThresholds
        Recency bands learned from the calibration period (for the rule of thumb).

    Returns
    -------
    HoldoutResult
        ``report``: ``days``, ``customers``, ``actual_repeat_purchases``, ``purchases``
        (the chosen method's ``predicted``, ``low``, ``high``, ``actual``, ``level``),
        ``chosen``, ``models`` (errors, ranges and coverage per method), ``by_frequency``,
        ``tracking``, ``best_point_forecast`` and ``beats_baselines``; and the chosen
        method's per-customer forecast.
    """
    settings = fitted.settings
    unit = settings.time_unit.days
    level = settings.level
    actual = np.asarray(data.actual, dtype=np.int64)
    windows: dict[str, WindowForecast] = {}
    for name, fit in fitted.transactions.items():
        if fit.model is not None and fit.model.covariance_ is not None:
            windows[name] = model_window(fitted, name, calibration, data.days)
    pace, _ = rule_of_thumb_pace(calibration, unit, thresholds)
    windows[RULE_OF_THUMB] = poisson_window(pace * data.days, level)
    naive = np.divide(
        calibration.frequency,
        calibration.T * unit,
        out=np.zeros_like(calibration.frequency),
        where=calibration.T > 0,
    )
    windows[NAIVE] = poisson_window(naive * data.days, level)
    models: dict[str, dict[str, Any]] = {
        name: _with_range(w, actual, level) for name, w in windows.items()
    }
    for name, fit in fitted.transactions.items():
        if name in models:
            models[name]["usable"] = fit.usable
            models[name]["unusable_because"] = fit.unusable
    last = np.asarray(data.last_period, dtype=np.float64)
    models[LAST_PERIOD] = _errors(last, actual)
    chosen = fitted.chosen or RULE_OF_THUMB
    chosen_window = windows[chosen]

    bucket = np.minimum(calibration.frequency.astype(np.int64), BUCKETS)
    by_frequency = []
    for b in range(BUCKETS + 1):
        rows = bucket == b
        n = int(rows.sum())
        if n == 0:
            continue
        entry: dict[str, Any] = {
            "frequency": f"{b}+" if b == BUCKETS else str(b),
            "customers": n,
            "actual": float(actual[rows].mean()),
        }
        for name, w in windows.items():
            entry[name] = float(w.expected[rows].mean())
        entry[LAST_PERIOD] = float(last[rows].mean())
        by_frequency.append(entry)

    fitted_models = {n: f.model for n, f in fitted.transactions.items() if f.model is not None}
    tracking = _tracking(fitted_models, calibration, data, unit, naive)
    baselines = min(models[NAIVE]["mae"], models[LAST_PERIOD]["mae"])
    report = {
        "days": data.days,
        "time_unit_length": data.days / unit,
        "customers": int(actual.shape[0]),
        "actual_repeat_purchases": int(actual.sum()),
        "level": level,
        "chosen": chosen,
        "chosen_by": fitted.chosen_by,
        "purchases": {
            "predicted": chosen_window.total,
            "low": chosen_window.total_low,
            "high": chosen_window.total_high,
            "actual": int(actual.sum()),
            "level": level,
        },
        "models": models,
        "by_frequency": by_frequency,
        "tracking": tracking,
        "best_point_forecast": min(models, key=lambda n: models[n]["mae"]),
        "beats_baselines": bool(models[chosen]["mae"] < baselines),
    }
    return HoldoutResult(report, chosen_window)


def _tracking(
    fitted_models: dict[str, Any],
    calibration: RFMArrays,
    data: HoldoutData,
    unit: float,
    naive_per_day: FloatArray,
) -> list[dict[str, Any]]:
    c = compress(calibration.frequency, calibration.recency, calibration.T)
    weeks = max(1, math.ceil(data.days / 7))
    n_distinct = max(1, int(c.frequency.shape[0]))
    step = max(1, math.ceil(n_distinct * weeks * max(1, len(fitted_models)) / TRACKING_BUDGET))
    points = sorted({min(7 * w, data.days) for w in range(step, weeks + 1, step)} | {data.days})
    cumulative_actual = np.cumsum(data.daily) if data.daily.size else np.zeros(1, dtype=np.int64)
    naive_rate = float(naive_per_day.sum())
    last_rate = float(data.last_period.sum()) / data.days if data.days else 0.0
    curves = {
        name: model.expected_purchases_many(np.array(points) / unit, c.frequency, c.recency, c.T)
        @ c.weights
        for name, model in fitted_models.items()
    }
    out = []
    for i, day in enumerate(points):
        entry: dict[str, Any] = {
            "week": round(day / 7, 2),
            "day": day,
            "actual": int(cumulative_actual[day - 1]) if day >= 1 and data.daily.size else 0,
            NAIVE: naive_rate * day,
            LAST_PERIOD: last_rate * day,
        }
        for name, curve in curves.items():
            entry[name] = float(curve[i])
        out.append(entry)
    return out
