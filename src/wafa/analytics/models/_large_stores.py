"""Ranges of large stores: normal store totals, and values from spend draws per pair.

Beyond ``EXACT_CUSTOMERS`` customers a store total is the sum of so many independent
customers that it is normal: its mean is the forecast, its variance the parameters'
share (the delta method on the log scale, the sensitivities computed on a weighted
sample of histories) plus the customers' own variances (from the purchase tables). Each
customer's value range comes from spend draws per ``(x, T)`` pair, in units of the
customer's own spend scale. See :mod:`wafa.analytics.models.forecast`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

from wafa.analytics.models._forecast_base import (
    MAX_SAMPLES,
    MIN_VALUE_SAMPLES,
    PARAM_DRAWS,
    VALUE_BUDGET,
    Draws,
    Ranges,
    Setup,
    StoreRange,
    expected_spend,
    point_value,
)
from wafa.analytics.models.base import FloatArray, IntArray
from wafa.analytics.models.gamma_gamma import GammaGammaModel

__all__ = ["normal_ranges"]


def normal_ranges(
    s: Setup,
    d: Draws,
    level: float,
    rng: np.random.Generator,
    whole_numbers: Callable[[], tuple[IntArray, IntArray, FloatArray]],
) -> Ranges:
    """Compute normal store totals, and values from spend draws per pair (large stores).

    ``whole_numbers`` returns each customer's ``low``, ``high`` and ``chance`` (it may be
    computed meanwhile in another thread: it is called last).
    """
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
        quantiles = np.take(
            _continuous_quantiles(v_sorted, pair * samples, samples, alive, (alpha, 1 - alpha)),
            s.c.inverse,
            axis=1,
        )
        per_customer = s.discount_factor[pair[s.c.inverse]] * GammaGammaModel.spend_scale(
            s.spend_params, s.spend.x, s.spend.zbar
        )
        value_low, value_high = per_customer * quantiles[0], per_customer * quantiles[1]
        revenue = _normal_revenue(s, moved, v_moments, per_customer, alive, level)
    active = _normal_active(s, moved, alive, level)
    low, high, chance = whole_numbers()
    return Ranges(
        level=level,
        method="normal",
        draws=d.theta.shape[0],
        samples=samples,
        low=low,
        high=high,
        chance=chance,
        totals=totals,
        active=active,
        value_low=value_low,
        value_high=value_high,
        revenue=revenue,
    )


def _pair_values(
    s: Setup, d: Draws, rng: np.random.Generator
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


def _pair_spend(s: Setup) -> FloatArray:
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

    def base(self, s: Setup, h: int) -> tuple[float, float]:
        """Return the sampled total at the estimates and with the parameter moved."""
        at_estimates = s.alive[self.triples] * s.given_alive[h][s.pairs.inverse[self.triples]]
        return float(self.weights @ at_estimates), float(
            self.weights @ (self.alive * self.given_alive[h])
        )


#: Customers on which the totals' sensitivity to the parameters is computed.
SENSITIVITY_SAMPLE = 20_000


def _perturbations(s: Setup, rng: np.random.Generator) -> tuple[FloatArray, list[_Perturbed]]:
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
    s: Setup,
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
    s: Setup, moved: list[_Perturbed], alive: FloatArray, level: float
) -> StoreRange:
    w = s.c.weights
    mean = float(np.dot(w, s.alive))
    grad = np.array([float(m.weights @ (m.alive - s.alive[m.triples])) / STEP for m in moved])
    noise = float(np.dot(w, alive * (1 - alive)))
    cov = _log_covariance(s.model.covariance_, s.params)
    return _normal(mean, float(grad @ cov @ grad) + noise, level)


def _normal_revenue(
    s: Setup,
    moved: list[_Perturbed],
    v_moments: FloatArray,
    per_customer: FloatArray,
    alive_triples: FloatArray,
    level: float,
) -> StoreRange:
    """Store total of lifetime value, as :func:`_normal_totals` with both models' parameters."""
    assert s.spend is not None
    assert s.spend_params is not None
    value = point_value(s)
    mean = float(value.sum())
    spend = expected_spend(s.spend, s.spend_params)
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
        ratio = expected_spend(s.spend, params) / spend
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
