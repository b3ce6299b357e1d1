"""Forecasts with predictive ranges: what would actually be observed, if the model is right.

A forecast of a customer's purchases is a number (the expectation); its *range* says
where the actual count will fall. Three kinds of uncertainty make that range, and every
range here carries all three, by simulating the model as it describes the customers:

1. the parameters: drawn from their estimated distribution, normal on the log scale
   with the inverse Hessian as covariance (:meth:`~TransactionModel.parameter_draws`);
2. each customer's hidden state: alive or not (from ``P(alive)`` at those parameters),
   and the purchase and drop-out rates from their posterior given the history;
3. what happens next: the purchases in each window, drawn from the model (Poisson
   purchases until the customer leaves), and their value, drawn from the Gamma-Gamma
   posterior of the customer's spend ([FH13]_; see
   :meth:`~wafa.analytics.models.gamma_gamma.GammaGammaModel.sample_total_spend`).

A customer's range is the central ``level`` (90 %) part of the simulated outcomes; a
store total's range is that of the sum over its customers, with the parameters shared
by all of them in each draw. Purchases are whole numbers, so a range rarely holds
exactly 90 %: the lower end is the 5 % point and the upper end is chosen so that the
range's chance is as close to the level as the whole numbers allow (it is reported as
``chance``); over many customers the share of actual counts inside is then close to the
level, where always rounding up would hold 93-97 % of them.

How it is carried out, so that a million customers take seconds:

* Given alive, the posterior of a customer's rates depends on the history only through
  ``(x, T)``, and the distribution of the purchases given alive is exact by a recurrence
  in the count (:mod:`wafa.analytics.models._tables`): it is tabulated once per distinct
  ``(x, T)`` pair and parameter draw. As many parameter draws are tabulated as a budget
  of table entries allows: all ``PARAM_DRAWS`` for stores up to tens of thousands of
  customers, fewer for the largest (down to the estimates alone), whose parameters'
  spread is a small fraction of a single customer's own uncertainty.
* A customer's purchase range mixes the table rows of the draws with ``P(alive)``
  under each draw; it has no simulation noise.
* Store totals and lifetime values are sums and products of those pieces. Up to
  ``EXACT_CUSTOMERS`` customers they are simulated: each customer's alive state,
  purchases (drawn from the tables) and spend, with the parameters shared by all
  customers in each draw. Larger stores get normal totals (the forecast, plus or minus
  the parameters' share by the delta method on the log scale and the customers' own
  variances: a sum of that many independent customers), and each customer's value range
  from spend draws per pair (with the spend parameters drawn at the pair's average
  spend).

References
----------
.. [FH13] Fader, P. S. and Hardie, B. G. S. (2013). "The Gamma-Gamma Model of Monetary
   Value". Note, brucehardie.com/notes/025.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from wafa.analytics.models._tables import PurchaseTable, build_table, ranges_from_tables
from wafa.analytics.models._transaction import Pairs, TransactionModel, pairs_of
from wafa.analytics.models.base import FloatArray, IntArray, as_float_array, check_rfm, compress
from wafa.analytics.models.gamma_gamma import GammaGammaModel

__all__ = [
    "EXACT_CUSTOMERS",
    "LEVEL",
    "Forecast",
    "Ranges",
    "Spend",
    "StoreRange",
    "ValueHorizon",
    "forecast",
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
class _Setup:
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


def forecast(
    model: AnyTransactionModel,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    horizons: npt.ArrayLike,
    *,
    spend: Spend | None = None,
    value: ValueHorizon | None = None,
    level: float | None = LEVEL,
    random_state: int = 0,
    exact_customers: int = EXACT_CUSTOMERS,
) -> Forecast:
    """Forecast purchases per window (and discounted spend) with predictive ranges.

    Parameters
    ----------
    model : TransactionModel
        A fitted BG/NBD or Pareto/NBD model (with standard errors when ``level`` is set).
    frequency, recency, T : array_like
        Customer summaries, in the model's time unit.
    horizons : array_like
        Window lengths (ascending or not).
    spend : Spend, optional
        For lifetime value; needs ``value``.
    value : ValueHorizon, optional
        Horizon and discount of the lifetime value.
    level : float or None, optional
        Coverage of the ranges (default 0.9); ``None`` skips them.
    random_state : int, optional
        Seed: the same data and seed give the same ranges.
    exact_customers : int, optional
        Largest store simulated customer by customer.

    Returns
    -------
    Forecast
        Point forecasts and ranges.
    """
    x, t_x, big_t = check_rfm(frequency, recency, T)
    asked = as_float_array(horizons, "horizons")
    if np.any(asked < 0):
        raise ValueError("horizons must be non-negative")
    if (spend is None) != (value is None):
        raise ValueError("lifetime value needs both spend and value")
    setup = _setup(model, x, t_x, big_t, asked, spend, value)
    inv = setup.c.inverse
    expected = (setup.alive[None, :] * setup.given_alive[setup.at][:, setup.pairs.inverse])[:, inv]
    value_arr = None if spend is None else _point_value(setup)
    ranges = None
    if level is not None:
        if not 0 < level < 1:
            raise ValueError("level must be between 0 and 1")
        ranges = _ranges(setup, level, np.random.default_rng(random_state), exact_customers)
    return Forecast(asked, setup.alive[inv], expected, value_arr, ranges)


def _setup(
    model: AnyTransactionModel,
    x: FloatArray,
    t_x: FloatArray,
    big_t: FloatArray,
    asked: FloatArray,
    spend: Spend | None,
    value: ValueHorizon | None,
) -> _Setup:
    params = model._params_array()
    c = compress(x, t_x, big_t)
    pairs = pairs_of(c)
    sim = np.unique(np.concatenate([asked, [] if value is None else [value.horizon]]))
    nodes = np.empty(0)
    weights = np.empty(0)
    if value is not None:
        gl_x, gl_w = np.polynomial.legendre.leggauss(VALUE_NODES)
        nodes = (gl_x + 1) * value.horizon / 2
        weights = gl_w * value.horizon / 2
    every = np.concatenate([sim, nodes])
    given = model._expected_alive(params, every, pairs.x, pairs.T)
    discount_factor = np.ones(pairs.x.shape[0])
    if value is not None:
        d = value.discount
        at_h = given[int(np.searchsorted(sim, value.horizon))]
        node_values = given[sim.shape[0] :]
        # D = int_0^H e^{-dt} dE(t) = e^{-dH} E(H) + d int_0^H e^{-dt} E(t) dt (by parts),
        # the integral by Gauss-Legendre: E is smooth and increasing.
        discounted = math.exp(-d * value.horizon) * at_h + d * np.einsum(
            "k,kn->n", weights * np.exp(-d * nodes), node_values
        )
        discount_factor = np.divide(discounted, at_h, out=np.ones_like(at_h), where=at_h > 0).clip(
            0.0, 1.0
        )
    return _Setup(
        model=model,
        params=params,
        c=c,
        pairs=pairs,
        horizons=asked,
        sim_horizons=sim,
        at=np.searchsorted(sim, asked).astype(np.intp),
        value_at=-1 if value is None else int(np.searchsorted(sim, value.horizon)),
        alive=model._p_alive_at(params, c.frequency, c.recency, c.T),
        given_alive=given[: sim.shape[0]],
        discount_factor=discount_factor,
        spend=spend,
        spend_params=None if spend is None else spend.model._params_vector(),
        value_horizon=value,
    )


def _expected_spend(spend: Spend, params: FloatArray) -> FloatArray:
    """``E[Z | x, zbar] = p (gamma + x zbar) / (p x + q - 1)`` per customer."""
    p, q = params[0], params[1]
    return np.asarray(
        p * GammaGammaModel.spend_scale(params, spend.x, spend.zbar) / (p * spend.x + q - 1),
        dtype=np.float64,
    )


def _point_value(s: _Setup) -> FloatArray:
    assert s.spend is not None
    assert s.spend_params is not None
    per_pair = s.discount_factor * s.given_alive[s.value_at]
    per_triple = s.alive * per_pair[s.pairs.inverse]
    return np.asarray(per_triple[s.c.inverse] * _expected_spend(s.spend, s.spend_params))


# --------------------------------------------------------------------- ranges


@dataclass(frozen=True)
class _Draws:
    """The tabulated parameter draws and, per distinct history, its rows and ``P(alive)``."""

    theta: FloatArray  # (draws, k)
    tables: list[PurchaseTable]  # one per sim horizon
    rows: IntArray  # (triples, draws)
    alive: FloatArray  # (triples, draws)


def _draws(s: _Setup, rng: np.random.Generator) -> _Draws:
    """Tabulate as many parameter draws as the table budget allows (see the module doc)."""
    c, pairs = s.c, s.pairs
    point = s.params[None, :]
    tables = [build_table(s.model, point, pairs, t) for t in s.sim_horizons.tolist()]
    per_draw = max(sum(t.elements for t in tables), 1) * s.model._pmf_cost
    n_draws = int(np.clip(TABLE_BUDGET // per_draw, 1, PARAM_DRAWS))
    theta = point
    alive = s.alive[:, None]
    if n_draws > 1:
        theta = s.model.parameter_draws(n_draws, rng)
        tables = [build_table(s.model, theta, pairs, t) for t in s.sim_horizons.tolist()]
        alive = np.stack(
            [s.model._p_alive_at(t, c.frequency, c.recency, c.T) for t in theta], axis=1
        )
    rows = pairs.inverse[:, None] * n_draws + np.arange(n_draws)[None, :]
    return _Draws(theta, tables, rows.astype(np.intp), alive)


def _ranges(s: _Setup, level: float, rng: np.random.Generator, exact_customers: int) -> Ranges:
    d = _draws(s, rng)
    h = s.at.shape[0]
    n_triples = s.c.frequency.shape[0]
    low = np.empty((h, n_triples), dtype=np.int64)
    high = np.empty((h, n_triples), dtype=np.int64)
    chance = np.empty((h, n_triples))
    for i, at in enumerate(s.at.tolist()):
        low[i], high[i], chance[i] = ranges_from_tables(d.tables[at], d.rows, d.alive, level)
    inv = s.c.inverse
    n = inv.shape[0]
    if n <= exact_customers:
        return _simulated(s, d, level, rng, low[:, inv], high[:, inv], chance[:, inv])
    return _normal_ranges(s, d, level, rng, low[:, inv], high[:, inv], chance[:, inv])


def _simulated(
    s: _Setup,
    d: _Draws,
    level: float,
    rng: np.random.Generator,
    low: IntArray,
    high: IntArray,
    chance: FloatArray,
) -> Ranges:
    """Store totals and values by simulating every customer (small stores).

    Each simulated draw has its own parameters, shared by all the customers: the store
    total's spread then carries the parameters' uncertainty in full.
    """
    c, triple = s.c, s.c.inverse
    n = triple.shape[0]
    samples = int(np.clip(EXACT_BUDGET // max(n, 1), MIN_SAMPLES, MAX_SAMPLES))
    n_draws = min(samples, SIMULATION_DRAWS)
    theta = s.model.parameter_draws(n_draws, rng)
    draw = np.arange(samples) % n_draws
    alive_p = np.stack([s.model._p_alive_at(t, c.frequency, c.recency, c.T) for t in theta])
    alive = rng.random((n, samples)) < alive_p[draw][:, triple].T
    who, which = np.nonzero(alive)
    tr = triple[who]
    drawn = s.model._sample_alive(theta[draw[which]], c.frequency[tr], c.T[tr], s.sim_horizons, rng)
    purchases = np.zeros((s.sim_horizons.shape[0], n, samples), dtype=np.int64)
    purchases[:, who, which] = drawn
    alpha = (1 - level) / 2
    totals = tuple(_quantile_range(purchases[at].sum(axis=0), alpha) for at in s.at.tolist())
    value_low = value_high = None
    revenue = None
    if s.spend is not None:
        phi = s.spend.model.parameter_draws(n_draws, rng)[draw[which]]
        x, zbar = s.spend.x[who], s.spend.zbar[who]
        ratio = GammaGammaModel.sample_total_spend(phi, x, drawn[s.value_at], rng)
        scale = GammaGammaModel.spend_scale(phi.T, x, zbar)
        values = np.zeros((n, samples))
        values[who, which] = s.discount_factor[s.pairs.inverse[tr]] * scale * ratio
        value_low, value_high = np.quantile(values, [alpha, 1 - alpha], axis=1)
        revenue = _quantile_range(values.sum(axis=0), alpha)
    return Ranges(
        level=level,
        method="simulation",
        draws=d.theta.shape[0],
        samples=samples,
        low=low,
        high=high,
        chance=chance,
        totals=totals,
        active=_quantile_range(alive.sum(axis=0), alpha),
        value_low=value_low,
        value_high=value_high,
        revenue=revenue,
    )


def _quantile_range(values: FloatArray | IntArray, alpha: float) -> StoreRange:
    low, high = np.quantile(np.asarray(values, dtype=np.float64), [alpha, 1 - alpha])
    return StoreRange(float(low), float(high))


def _normal_ranges(
    s: _Setup,
    d: _Draws,
    level: float,
    rng: np.random.Generator,
    low: IntArray,
    high: IntArray,
    chance: FloatArray,
) -> Ranges:
    """Compute normal store totals, and values from spend draws per pair (large stores)."""
    _, moved = _perturbations(s, rng)
    alive = d.alive.mean(axis=1)
    moments = [(t.first[d.rows].mean(axis=1), t.second[d.rows].mean(axis=1)) for t in d.tables]
    totals = _normal_totals(s, moved, moments, alive, level)
    value_low = value_high = None
    revenue = None
    samples = 0
    if s.spend is not None and s.spend_params is not None:
        samples, v_sorted, v_moments = _pair_values(s, d, rng)
        alpha = (1 - level) / 2
        pair = s.pairs.inverse
        quantiles = _continuous_quantiles(
            v_sorted, pair * samples, samples, alive, (alpha, 1 - alpha)
        )[:, s.c.inverse]
        per_customer = s.discount_factor[pair[s.c.inverse]] * GammaGammaModel.spend_scale(
            s.spend_params, s.spend.x, s.spend.zbar
        )
        value_low, value_high = per_customer * quantiles[0], per_customer * quantiles[1]
        revenue = _normal_revenue(s, moved, v_moments, per_customer, alive, level)
    return Ranges(
        level=level,
        method="normal",
        draws=d.theta.shape[0],
        samples=samples,
        low=low,
        high=high,
        chance=chance,
        totals=totals,
        active=_normal_active(s, moved, alive, level),
        value_low=value_low,
        value_high=value_high,
        revenue=revenue,
    )


def _pair_values(
    s: _Setup, d: _Draws, rng: np.random.Generator
) -> tuple[int, FloatArray, FloatArray]:
    """Spend draws per pair, in units of each customer's spend scale: sorted, and moments.

    ``G(p y) / G(q + p x)`` for ``y`` drawn from the pair's table at the value horizon and
    ``(p, q, gamma)`` from their distribution; ``gamma``'s draw enters through the ratio of
    ``gamma + x zbar`` at the pair's average spend to its value at the estimates.
    """
    assert s.spend is not None
    assert s.spend_params is not None
    pairs = s.pairs
    n_pairs = pairs.x.shape[0]
    n_draws = d.theta.shape[0]
    samples = int(np.clip(VALUE_BUDGET // max(n_pairs, 1), MIN_VALUE_SAMPLES, MAX_SAMPLES))
    phi = s.spend.model.parameter_draws(PARAM_DRAWS, rng)
    pair = np.repeat(np.arange(n_pairs), samples)
    draw = rng.integers(0, n_draws, pair.shape[0])
    # Stratified: the k-th draw of a pair takes its uniform from the k-th of ``samples``
    # equal slices, so every pair's purchases cover their distribution evenly.
    strata = (np.tile(np.arange(samples), n_pairs) + rng.random(pair.shape[0])) / samples
    purchases = d.tables[s.value_at].sample(pair * n_draws + draw, strata)
    spend_draw = phi[rng.integers(0, PARAM_DRAWS, pair.shape[0])]
    x = pairs.x[pair]
    ratio = GammaGammaModel.sample_total_spend(spend_draw, x, purchases, rng)
    z = _pair_spend(s)[pair]
    ratio *= GammaGammaModel.spend_scale(spend_draw.T, x, z) / GammaGammaModel.spend_scale(
        s.spend_params, x, z
    )
    by_pair = ratio.reshape(n_pairs, samples)
    v_moments = np.stack([by_pair.mean(axis=1), (by_pair**2).mean(axis=1)])
    return samples, np.sort(by_pair, axis=1).reshape(-1), v_moments


def _pair_spend(s: _Setup) -> FloatArray:
    """Average spend of each pair's repeat customers (0 for pairs without repeats)."""
    assert s.spend is not None
    pair = s.pairs.inverse[s.c.inverse]
    z = np.where(s.spend.x > 0, s.spend.zbar, 0.0)
    total = np.bincount(pair, weights=z, minlength=s.pairs.x.shape[0])
    count = np.bincount(pair, weights=(s.spend.x > 0).astype(np.float64), minlength=total.shape[0])
    return np.asarray(np.divide(total, count, out=np.zeros_like(total), where=count > 0))


def _continuous_quantiles(
    ordered: FloatArray, start: IntArray, size: int, alive: FloatArray, ps: tuple[float, float]
) -> FloatArray:
    """Quantiles of ``(1 - alive) * [V = 0] + alive * (draws)`` per unit."""
    out = np.empty((len(ps), alive.shape[0]))
    for i, p in enumerate(ps):
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(alive > 0, (p - (1 - alive)) / np.maximum(alive, 1e-300), -1.0)
        rank = np.clip(np.ceil(np.clip(share, 0.0, 1.0) * size - 1e-9), 1, size).astype(np.int64)
        out[i] = np.where(share <= 0, 0.0, ordered[start + rank - 1])
    return out


def _z(level: float) -> float:
    return float(special.ndtri((1 + level) / 2))


def _log_covariance(covariance: FloatArray | None, params: FloatArray) -> FloatArray:
    """Covariance of the log-parameters by the delta method."""
    assert covariance is not None
    return np.asarray(covariance / np.outer(params, params), dtype=np.float64)


#: Relative step of the forward differences of the store totals in the log-parameters.
STEP = 1e-4


@dataclass(frozen=True)
class _Perturbed:
    """One parameter moved: ``P(alive)`` and expectations given alive on sampled histories."""

    triples: IntArray
    weights: FloatArray
    alive: FloatArray
    given_alive: FloatArray  # (h_all, sampled triples)

    def base(self, s: _Setup, h: int) -> tuple[float, float]:
        """Return the sampled total at the estimates and with the parameter moved."""
        at_estimates = s.alive[self.triples] * s.given_alive[h][s.pairs.inverse[self.triples]]
        return float(self.weights @ at_estimates), float(
            self.weights @ (self.alive * self.given_alive[h])
        )


#: Customers on which the totals' sensitivity to the parameters is computed.
SENSITIVITY_SAMPLE = 20_000


def _perturbations(s: _Setup, rng: np.random.Generator) -> tuple[FloatArray, list[_Perturbed]]:
    """Move each parameter by ``STEP`` on the log scale; recompute on a sample of customers.

    Only the totals' *sensitivity* to the parameters comes from these, so a weighted
    random sample of the histories (scaled back to the whole store) serves: its error
    is a percent or so of the parameters' share of the variance. Returns the sampled
    histories' weights (scaled) and their perturbed quantities.
    """
    c, pairs = s.c, s.pairs
    weights = c.weights
    if c.weights.sum() > SENSITIVITY_SAMPLE:
        picks = rng.choice(weights.shape[0], SENSITIVITY_SAMPLE, p=weights / weights.sum())
        triples, counts = np.unique(picks, return_counts=True)
        scaled = counts * (weights.sum() / SENSITIVITY_SAMPLE)
    else:
        triples = np.arange(weights.shape[0])
        scaled = weights
    pair_ids, pair_of = np.unique(pairs.inverse[triples], return_inverse=True)
    out = []
    for j in range(s.params.shape[0]):
        params = s.params.copy()
        params[j] *= math.exp(STEP)
        alive = s.model._p_alive_at(params, c.frequency[triples], c.recency[triples], c.T[triples])
        given = s.model._expected_alive(
            params, s.sim_horizons, pairs.x[pair_ids], pairs.T[pair_ids]
        )
        out.append(_Perturbed(triples, scaled, alive, given[:, pair_of]))
    return scaled, out


def _normal_totals(
    s: _Setup,
    moved: list[_Perturbed],
    moments: list[tuple[FloatArray, FloatArray]],
    alive: FloatArray,
    level: float,
) -> tuple[StoreRange, ...]:
    """Store totals of purchases: forecast +- z * sqrt(parameter part + customers' part)."""
    w = s.c.weights
    cov = _log_covariance(s.model.covariance_, s.params)
    out = []
    for h in s.at.tolist():
        mean = float(np.dot(w * s.alive, s.given_alive[h][s.pairs.inverse]))
        grad = np.array([(b - a) / STEP for a, b in (m.base(s, h) for m in moved)])
        m1, m2 = moments[h]
        noise = float(np.dot(w, alive * m2 - (alive * m1) ** 2))
        out.append(_normal(mean, float(grad @ cov @ grad) + max(noise, 0.0), level))
    return tuple(out)


def _normal_active(
    s: _Setup, moved: list[_Perturbed], alive: FloatArray, level: float
) -> StoreRange:
    w = s.c.weights
    mean = float(np.dot(w, s.alive))
    grad = np.array([float(m.weights @ (m.alive - s.alive[m.triples])) / STEP for m in moved])
    noise = float(np.dot(w, alive * (1 - alive)))
    cov = _log_covariance(s.model.covariance_, s.params)
    return _normal(mean, float(grad @ cov @ grad) + noise, level)


def _normal_revenue(
    s: _Setup,
    moved: list[_Perturbed],
    v_moments: FloatArray,
    per_customer: FloatArray,
    alive_triples: FloatArray,
    level: float,
) -> StoreRange:
    """Store total of lifetime value, as :func:`_normal_totals` with both models' parameters."""
    assert s.spend is not None
    assert s.spend_params is not None
    value = _point_value(s)
    mean = float(value.sum())
    spend = _expected_spend(s.spend, s.spend_params)
    pair = s.pairs.inverse[s.c.inverse]

    # Per triple, the value of one customer divided by their expected spend is the same
    # for every customer of the triple; weight it by the triple's total expected spend.
    spend_by_triple = np.bincount(s.c.inverse, weights=spend, minlength=s.c.weights.shape[0])

    def moved_value(m: _Perturbed) -> float:
        triple_pair = s.pairs.inverse[m.triples]
        factor = s.discount_factor[triple_pair]
        before = s.alive[m.triples] * s.given_alive[s.value_at][triple_pair] * factor
        after = m.alive * m.given_alive[s.value_at] * factor
        share = spend_by_triple[m.triples] / s.c.weights[m.triples]
        return float(m.weights @ ((after - before) * share))

    g_theta = np.array([moved_value(m) / STEP for m in moved])
    g_phi = np.empty(3)
    for j in range(3):
        params = s.spend_params.copy()
        params[j] *= math.exp(STEP)
        ratio = _expected_spend(s.spend, params) / spend
        g_phi[j] = (float(np.dot(value, ratio)) - mean) / STEP
    param_var = float(g_theta @ _log_covariance(s.model.covariance_, s.params) @ g_theta)
    param_var += float(g_phi @ _log_covariance(s.spend.model.covariance_, s.spend_params) @ g_phi)
    alive = alive_triples[s.c.inverse]
    first = alive * per_customer * v_moments[0][pair]
    second = alive * per_customer**2 * v_moments[1][pair]
    noise = float(np.sum(second - first**2))
    return _normal(mean, param_var + max(noise, 0.0), level)


def _normal(mean: float, variance: float, level: float) -> StoreRange:
    spread = _z(level) * math.sqrt(max(variance, 0.0))
    return StoreRange(max(mean - spread, 0.0), mean + spread)
