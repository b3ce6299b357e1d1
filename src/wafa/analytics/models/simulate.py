"""Simulate customer summaries from the models, for tests, demos and benchmarks.

Each function draws per-customer latent traits and produces the calibration summary
``(frequency, recency, T)`` directly (no transaction log), exactly as the models
describe the data; optional Gamma-Gamma spend gives ``monetary_value``, and a
``holdout`` length gives what each customer buys in the window after ``T``.

Purchases, not purchase days
----------------------------
These summaries count every purchase of the continuous-time process. Wafa's summaries
(and CDNOW's) count purchase *days*: two purchases on one day are one occasion. A
simulation that writes timestamped orders and summarises them by day therefore merges
the same-day purchases of the heaviest buyers, which makes the customers look less
different from one another than the parameters say: fitted ``r`` and ``alpha`` come out
higher (by about half a standard error at 2,000 CDNOW-like customers, the "shift" once
seen in simulation), while a fit on the un-merged counts recovers the parameters
(``tests/analytics/models/test_simulate.py`` shows both). The fit is not at fault: the
models then describe purchase days, which is what Wafa forecasts and checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wafa.analytics.models.base import FloatArray

__all__ = ["SimulatedCustomers", "simulate_bgnbd", "simulate_pareto_nbd"]


@dataclass(frozen=True)
class SimulatedCustomers:
    """Simulated calibration summary.

    Attributes
    ----------
    frequency, recency, T : numpy.ndarray
        Repeat transactions, time of the last minus the first, observation length.
    monetary_value : numpy.ndarray
        Average value of the repeat transactions (0 where ``frequency == 0``).
    holdout_frequency : numpy.ndarray
        Purchases in ``(T, T + holdout]`` (zeros without a holdout).
    """

    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary_value: FloatArray
    holdout_frequency: FloatArray


def _observation_lengths(
    rng: np.random.Generator, n: int, t_min: float, t_max: float, resolution: float | None
) -> FloatArray:
    big_t = rng.uniform(t_min, t_max, size=n)
    if resolution:
        big_t = np.maximum(np.round(big_t / resolution), 1.0) * resolution
    return np.asarray(big_t, dtype=np.float64)


def _spend(
    rng: np.random.Generator, x: FloatArray, spend: tuple[float, float, float] | None
) -> FloatArray:
    if spend is None:
        return np.zeros_like(x)
    p, q, gamma = spend
    nu = rng.gamma(q, 1.0 / gamma, size=x.shape[0])
    safe_x = np.maximum(x, 1.0)
    # The mean of x Gamma(p, nu) values is Gamma(p x, x nu).
    zbar = rng.gamma(p * safe_x, 1.0 / (safe_x * nu))
    return np.asarray(np.where(x > 0, zbar, 0.0), dtype=np.float64)


def _round_recency(
    recency: FloatArray, big_t: FloatArray, x: FloatArray, resolution: float | None
) -> FloatArray:
    if resolution:
        recency = np.round(recency / resolution) * resolution
        # A repeat purchase cannot fall on the first purchase's own day.
        recency = np.where(x > 0, np.maximum(recency, resolution), 0.0)
    return np.asarray(np.minimum(recency, big_t), dtype=np.float64)


def simulate_bgnbd(
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    t_min: float = 26.0,
    t_max: float = 52.0,
    resolution: float | None = 1.0 / 7.0,
    spend: tuple[float, float, float] | None = None,
    holdout: float = 0.0,
    random_state: int | np.random.Generator | None = None,
) -> SimulatedCustomers:
    """Draw ``n`` customers from the BG/NBD process (Fader, Hardie & Lee 2005).

    ``lambda ~ Gamma(r, alpha)``, ``p ~ Beta(a, b)``; the customer drops out after the
    ``K``-th repeat purchase, ``K ~ Geometric(p)``, so ``x = min(N(T), K)`` with
    ``N(T) ~ Poisson(lambda T)``, and given ``N(T) = m`` the ``x``-th purchase time is
    the ``x``-th order statistic of ``m`` uniforms on ``(0, T)``.

    Parameters
    ----------
    n : int
        Number of customers.
    r, alpha, a, b : float
        BG/NBD parameters.
    t_min, t_max : float, optional
        ``T`` is uniform on ``[t_min, t_max]`` (customers acquired at a steady rate).
    resolution : float or None, optional
        Round times to this grid (default one day in weeks), as a real summary does.
    spend : tuple of float, optional
        Gamma-Gamma ``(p, q, gamma)`` for ``monetary_value``.
    holdout : float, optional
        Length of the window after ``T`` whose purchases are counted.
    random_state : int, numpy.random.Generator or None, optional
        Seed.

    Returns
    -------
    SimulatedCustomers
        The calibration summary (and the holdout purchases).
    """
    rng = np.random.default_rng(random_state)
    big_t = _observation_lengths(rng, n, t_min, t_max, resolution)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    m = rng.poisson(lam * big_t).astype(np.float64)
    k = rng.geometric(np.clip(p, 1e-300, 1.0)).astype(np.float64)
    x = np.minimum(m, k)
    safe_x = np.maximum(x, 1.0)
    order_stat = rng.beta(safe_x, np.maximum(m - x + 1.0, 1.0))
    recency = np.where(x > 0, big_t * order_stat, 0.0)
    recency = _round_recency(recency, big_t, x, resolution)
    monetary = _spend(rng, x, spend)
    # Alive at T when the drop-out purchase K has not been reached; then up to K - m more.
    later = np.zeros(n)
    if holdout > 0:
        more = rng.poisson(lam * holdout).astype(np.float64)
        later = np.where(m < k, np.minimum(more, k - m), 0.0)
    return SimulatedCustomers(x, recency, big_t, monetary, later)


def simulate_pareto_nbd(
    n: int,
    *,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    t_min: float = 26.0,
    t_max: float = 52.0,
    resolution: float | None = 1.0 / 7.0,
    spend: tuple[float, float, float] | None = None,
    holdout: float = 0.0,
    random_state: int | np.random.Generator | None = None,
) -> SimulatedCustomers:
    """Draw ``n`` customers from the Pareto/NBD process (Schmittlein et al. 1987).

    ``lambda ~ Gamma(r, alpha)``, ``mu ~ Gamma(s, beta)``, lifetime
    ``omega ~ Exponential(mu)``; ``x ~ Poisson(lambda min(omega, T))`` and the last
    purchase is the maximum of ``x`` uniforms on ``(0, min(omega, T))``.

    Parameters
    ----------
    n : int
        Number of customers.
    r, alpha, s, beta : float
        Pareto/NBD parameters.
    t_min, t_max : float, optional
        ``T`` is uniform on ``[t_min, t_max]``.
    resolution : float or None, optional
        Round times to this grid (default one day in weeks).
    spend : tuple of float, optional
        Gamma-Gamma ``(p, q, gamma)`` for ``monetary_value``.
    holdout : float, optional
        Length of the window after ``T`` whose purchases are counted.
    random_state : int, numpy.random.Generator or None, optional
        Seed.

    Returns
    -------
    SimulatedCustomers
        The calibration summary (and the holdout purchases).
    """
    rng = np.random.default_rng(random_state)
    big_t = _observation_lengths(rng, n, t_min, t_max, resolution)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    mu = rng.gamma(s, 1.0 / beta, size=n)
    lifetime = rng.exponential(1.0 / mu)
    alive_for = np.minimum(lifetime, big_t)
    x = rng.poisson(lam * alive_for).astype(np.float64)
    last = alive_for * rng.beta(np.maximum(x, 1.0), 1.0)
    recency = _round_recency(np.where(x > 0, last, 0.0), big_t, x, resolution)
    monetary = _spend(rng, x, spend)
    later = np.zeros(n)
    if holdout > 0:
        exposure = np.clip(lifetime - big_t, 0.0, holdout)
        later = rng.poisson(lam * exposure).astype(np.float64)
    return SimulatedCustomers(x, recency, big_t, monetary, later)
