"""Forecasts for every customer, with ranges that say where the actual numbers will fall.

Each forecast comes with a 90 % *predictive* range: the range in which the actual number
of repeat purchases (or the actual spend) falls with 90 % probability **if the model is
right** (see :mod:`wafa.analytics.models.forecast` for how it is simulated). The model
can be wrong in ways no range shows: on the CDNOW data the actual holdout total fell
outside the range of a model that fits the calibration data well. That is why every
forecast is also checked against a holdout period when there is one.

Two methods, by what the data support (see the ladder in :mod:`wafa.analytics.fitting`):

* ``bgnbd`` / ``pareto_nbd``: the chosen model's forecasts and ranges, with lifetime
  value from Gamma-Gamma when it is usable, else from each customer's average order;
* ``rule_of_thumb``, when no model is usable: each customer keeps the pace of their own
  purchases so far (repeat purchases per day since their first; customers who bought
  once get the store's pace), counted in full while active, by half while lapsed and not
  at all once churned (the store's recency bands,
  :class:`~wafa.analytics.retention.ActivityThresholds`), with the range of a Poisson
  count at that pace. It gives no probability of being a customer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from wafa.analytics.fitting import PARETO, Fitted, spend_inputs
from wafa.analytics.models.forecast import Spend, ValueHorizon, forecast
from wafa.analytics.retention import ActivityThresholds
from wafa.analytics.simple_rules import (
    RULE_OF_THUMB,
    WindowForecast,
    poisson_window,
    rule_of_thumb_pace,
)
from wafa.analytics.summary import RFMArrays

__all__ = ["CHURN_BANDS", "HORIZONS", "Predictions", "churn_band", "model_window", "predict"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Forecast windows, days.
HORIZONS = {"30": 30.0, "90": 90.0, "365": 365.0}
#: ``P(alive)`` at or above the first value is low risk, below the second high risk.
CHURN_BANDS = (0.7, 0.3)
#: Below this ``P(alive)`` no next order date is given ("not expected").
NEXT_ORDER_MIN_P_ALIVE = 0.5


def model_window(fitted: Fitted, name: str, rfm: RFMArrays, days: float) -> WindowForecast:
    """Forecast one window with a fitted purchase model (parameters from ``fitted``).

    Parameters
    ----------
    fitted : Fitted
        The fits.
    name : str
        ``bgnbd`` or ``pareto_nbd`` (must be fitted with standard errors).
    rfm : RFMArrays
        Histories at the start of the window, in the fit's time unit.
    days : float
        Window length in days.

    Returns
    -------
    WindowForecast
        Expectations and ranges.
    """
    model = fitted.transactions[name].model
    assert model is not None
    settings = fitted.settings
    f = forecast(
        model,
        rfm.frequency,
        rfm.recency,
        rfm.T,
        [days / settings.time_unit.days],
        level=settings.level,
        random_state=settings.random_state,
    )
    assert f.ranges is not None
    total = f.ranges.totals[0]
    return WindowForecast(
        f.expected[0],
        f.ranges.low[0],
        f.ranges.high[0],
        f.ranges.chance[0],
        float(f.expected[0].sum()),
        total.low,
        total.high,
    )


@dataclass(frozen=True)
class Predictions:
    """Per-customer forecasts, aligned with the :class:`RFMArrays` they were made for.

    Attributes
    ----------
    method : str
        ``bgnbd``, ``pareto_nbd`` or ``rule_of_thumb``.
    level : float
        Coverage of the ranges.
    p_alive : numpy.ndarray or None
        Probability that the customer is still a customer (not given by the rule).
    expected, low, high, chance : dict of numpy.ndarray
        Per window key of :data:`HORIZONS`: expected repeat purchases, the range, its
        probability.
    next_order_days : numpy.ndarray
        Median days until the next order if still a customer; ``-1`` when no order is
        expected.
    clv, clv_low, clv_high : numpy.ndarray or None
        Discounted expected revenue over the horizon and its range, minor units.
    value_method : str or None
        ``gamma_gamma`` or ``average_order``.
    churn_risk : numpy.ndarray
        ``low``/``medium``/``high``.
    store : dict
        Store totals and their ranges (JSON-ready).
    warnings : list of str
        What was dropped and why.
    """

    method: str
    level: float
    p_alive: FloatArray | None
    expected: dict[str, FloatArray]
    low: dict[str, IntArray]
    high: dict[str, IntArray]
    chance: dict[str, FloatArray]
    next_order_days: FloatArray
    clv: FloatArray | None
    clv_low: FloatArray | None
    clv_high: FloatArray | None
    value_method: str | None
    churn_risk: npt.NDArray[np.str_]
    store: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def expected_30(self) -> FloatArray:
        """Expected repeat purchases in the next 30 days."""
        return self.expected["30"]

    @property
    def expected_90(self) -> FloatArray:
        """Expected repeat purchases in the next 90 days."""
        return self.expected["90"]

    @property
    def expected_365(self) -> FloatArray:
        """Expected repeat purchases in the next 365 days."""
        return self.expected["365"]

    def totals(self) -> dict[str, Any]:
        """Return business-level totals and distributions of the predictions."""
        out: dict[str, Any] = {
            **self.store,
            "churn_risk": {
                band: int(np.count_nonzero(self.churn_risk == band))
                for band in ("low", "medium", "high")
            },
        }
        if self.p_alive is not None:
            out["p_alive_histogram"] = _histogram(self.p_alive, np.linspace(0, 1, 11))
        if self.clv is not None:
            # One call for every level: one partial sort of the values, not six.
            levels = (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
            found = np.quantile(self.clv, levels) if self.clv.size else np.zeros(len(levels))
            out["clv_quantiles"] = {
                str(q): round(float(v)) for q, v in zip(levels, found, strict=True)
            }
        return out


def _histogram(values: FloatArray, edges: FloatArray) -> list[dict[str, float]]:
    counts, _ = np.histogram(values, bins=edges)
    return [
        {"from": float(lo), "to": float(hi), "customers": int(n)}
        for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True)
    ]


def churn_band(p_alive: FloatArray) -> npt.NDArray[np.str_]:
    """Map ``P(alive)`` to ``low``/``medium``/``high`` churn risk.

    Parameters
    ----------
    p_alive : numpy.ndarray
        Probabilities.

    Returns
    -------
    numpy.ndarray
        Band per customer (thresholds :data:`CHURN_BANDS`).
    """
    low, high = CHURN_BANDS
    return np.where(p_alive >= low, "low", np.where(p_alive < high, "high", "medium"))


def _guard(name: str, values: FloatArray, fallback: float, warnings: list[str]) -> FloatArray:
    bad = ~np.isfinite(values)
    if np.any(bad):
        warnings.append(
            f"{int(bad.sum())} {name} value(s) could not be computed and are shown as {fallback:g}"
        )
        values = np.where(bad, fallback, values)
    return np.asarray(np.maximum(values, 0.0), dtype=np.float64)


def predict(
    fitted: Fitted, current: RFMArrays, *, thresholds: ActivityThresholds | None
) -> Predictions:
    """Forecast every customer of ``current`` with the chosen model or the rule of thumb.

    Parameters
    ----------
    fitted : Fitted
        The fits (parameters come from the calibration period).
    current : RFMArrays
        The customers' histories up to now, in the fit's time unit.
    thresholds : ActivityThresholds or None
        The store's recency bands, needed only by the rule of thumb (when no model is
        usable, ``fitted.chosen`` is ``None``).

    Returns
    -------
    Predictions
        Finite forecasts and ranges per customer.

    Notes
    -----
    BG/NBD assumes a customer can only leave right after a purchase, so it puts the
    probability alive of every one-time buyer at 1 whatever their age. For those
    customers the displayed ``p_alive`` (and so the churn band) comes from Pareto/NBD
    when it was fitted, which lets one-time buyers leave; their forecasts and ranges
    still come from the chosen model.
    """
    if fitted.chosen is None:
        if thresholds is None:
            raise ValueError("the rule of thumb needs the store's recency bands")
        return _predict_rule(fitted, current, thresholds)
    return _predict_model(fitted, current)


def _value_horizon(fitted: Fitted) -> ValueHorizon:
    s = fitted.settings
    unit = s.time_unit.days
    return ValueHorizon(s.horizon_days / unit, s.discount_force * unit)


def _average_order(current: RFMArrays) -> FloatArray:
    """Each customer's average repeat order (the store's for one-time buyers), minor units."""
    repeat = (current.frequency > 0) & (current.monetary > 0)
    weights = current.frequency[repeat]
    store = (
        float(np.dot(current.monetary[repeat], weights) / weights.sum()) if weights.size else 0.0
    )
    return np.asarray(np.where(repeat, current.monetary, store), dtype=np.float64)


def _predict_model(fitted: Fitted, current: RFMArrays) -> Predictions:
    settings = fitted.settings
    unit = settings.time_unit.days
    model = fitted.model
    warnings: list[str] = []
    keys = list(HORIZONS)
    windows = [HORIZONS[k] / unit for k in keys]
    value = _value_horizon(fitted)
    if abs(settings.horizon_days - 365.0) > 1e-9:
        windows.append(value.horizon)
    spend = None
    if fitted.spend_usable:
        assert fitted.spend is not None
        x_spend, z_spend = spend_inputs(current, settings.money_scale)
        spend = Spend(fitted.spend, x_spend, z_spend)
    f = forecast(
        model,
        current.frequency,
        current.recency,
        current.T,
        windows,
        spend=spend,
        value=value if spend is not None else None,
        level=settings.level,
        random_state=settings.random_state,
        # Without a holdout the customers forecast are those the models were fitted on:
        # their distinct triples are reused (checked) rather than sorted again.
        known=fitted.calibration,
    )
    ranges = f.ranges
    assert ranges is not None
    alive = f.p_alive
    pareto = fitted.transactions.get(PARETO)
    if fitted.chosen != PARETO and pareto is not None and pareto.model is not None:
        # Only the one-time buyers' (few distinct histories: x = t_x = 0, T in days).
        once = np.flatnonzero(current.frequency == 0)
        alive = alive.copy()
        alive[once] = pareto.model.probability_alive(
            current.frequency[once], current.recency[once], current.T[once]
        )
    alive = np.clip(_guard("probability-alive", alive, 0.0, warnings), 0.0, 1.0)
    expected = {
        k: _guard(f"{k}-day expected purchases", f.expected[i], 0.0, warnings)
        for i, k in enumerate(keys)
    }
    # Given alive, lambda ~ Gamma(r + x, alpha + T) in both models; the waiting time to the
    # next purchase is then Lomax, with median (alpha + T)(2^(1/(r+x)) - 1).
    r, alpha = float(model.params_.r), float(model.params_.alpha)
    wait = (alpha + current.T) * np.expm1(np.log(2.0) / (r + current.frequency)) * unit
    next_days = np.where(alive >= NEXT_ORDER_MIN_P_ALIVE, wait, -1.0)
    next_days = np.where(np.isfinite(next_days), next_days, -1.0)

    value_at = len(windows) - 1 if len(windows) > len(keys) else keys.index("365")
    clv = clv_low = clv_high = None
    value_method = None
    revenue: list[float] | None = None
    if spend is not None and f.value is not None and ranges.value_low is not None:
        scale = settings.money_scale
        clv = _guard("lifetime value", f.value * scale, 0.0, warnings)
        clv_low = np.minimum(ranges.value_low * scale, clv)
        clv_high = np.maximum(ranges.value_high * scale, clv)  # type: ignore[operator]
        value_method = "gamma_gamma"
        if ranges.revenue is not None:
            revenue = [ranges.revenue.low * scale, ranges.revenue.high * scale]
    else:
        average = _average_order(current)
        factor = _even_discount(fitted)
        clv = f.expected[value_at] * average * factor
        clv_low = ranges.low[value_at] * average * factor
        clv_high = ranges.high[value_at] * average * factor
        value_method = "average_order"
        total_range = ranges.totals[value_at]
        mean_order = float(
            np.dot(f.expected[value_at], average) / max(f.expected[value_at].sum(), 1e-300)
        )
        revenue = [total_range.low * mean_order * factor, total_range.high * mean_order * factor]
    store: dict[str, Any] = {
        "method": fitted.chosen,
        "level": settings.level,
        "range_method": ranges.method,
        "parameter_draws": ranges.draws,
        "customers": int(alive.shape[0]),
        "expected_active_customers": float(alive.sum()),
        "active_range": [ranges.active.low, ranges.active.high],
    }
    for i, k in enumerate(keys):
        store[f"expected_purchases_{k}"] = float(expected[k].sum())
        store[f"expected_purchases_{k}_range"] = [ranges.totals[i].low, ranges.totals[i].high]
    if clv is not None:
        store["clv_total"] = round(float(clv.sum()))
        store["clv_range"] = None if revenue is None else [round(v) for v in revenue]
        store["value_method"] = value_method
    return Predictions(
        method=str(fitted.chosen),
        level=settings.level,
        p_alive=alive,
        expected=expected,
        low={k: ranges.low[i] for i, k in enumerate(keys)},
        high={k: ranges.high[i] for i, k in enumerate(keys)},
        chance={k: ranges.chance[i] for i, k in enumerate(keys)},
        next_order_days=next_days,
        clv=clv,
        clv_low=clv_low,
        clv_high=clv_high,
        value_method=value_method,
        churn_risk=churn_band(alive),
        store=store,
        warnings=warnings,
    )


def _even_discount(fitted: Fitted) -> float:
    """Average discount of purchases spread evenly over the value horizon."""
    s = fitted.settings
    d = s.discount_force * s.horizon_days
    return float(-math.expm1(-d) / d) if d > 0 else 1.0


def _predict_rule(
    fitted: Fitted, current: RFMArrays, thresholds: ActivityThresholds
) -> Predictions:
    settings = fitted.settings
    unit = settings.time_unit.days
    pace, band = rule_of_thumb_pace(current, unit, thresholds)
    keys = list(HORIZONS)
    windows = {k: poisson_window(pace * HORIZONS[k], settings.level) for k in keys}
    value_window = poisson_window(pace * settings.horizon_days, settings.level)
    average = _average_order(current)
    factor = _even_discount(fitted)
    clv = value_window.expected * average * factor
    gap = np.divide(1.0, pace, out=np.full_like(pace, -1.0), where=pace > 0)
    since = (current.T - current.recency) * unit
    next_days = np.where(
        (band == "active") & (current.frequency > 0) & (gap > 0), np.maximum(gap - since, 0.0), -1.0
    )
    mean_order = float(np.dot(value_window.expected, average) / max(value_window.total, 1e-300))
    store: dict[str, Any] = {
        "method": RULE_OF_THUMB,
        "level": settings.level,
        "range_method": "poisson",
        "customers": int(pace.shape[0]),
        "expected_active_customers": None,
        "active_range": None,
        "clv_total": round(float(clv.sum())),
        "clv_range": [
            round(value_window.total_low * mean_order * factor),
            round(value_window.total_high * mean_order * factor),
        ],
        "value_method": "average_order",
    }
    for k in keys:
        store[f"expected_purchases_{k}"] = windows[k].total
        store[f"expected_purchases_{k}_range"] = [windows[k].total_low, windows[k].total_high]
    return Predictions(
        method=RULE_OF_THUMB,
        level=settings.level,
        p_alive=None,
        expected={k: windows[k].expected for k in keys},
        low={k: windows[k].low for k in keys},
        high={k: windows[k].high for k in keys},
        chance={k: windows[k].chance for k in keys},
        next_order_days=next_days,
        clv=clv,
        clv_low=value_window.low * average * factor,
        clv_high=value_window.high * average * factor,
        value_method="average_order",
        churn_risk=np.where(band == "active", "low", np.where(band == "lapsed", "medium", "high")),
        store=store,
    )
