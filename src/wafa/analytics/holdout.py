"""Calibration/holdout evaluation: the models against the holdout and a naive baseline.

The models are fitted on the calibration period; for each customer known by its end we
compare the repeat purchases they made *in the holdout period alone* with

* each fitted model's conditional expectation over the holdout length (Fader, Hardie &
  Lee 2005, eq. 10 for BG/NBD; Schmittlein et al. 1987 for Pareto/NBD), and
* a naive baseline: each customer keeps buying at their calibration rate,
  ``x / T`` repeat purchases per unit of time (0 when ``T = 0``),

per customer (mean absolute error, RMSE), by calibration frequency bucket, and as a
cumulative tracking curve week by week through the holdout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from wafa.analytics.fitting import MODEL_NAMES, Fitted
from wafa.analytics.models import compress
from wafa.analytics.summary import Occasions, RFMArrays

__all__ = ["HoldoutData", "evaluate", "occasion_daily_repeats"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NAIVE = "naive"
#: Frequency buckets of the comparison table (the last is "7 or more").
BUCKETS = 7
#: Budget of (distinct triple x tracking point) evaluations; beyond it the curve is
#: drawn every few weeks rather than every week.
TRACKING_BUDGET = 4_000_000


@dataclass(frozen=True)
class HoldoutData:
    """What happened in the holdout period.

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
    """

    days: int
    actual: IntArray
    daily: IntArray


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


def _naive(cal: RFMArrays, t: float) -> FloatArray:
    rate = np.divide(cal.frequency, cal.T, out=np.zeros_like(cal.frequency), where=cal.T > 0)
    return np.asarray(rate * t, dtype=np.float64)


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


def evaluate(fitted: Fitted, calibration: RFMArrays, data: HoldoutData) -> dict[str, Any]:
    """Compare each fitted model and the naive baseline with the holdout, and choose.

    The purchase model with the lower mean absolute error per customer becomes
    ``fitted.chosen`` (the reason is recorded in ``fitted.chosen_by``).

    Parameters
    ----------
    fitted : Fitted
        Models fitted on the calibration period.
    calibration : RFMArrays
        The calibration summary the models were fitted on.
    data : HoldoutData
        Actual holdout purchases.

    Returns
    -------
    dict
        ``days``, ``customers``, ``actual_repeat_purchases``, ``models`` (errors per
        model and for ``naive``), ``by_frequency``, ``tracking``, ``winner`` and
        ``beats_naive``.
    """
    unit = fitted.settings.time_unit.days
    t_hold = data.days / unit
    actual = np.asarray(data.actual, dtype=np.int64)
    fitted_models = {n: f.model for n, f in fitted.transactions.items() if f.model is not None}
    c = compress(calibration.frequency, calibration.recency, calibration.T)
    predictions: dict[str, FloatArray] = {
        name: model.expected_purchases(t_hold, c.frequency, c.recency, c.T)[c.inverse]
        for name, model in fitted_models.items()
    }
    predictions[NAIVE] = _naive(calibration, t_hold)
    models = {name: _errors(pred, actual) for name, pred in predictions.items()}

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
        for name, pred in predictions.items():
            entry[name] = float(pred[rows].mean())
        by_frequency.append(entry)

    tracking = _tracking(fitted_models, c, calibration, data, unit)
    winner = min(fitted_models, key=lambda n: models[n]["mae"])
    if len(fitted_models) > 1:
        others = ", ".join(
            f"{MODEL_NAMES[n]} {models[n]['mae']:.4f}" for n in fitted_models if n != winner
        )
        fitted.choose(
            winner,
            f"holdout: lower mean absolute error per customer "
            f"({MODEL_NAMES[winner]} {models[winner]['mae']:.4f} vs {others})",
        )
    return {
        "days": data.days,
        "time_unit_length": t_hold,
        "customers": int(actual.shape[0]),
        "actual_repeat_purchases": int(actual.sum()),
        "models": models,
        "by_frequency": by_frequency,
        "tracking": tracking,
        "winner": winner,
        "beats_naive": bool(models[winner]["mae"] < models[NAIVE]["mae"]),
    }


def _tracking(
    fitted_models: dict[str, Any],
    c: Any,
    calibration: RFMArrays,
    data: HoldoutData,
    unit: float,
) -> list[dict[str, Any]]:
    weeks = max(1, math.ceil(data.days / 7))
    n_distinct = max(1, int(c.frequency.shape[0]))
    step = max(1, math.ceil(n_distinct * weeks * max(1, len(fitted_models)) / TRACKING_BUDGET))
    points = sorted({min(7 * w, data.days) for w in range(step, weeks + 1, step)} | {data.days})
    cumulative_actual = np.cumsum(data.daily) if data.daily.size else np.zeros(1, dtype=np.int64)
    naive_rate = float(_naive(calibration, 1.0).sum())
    out = []
    for day in points:
        t = day / unit
        entry: dict[str, Any] = {
            "week": round(day / 7, 2),
            "day": day,
            "actual": int(cumulative_actual[day - 1]) if day >= 1 and data.daily.size else 0,
            NAIVE: naive_rate * t,
        }
        for name, model in fitted_models.items():
            values = model.expected_purchases(t, c.frequency, c.recency, c.T)
            entry[name] = float(values @ c.weights)
        out.append(entry)
    return out
