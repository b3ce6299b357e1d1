"""The shapes a forecast is made of, shared by :mod:`.forecast` and :mod:`._large_stores`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wafa.analytics.models._tables import PurchaseTable
from wafa.analytics.models._transaction import Pairs, TransactionModel
from wafa.analytics.models.base import FloatArray, IntArray
from wafa.analytics.models.gamma_gamma import GammaGammaModel

__all__ = [
    "EXACT_BUDGET",
    "EXACT_CUSTOMERS",
    "LEVEL",
    "Draws",
    "Forecast",
    "Ranges",
    "Setup",
    "Spend",
    "StoreRange",
    "ValueHorizon",
    "expected_spend",
    "point_value",
]

#: Coverage of every range unless asked otherwise.
LEVEL = 0.9
#: Stores with at most this many customers get simulated totals and values.
EXACT_CUSTOMERS = 5_000
#: Customer draws of that simulation (draws per customer = this / customers).
EXACT_BUDGET = 1_000_000
#: Spend draws per ``(x, T)`` pair in larger stores (per pair = this / pairs, at least
#: ``MIN_VALUE_SAMPLES``; the purchases are drawn stratified, which steadies the ranges).
VALUE_BUDGET = 1_500_000
MIN_VALUE_SAMPLES = 50
#: Bounds on the draws per customer or per pair.
MIN_SAMPLES, MAX_SAMPLES = 100, 2_000
#: Most parameter draws tabulated.
PARAM_DRAWS = 200
#: Distinct parameter draws of the store simulation (its draws cycle through them).
SIMULATION_DRAWS = 500
#: Table entries (pairs x draws x whole numbers, all windows; times the model's cost of
#: an entry) a forecast may compute.
TABLE_BUDGET = 4_000_000
#: Gauss-Legendre nodes of the discounting integral of the lifetime value.
VALUE_NODES = 5

AnyTransactionModel = TransactionModel[Any]


@dataclass(frozen=True)
class Spend:
    """The spend model and each customer's spend history, for lifetime values.

    Attributes
    ----------
    model : GammaGammaModel
        Fitted, with ``q > 1``.
    x : numpy.ndarray
        Repeat transactions with a positive value (0 where the customer has none).
    zbar : numpy.ndarray
        Their average value (ignored where ``x == 0``).
    """

    model: GammaGammaModel
    x: FloatArray
    zbar: FloatArray


@dataclass(frozen=True)
class ValueHorizon:
    """How far ahead lifetime value looks, and how the future is discounted.

    Attributes
    ----------
    horizon : float
        Length, in the model's time unit.
    discount : float
        Continuous discount rate per time unit (``log(1 + annual rate) / units a year``).
    """

    horizon: float
    discount: float


@dataclass(frozen=True)
class StoreRange:
    """The range of a store total: ``low`` to ``high`` with the forecast's ``level``."""

    low: float
    high: float


@dataclass(frozen=True)
class Ranges:
    """Predictive ranges of a :class:`Forecast` (see the module docstring).

    Attributes
    ----------
    level : float
        Nominal coverage.
    method : str
        ``"simulation"`` (store totals simulated) or ``"normal"`` (normal totals).
    draws : int
        Parameter draws tabulated (1: the estimates alone).
    samples : int
        Simulated draws per customer, or spend draws per ``(x, T)`` pair.
    low, high : numpy.ndarray
        ``(h, n)`` whole-number range of each customer's purchases per window.
    chance : numpy.ndarray
        ``(h, n)`` probability, under the model, that the purchases fall in the range.
    totals : tuple of StoreRange
        Range of the store's total purchases per window.
    active : StoreRange
        Range of the number of customers still active (a hidden quantity: it is never
        observed, unlike the others).
    value_low, value_high : numpy.ndarray or None
        Range of each customer's discounted spend over the value horizon.
    revenue : StoreRange or None
        Range of the store's total of it.
    """

    level: float
    method: str
    draws: int
    samples: int
    low: IntArray
    high: IntArray
    chance: FloatArray
    totals: tuple[StoreRange, ...]
    active: StoreRange
    value_low: FloatArray | None
    value_high: FloatArray | None
    revenue: StoreRange | None


@dataclass(frozen=True)
class Forecast:
    """Expected purchases per window, ``P(alive)``, lifetime value, and their ranges.

    Attributes
    ----------
    horizons : numpy.ndarray
        Window lengths in the model's time unit.
    p_alive : numpy.ndarray
        ``(n,)`` probability that each customer is still alive.
    expected : numpy.ndarray
        ``(h, n)`` expected purchases per window.
    value : numpy.ndarray or None
        ``(n,)`` expected discounted spend over the value horizon (in the spend's unit).
    ranges : Ranges or None
        Predictive ranges, when asked for.
    """

    horizons: FloatArray
    p_alive: FloatArray
    expected: FloatArray
    value: FloatArray | None
    ranges: Ranges | None


@dataclass(frozen=True)
class Setup:
    """Shared state of one forecast: the data, the pairs and the point quantities."""

    model: AnyTransactionModel
    params: FloatArray
    c: Any
    pairs: Pairs
    horizons: FloatArray  # the asked windows
    sim_horizons: FloatArray  # asked windows plus the value horizon, ascending
    at: IntArray  # position of each asked window in sim_horizons
    value_at: int  # position of the value horizon in sim_horizons (-1 without value)
    alive: FloatArray  # P(alive) per triple
    given_alive: FloatArray  # (h_all, pairs) E[Y | alive] at every horizon needed
    discount_factor: FloatArray  # per pair: discounted / plain expected purchases given alive
    spend: Spend | None
    spend_params: FloatArray | None
    value_horizon: ValueHorizon | None


@dataclass(frozen=True)
class Draws:
    """The tabulated parameter draws and, per distinct history, its rows and ``P(alive)``."""

    theta: FloatArray  # (draws, k)
    tables: list[PurchaseTable]  # one per sim horizon
    rows: IntArray  # (triples, draws)
    alive: FloatArray  # (triples, draws)


def expected_spend(spend: Spend, params: FloatArray) -> FloatArray:
    """``E[Z | x, zbar] = p (gamma + x zbar) / (p x + q - 1)`` per customer."""
    p, q = params[0], params[1]
    return np.asarray(
        p * GammaGammaModel.spend_scale(params, spend.x, spend.zbar) / (p * spend.x + q - 1),
        dtype=np.float64,
    )


def point_value(s: Setup) -> FloatArray:
    assert s.spend is not None
    assert s.spend_params is not None
    per_pair = s.discount_factor * s.given_alive[s.value_at]
    per_triple = s.alive * per_pair[s.pairs.inverse]
    return np.asarray(per_triple[s.c.inverse] * expected_spend(s.spend, s.spend_params))
