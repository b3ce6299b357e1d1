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
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

from wafa.analytics.models._forecast_base import (
    EXACT_BUDGET,
    EXACT_CUSTOMERS,
    LEVEL,
    MAX_SAMPLES,
    MIN_SAMPLES,
    PARAM_DRAWS,
    SIMULATION_DRAWS,
    TABLE_BUDGET,
    VALUE_NODES,
    AnyTransactionModel,
    Draws,
    Forecast,
    Ranges,
    Setup,
    Spend,
    StoreRange,
    ValueHorizon,
    point_value,
)
from wafa.analytics.models._large_stores import normal_ranges
from wafa.analytics.models._tables import build_table, ranges_from_tables
from wafa.analytics.models._transaction import pairs_of
from wafa.analytics.models.base import (
    Compressed,
    FloatArray,
    IntArray,
    as_float_array,
    check_rfm,
    compress,
)
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
    known: Compressed | None = None,
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
    known : Compressed, optional
        The customers' compression if already made (the fit's, when forecasting the
        customers it was fitted on; see :func:`~wafa.analytics.models.base.compress`).

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
    setup = _setup(model, compress(x, t_x, big_t, known=known), asked, spend, value)
    inv = setup.c.inverse
    # Each customer's P(alive) times its pair's expectation given alive, gathered per
    # customer with ``np.take`` (on a million customers ten times faster than
    # ``a[:, index]``, whose result is also laid out column by column): the same products.
    expected = setup.alive[inv][None, :] * np.take(
        setup.given_alive[setup.at], setup.pairs.inverse[inv], axis=1
    )
    value_arr = None if spend is None else point_value(setup)
    ranges = None
    if level is not None:
        if not 0 < level < 1:
            raise ValueError("level must be between 0 and 1")
        ranges = _ranges(setup, level, np.random.default_rng(random_state), exact_customers)
    return Forecast(asked, setup.alive[inv], expected, value_arr, ranges)


def _setup(
    model: AnyTransactionModel,
    c: Compressed,
    asked: FloatArray,
    spend: Spend | None,
    value: ValueHorizon | None,
) -> Setup:
    params = model._params_array()
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
    return Setup(
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


# --------------------------------------------------------------------- ranges


def _draws(s: Setup, rng: np.random.Generator) -> Draws:
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
    return Draws(theta, tables, rows.astype(np.intp), alive)


def _ranges(s: Setup, level: float, rng: np.random.Generator, exact_customers: int) -> Ranges:
    d = _draws(s, rng)

    def whole_numbers() -> tuple[IntArray, IntArray, FloatArray]:
        """Each customer's range per window, read from the tables (no random draw)."""
        h = s.at.shape[0]
        n_triples = s.c.frequency.shape[0]
        low = np.empty((h, n_triples), dtype=np.int64)
        high = np.empty((h, n_triples), dtype=np.int64)
        chance = np.empty((h, n_triples))
        for i, at in enumerate(s.at.tolist()):
            low[i], high[i], chance[i] = ranges_from_tables(d.tables[at], d.rows, d.alive, level)
        # ``np.take``: on a million customers ten times faster than ``a[:, index]``.
        return (
            np.take(low, s.c.inverse, axis=1),
            np.take(high, s.c.inverse, axis=1),
            np.take(chance, s.c.inverse, axis=1),
        )

    if s.c.inverse.shape[0] <= exact_customers:
        return _simulated(s, d, level, rng, *whole_numbers())
    # A large store's customer ranges read only the tables and the store totals only
    # draw their own numbers: the ranges are made in a thread beside the totals (NumPy
    # releases the GIL), each the same as one after the other.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wafa-ranges") as pool:
        pending = pool.submit(whole_numbers)
        return normal_ranges(s, d, level, rng, pending.result)


def _simulated(
    s: Setup,
    d: Draws,
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
