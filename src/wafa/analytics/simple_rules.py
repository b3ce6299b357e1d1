"""The simple rules beside the models, with ranges of their own.

* The **rule of thumb** for stores too small for a model (see the ladder in
  :mod:`wafa.analytics.fitting`): each customer keeps the pace of their own purchases so
  far (repeat purchases per day since their first; customers who bought once get the
  store's pace), counted in full while active, by half while lapsed and not at all once
  churned (the store's recency bands,
  :class:`~wafa.analytics.retention.ActivityThresholds`).
* The **naive** baseline of the holdout check: each customer keeps their calibration pace,
  one-time buyers buying nothing.

Both give Poisson ranges (:func:`poisson_window`): the range of a random count at that
pace, chosen like the models' (nearest to the level; see
:func:`wafa.analytics.models._tables.ranges_from_tables`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from wafa.analytics.retention import ActivityThresholds
from wafa.analytics.summary import RFMArrays

__all__ = [
    "BAND_WEIGHT",
    "RULE_OF_THUMB",
    "WindowForecast",
    "poisson_window",
    "rule_of_thumb_pace",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

RULE_OF_THUMB = "rule_of_thumb"
#: Weight of a customer's pace in the rule of thumb, by recency band.
BAND_WEIGHT = {"active": 1.0, "lapsed": 0.5, "churned": 0.0}


@dataclass(frozen=True)
class WindowForecast:
    """Forecast of the repeat purchases in one window, per customer and for the store.

    Attributes
    ----------
    expected, low, high, chance : numpy.ndarray
        Per customer: expectation, whole-number range and the range's probability.
    total, total_low, total_high : float
        The store's expected total and its range.
    """

    expected: FloatArray
    low: IntArray
    high: IntArray
    chance: FloatArray
    total: float
    total_low: float
    total_high: float


def poisson_window(mean: FloatArray, level: float) -> WindowForecast:
    """Ranges of independent Poisson counts with the given means (the simple rules).

    Parameters
    ----------
    mean : numpy.ndarray
        Expected count per customer.
    level : float
        Coverage.

    Returns
    -------
    WindowForecast
        Ranges as :func:`wafa.analytics.models._tables.ranges_from_tables` chooses them
        (nearest to ``level``), and the store total's Poisson range.
    """
    low, high, chance = _poisson_ranges(mean, level)
    total = float(mean.sum())
    alpha = (1 - level) / 2
    from scipy import stats  # its import costs every ``wafa analyze`` a second otherwise

    return WindowForecast(
        mean,
        low,
        high,
        chance,
        total,
        float(stats.poisson.ppf(alpha, total)) if total > 0 else 0.0,
        float(stats.poisson.ppf(1 - alpha, total)) if total > 0 else 0.0,
    )


def _poisson_ranges(mean: FloatArray, level: float) -> tuple[IntArray, IntArray, FloatArray]:
    alpha = (1 - level) / 2
    m = np.maximum(mean, 0.0)

    def cdf(k: IntArray) -> FloatArray:
        return np.asarray(np.where(k < 0, 0.0, special.pdtr(np.maximum(k, 0), m)))

    def ppf(p: FloatArray) -> IntArray:
        from scipy import stats  # imported when used: see above

        value = np.where(m > 0, stats.poisson.ppf(np.clip(p, 0.0, 1.0), np.maximum(m, 1e-300)), 0)
        return np.asarray(np.nan_to_num(value), dtype=np.int64)

    lo = ppf(np.full(m.shape, alpha))
    below = cdf(lo - 1)
    up = ppf(np.minimum(below + level, 1.0))
    chance_up = cdf(up) - below
    down = np.maximum(up - 1, lo)
    chance_down = cdf(down) - below
    use_down = (down < up) & (level - chance_down < chance_up - level)
    return lo, np.where(use_down, down, up), np.where(use_down, chance_down, chance_up)


def rule_of_thumb_pace(
    rfm: RFMArrays, unit_days: float, thresholds: ActivityThresholds
) -> tuple[FloatArray, npt.NDArray[np.str_]]:
    """Return the rule of thumb's purchases per day and each customer's recency band.

    Parameters
    ----------
    rfm : RFMArrays
        Histories (time in units of ``unit_days``).
    unit_days : float
        Length of the time unit in days.
    thresholds : ActivityThresholds
        The store's recency bands.

    Returns
    -------
    tuple
        Weighted pace per day (own ``x / T``; the store's for one-time buyers; times the
        band's weight) and the band (``active``, ``lapsed``, ``churned``).
    """
    t_days = rfm.T * unit_days
    exposure = float(t_days.sum())
    store = float(rfm.frequency.sum()) / exposure if exposure > 0 else 0.0
    own = np.divide(rfm.frequency, t_days, out=np.zeros_like(t_days), where=t_days > 0)
    pace = np.where(rfm.frequency > 0, own, store)
    since = (rfm.T - rfm.recency) * unit_days
    band = np.where(
        since <= thresholds.active_days,
        "active",
        np.where(since <= thresholds.lapsed_days, "lapsed", "churned"),
    )
    weight = np.select(
        [band == "active", band == "lapsed"], [BAND_WEIGHT["active"], BAND_WEIGHT["lapsed"]], 0.0
    )
    return np.asarray(pace * weight, dtype=np.float64), band
