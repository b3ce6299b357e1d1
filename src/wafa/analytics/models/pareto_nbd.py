r"""Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

The likelihood is the Fader & Hardie (2005) form. Its awkward part, the term ``A_0``
written with Gaussian hypergeometric functions, is a difference of two ``2F1`` terms
that cancels catastrophically when ``t_x`` is close to ``T`` and overflows for heavy
buyers (lifetimes returns NaN there). Wafa never forms that difference: it evaluates
the integral that ``A_0`` stands for,

.. math::

    \frac{s}{r+s+x} A_0 = s \int_{t_x}^{T} (\alpha+\tau)^{-(r+x)}
        (\beta+\tau)^{-(s+1)} \, d\tau,

whose integrand is positive, by Gauss-Legendre quadrature in log space (see
:func:`log_purchase_integral`). It was checked against ``mpmath.hyp2f1`` at 80 digits
over ``r, s`` in ``[0.01, 100]``, ``alpha, beta`` in ``[0.001, 1000]``, ``x`` up to
5000 and ``t_x`` from 0 to ``T(1 - 1e-9)``: worst error in ``log A_0`` about ``2e-8``
(typically at rounding level).

References
----------
.. [SMC87] Schmittlein, D. C., Morrison, D. G. and Colombo, R. (1987). "Counting Your
   Customers: Who Are They and What Will They Do Next?" *Management Science* 33(1),
   1-24.
.. [FH05] Fader, P. S. and Hardie, B. G. S. (2005). "A Note on Deriving the Pareto/NBD
   Model and Related Expressions". brucehardie.com/notes/009.
.. [FHL05b] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "RFM and CLV: Using
   Iso-Value Curves for Customer Base Analysis". *Journal of Marketing Research* 42(4),
   415-430.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, exprel, gammaln

from wafa.analytics.models._transaction import AlivePmf, TransactionModel
from wafa.analytics.models.base import (
    FloatArray,
    IntArray,
    RFMData,
    dot,
    logaddexp,
)
from wafa.analytics.models.numerics import (
    counts_until,
)

#: Gauss-Legendre nodes for the ``A_0`` integral.
QUADRATURE_NODES = 32
#: Rows whose substituted range ``v_max`` is at most ``SHORT_RANGE`` use fewer nodes.
SHORT_RANGE = 3.0
SHORT_RANGE_NODES = 16
#: The integration range is cut where the rest is below ``exp(-TAIL_LOG)`` of the whole.
TAIL_LOG = 40.0
#: Rows per block when evaluating the integral (bounds memory at ~ rows x nodes).
BLOCK_ROWS = 4096
#: Threads evaluating blocks in parallel (NumPy ufuncs release the GIL).
WORKERS = min(os.cpu_count() or 1, 8)
#: Gauss-Legendre nodes over the remaining lifetime in :class:`_ParetoPmf`.
LIFETIME_NODES = 12

__all__ = ["ParetoNBDModel", "ParetoNBDParams", "log_purchase_integral"]


def _rule(n: int) -> tuple[FloatArray, FloatArray]:
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return (nodes + 1) / 2, np.log(weights / 2)


_RULE_SHORT = _rule(SHORT_RANGE_NODES)
_RULE_LONG = _rule(QUADRATURE_NODES)


@dataclass(frozen=True)
class ParetoNBDParams:
    """Pareto/NBD parameters.

    Attributes
    ----------
    r, alpha : float
        Shape and rate of the gamma distribution of the purchase rate lambda.
    s, beta : float
        Shape and rate of the gamma distribution of the drop-out rate mu.
    """

    r: float
    alpha: float
    s: float
    beta: float


@dataclass(frozen=True)
class PurchaseIntegral:
    """``log I`` and the node-weighted means needed for the gradient."""

    log_value: FloatArray
    mean_log_alpha: FloatArray
    mean_inv_alpha: FloatArray
    mean_log_beta: FloatArray
    mean_inv_beta: FloatArray


def log_purchase_integral(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    x: FloatArray,
    t_x: FloatArray,
    big_t: FloatArray,
) -> PurchaseIntegral:
    """Log of ``I = int_{t_x}^{T} (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau``, stably.

    ``s * I`` equals ``s / (r+s+x) * A_0`` of [FH05]_ (the term with the two ``2F1``).
    The integrand decays from ``t_x`` at rate ``k = (r+x)/(alpha+t_x) + (s+1)/(beta+t_x)``
    and then like a power law. The substitution ``tau = t_x + (exp(v) - 1) / k`` turns
    both the sharp initial decay of heavy buyers and the long power-law tail into a
    smooth bump in ``v``. The range ``v in [0, log(1 + k (T - t_x))]`` is cut where a
    lower bound on the decay, ``(1 + (tau - t_x)/c)^-(r+s+x+1)`` with
    ``c = max(alpha, beta) + t_x``, guarantees the rest is below ``exp(-TAIL_LOG)`` of the
    integral, and a Gauss-Legendre rule is applied with ``logsumexp``: 16 nodes when the
    range is at most 3, else 32 (against ``mpmath`` over a wide random grid the error in
    ``log I`` stays below about 1e-8). Rows with ``t_x == T`` give ``I = 0``
    (``log_value = -inf``).

    Parameters
    ----------
    r, alpha, s, beta : float
        Model parameters.
    x, t_x, big_t : numpy.ndarray
        Frequency, recency and T.

    Returns
    -------
    PurchaseIntegral
        ``log I`` and the means, under the normalised integrand, of ``log(alpha+tau)``,
        ``1/(alpha+tau)``, ``log(beta+tau)`` and ``1/(beta+tau)`` (the derivatives of
        ``log I`` with respect to the parameters are built from them).
    """
    n = x.shape[0]
    out = [np.zeros(n) for _ in range(5)]
    out[0].fill(-np.inf)
    rows = np.flatnonzero(big_t > t_x)
    xr, tr = x[rows], t_x[rows]
    rx = r + xr
    a_t = alpha + tr
    b_t = beta + tr
    rate = rx / a_t + (s + 1) / b_t
    c_max = np.maximum(a_t, b_t)
    ratio = c_max / np.minimum(a_t, b_t)
    m1 = rx + s + 1
    with np.errstate(over="ignore"):
        # Solve m1 log(1+u) - log(1 + u m1 ratio) = TAIL_LOG for the cut u (a few
        # fixed-point steps; an overflow means "no cut needed").
        y = TAIL_LOG / m1
        for _ in range(4):
            y = (TAIL_LOG + np.log1p(np.expm1(y) * m1 * ratio)) / m1
        v_cut = np.log1p(np.expm1(y) * c_max * rate)
    v_max = np.minimum(np.log1p((big_t[rows] - tr) * rate), v_cut)

    def block(sel: IntArray, frac: FloatArray, logw: FloatArray) -> None:
        # In-place arithmetic: this loop is the whole cost of a Pareto/NBD fit.
        idx = rows[sel]
        scale = 1.0 / rate[sel]
        vm = v_max[sel]
        v = np.multiply.outer(vm, frac)
        tau = np.expm1(v)
        tau *= scale[:, None]
        tau += tr[sel][:, None]
        inv_a = tau + alpha
        log_a = np.log(inv_a)
        np.reciprocal(inv_a, out=inv_a)
        inv_b = tau + beta
        log_b = np.log(inv_b)
        np.reciprocal(inv_b, out=inv_b)
        g = np.multiply(log_a, -rx[sel][:, None], out=tau)
        g -= (s + 1) * log_b
        g += v
        g += logw
        peak = g.max(axis=1)
        g -= peak[:, None]
        weights = np.exp(g, out=g)
        total = weights.sum(axis=1)
        out[0][idx] = peak + np.log(total) + np.log(vm) + np.log(scale)
        out[1][idx] = np.einsum("ij,ij->i", weights, log_a) / total
        out[2][idx] = np.einsum("ij,ij->i", weights, inv_a) / total
        out[3][idx] = np.einsum("ij,ij->i", weights, log_b) / total
        out[4][idx] = np.einsum("ij,ij->i", weights, inv_b) / total

    # Short ranges (most customers) need half the nodes for the same accuracy.
    short = v_max <= SHORT_RANGE
    jobs: list[tuple[IntArray, FloatArray, FloatArray]] = []
    for mask, (frac, logw) in ((short, _RULE_SHORT), (~short, _RULE_LONG)):
        sel = np.flatnonzero(mask)
        jobs.extend(
            (sel[i : i + BLOCK_ROWS], frac, logw) for i in range(0, sel.shape[0], BLOCK_ROWS)
        )
    if rows.shape[0] > 2 * BLOCK_ROWS and WORKERS > 1:
        # NumPy releases the GIL inside ufuncs, so blocks run in parallel on threads;
        # they write disjoint rows of ``out``. Small inputs stay on this thread: starting
        # the threads would cost more than the work.
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(lambda job: block(*job), jobs))
    else:
        for job in jobs:
            block(*job)
    return PurchaseIntegral(*out)


class ParetoNBDModel(TransactionModel[ParetoNBDParams]):
    """Pareto/NBD model [SMC87]_, likelihood as in [FH05]_.

    While alive a customer buys as a Poisson process with rate ``lambda`` and drops out
    after an exponential lifetime with rate ``mu``; across customers
    ``lambda ~ Gamma(r, alpha)`` and ``mu ~ Gamma(s, beta)``, independently.

    Parameters
    ----------
    penalizer_coef : float or None, optional
        Ridge coefficient on the log-parameters; ``None`` (default) applies 0.001 only
        when fewer than 300 customers made a repeat purchase (see ``small_sample_``).
    tol : float, optional
        Optimiser gradient tolerance.
    max_iter : int, optional
        Maximum number of optimiser iterations.

    Attributes
    ----------
    params_ : ParetoNBDParams
        Maximum-likelihood estimates ``r, alpha, s, beta``.
    standard_errors_ : ParetoNBDParams
        Square roots of the diagonal of the inverse Hessian of the negative
        log-likelihood, taken numerically in the natural parameter space.
    log_likelihood_ : float
        Total log-likelihood at the optimum (without the penalty).
    n_customers_ : float
        Number of customers fitted.
    converged_ : bool
        Always ``True`` on a fitted model (failure raises ``ConvergenceError``).
    small_sample_ : bool
        Fewer than 300 customers with a repeat purchase.
    warnings_ : tuple of str
        Diagnostics worth showing to a person.
    """

    _model_name: ClassVar[str] = "Pareto/NBD"
    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    _pmf_cost: ClassVar[float] = LIFETIME_NODES + 1.0

    def _make_params(self, values: Sequence[float]) -> ParetoNBDParams:
        return ParetoNBDParams(*values)

    def _initial_params(
        self, x: FloatArray, t_x: FloatArray, big_t: FloatArray, w: FloatArray
    ) -> FloatArray:
        exposure = dot(w, big_t)
        rate = max(dot(w, x) / exposure, 1e-3) if exposure > 0 else 1.0
        return np.array([1.0, 1.0 / rate, 1.0, 1.0 / rate])

    def _loglik(self, params: FloatArray, data: RFMData) -> tuple[FloatArray, FloatArray]:
        """Log-likelihood of [FH05]_ per row and its weighted gradient.

        ``L = G(r+x) alpha^r beta^s / G(r) * [(alpha+T)^-(r+x) (beta+T)^-s + s I]`` with
        ``I`` from :func:`log_purchase_integral`; the bracket is combined with
        ``logaddexp``.
        """
        r, alpha, s, beta = (float(v) for v in params)
        xv, idx, xw, w = data.x_values, data.x_index, data.x_weight, data.w
        x, big_t = data.x, data.T
        n = float(w.sum())
        integral = log_purchase_integral(r, alpha, s, beta, x, data.t_x, big_t)
        rx = r + x
        log_at = np.log(alpha + big_t)
        log_bt = np.log(beta + big_t)
        log_alive = -rx * log_at - s * log_bt
        log_dead = np.log(s) + integral.log_value
        lse = logaddexp(log_alive, log_dead)
        w_alive = np.exp(log_alive - lse)
        lead_v = gammaln(r + xv) - gammaln(r)
        ll = lead_v[idx] + (r * np.log(alpha) + s * np.log(beta)) + lse

        wa = w * w_alive
        wd = w - wa
        d_r = (
            xw @ digamma(r + xv)
            - n * digamma(r)
            + n * np.log(alpha)
            - dot(wa, log_at)
            - dot(wd, integral.mean_log_alpha)
        )
        d_alpha = n * r / alpha - (
            dot(wa, rx / (alpha + big_t)) + dot(wd, rx * integral.mean_inv_alpha)
        )
        d_s = (
            n * np.log(beta)
            - dot(wa, log_bt)
            + float(wd.sum()) / s
            - dot(wd, integral.mean_log_beta)
        )
        d_beta = (
            n * s / beta
            - s * dot(wa, 1.0 / (beta + big_t))
            - (s + 1) * dot(wd, integral.mean_inv_beta)
        )
        grad = np.array([d_r, d_alpha, d_s, d_beta], dtype=np.float64)
        return np.asarray(ll, dtype=np.float64), grad

    # -- predictions ----------------------------------------------------------------

    def _p_alive_at(
        self, params: FloatArray, x: FloatArray, t_x: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        """``P(alive) = (alpha+T)^-(r+x) (beta+T)^-s / [(alpha+T)^-(r+x) (beta+T)^-s + s I]``.

        The [SMC87]_ result in the form of [FH05]_ (the likelihood's "alive" term over the
        whole likelihood), computed in log space. Finite for every valid input; with
        ``t_x == T`` the integral vanishes and the customer is alive with probability 1.
        """
        return _p_alive(params, x, t_x, big_t)

    def _expected_alive(
        self, params: FloatArray, horizons: FloatArray, x: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        """Conditional expectation of [SMC87]_ given alive, in the notation of [FH05]_.

        ``E[Y(t) | alive, x, T] = (r+x)/(alpha+T) * (beta+T)/(s-1)
        * [1 - ((beta+T)/(beta+T+t))^(s-1)]``, with the last two factors evaluated as
        ``(beta+T) * u * exprel(-(s-1) u)``, ``u = log(1 + t/(beta+T))``: exact at
        ``s = 1`` (where the closed form is 0/0) and free of cancellation for small ``t``.
        """
        r, alpha, s, beta = (float(v) for v in params)
        u = np.log1p(np.multiply.outer(horizons, 1.0 / (beta + big_t)))
        rate = (r + x) / (alpha + big_t) * (beta + big_t)
        return np.asarray(rate[None, :] * u * exprel(-(s - 1) * u), dtype=np.float64)

    def _alive_pmf(
        self, params: FloatArray, x: FloatArray, big_t: FloatArray, t: float
    ) -> AlivePmf:
        return _ParetoPmf(params, x, big_t, t)

    def _sample_alive(
        self,
        params: FloatArray,
        x: FloatArray,
        big_t: FloatArray,
        horizons: FloatArray,
        rng: np.random.Generator,
    ) -> IntArray:
        """Purchases in ``(T, T + t]`` of customers alive at ``T``, one draw per row.

        ``lambda ~ Gamma(r+x, alpha+T)``, ``mu ~ Gamma(s, beta+T)`` (the posterior given
        alive, [FH05]_); the remaining lifetime is exponential with rate ``mu`` (memoryless)
        and purchases arrive as a Poisson process with rate ``lambda`` until it ends.
        """
        r, alpha, s, beta = params.T
        lam = rng.standard_gamma(r + x) / (alpha + big_t)
        mu = rng.standard_gamma(s) / (beta + big_t)
        # mu may underflow to (nearly) 0: such a customer never leaves (lifetime inf).
        with np.errstate(divide="ignore", over="ignore"):
            lifetime = rng.standard_exponential(x.shape[0]) / mu
        return counts_until(rng, lam, horizons, until=lifetime)

    def expected_purchases_new_customer(self, t: npt.ArrayLike) -> FloatArray:
        """Unconditional expected number of repeat purchases ``E[X(t)]``.

        [SMC87]_ / [FH05]_: ``r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]``,
        evaluated as ``(r/alpha) beta u exprel(-(s-1) u)`` with ``u = log(1 + t/beta)``
        (exact at ``s = 1``). Used for the tracking curve of cumulative repeat purchases.

        Parameters
        ----------
        t : array_like
            Time(s) since the first purchase, ``t >= 0``.

        Returns
        -------
        numpy.ndarray
            Expected repeat purchases, one per ``t``.
        """
        r, alpha, s, beta = self._params_array()
        times = self._check_t(t)
        u = np.log1p(times / beta)
        return np.asarray(r / alpha * beta * u * exprel(-(s - 1) * u), dtype=np.float64)


class _ParetoPmf:
    """``P(Y(t) = y | alive at T)`` of the Pareto/NBD by recurrence in ``y``.

    Given alive, purchases are Poisson with rate ``lambda ~ Gamma(r+x, alpha+T)`` over the
    exposure ``tau = min(omega, t)``, the remaining lifetime ``omega`` having survival
    ``S(u) = ((beta+T) / (beta+T+u))^s`` (``mu ~ Gamma(s, beta+T)`` integrated out). So
    ``Y`` is a mixture of ``NB(r+x, (alpha+T)/(alpha+T+tau))`` over ``tau``: an atom at
    ``tau = t`` of weight ``S(t)``, and ``omega < t``, integrated by Gauss-Legendre in
    ``v = S(omega)``, uniform on ``(S(t), 1)``. Each component's probabilities follow
    from the previous ``y`` by one ratio, in logarithms.
    """

    def __init__(self, params: FloatArray, x: FloatArray, big_t: FloatArray, t: float) -> None:
        r, alpha, s, beta = params.T
        nodes, weights = np.polynomial.legendre.leggauss(LIFETIME_NODES)
        bt = beta + big_t
        at_end = np.exp(-s * np.log1p(t / bt))  # S(t)
        v = at_end[:, None] + (1 - at_end)[:, None] * (nodes[None, :] + 1) / 2
        tau = np.minimum(bt[:, None] * np.expm1(-np.log(v) / s[:, None]), t)
        tau = np.concatenate([tau, np.full((x.shape[0], 1), t)], axis=1)
        mix = np.concatenate(
            [(1 - at_end)[:, None] * weights[None, :] / 2, at_end[:, None]], axis=1
        )
        share = mix / mix.sum(axis=1, keepdims=True)
        # A component of weight 0 (no lifetime ends inside the window) is absent: -inf.
        self.log_w = np.log(share, out=np.full_like(share, -np.inf), where=share > 0)
        self.k = (r + x)[:, None]
        at = (alpha + big_t)[:, None]
        with np.errstate(divide="ignore"):
            self.log_q = np.log(tau) - np.log(at + tau)
        self.log_nb = self.k * (np.log(at) - np.log(at + tau))
        self.y = 0

    def next(self) -> FloatArray:
        y = self.y
        self.y += 1
        if y > 0:
            self.log_nb = self.log_nb + np.log((self.k + y - 1) / y) + self.log_q
        return np.asarray(np.exp(self.log_nb + self.log_w).sum(axis=1), dtype=np.float64)

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        for name in ("log_w", "k", "log_q", "log_nb"):
            setattr(self, name, getattr(self, name)[mask])


def _p_alive(params: FloatArray, x: FloatArray, t_x: FloatArray, big_t: FloatArray) -> FloatArray:
    r, alpha, s, beta = (float(v) for v in params)
    integral = log_purchase_integral(r, alpha, s, beta, x, t_x, big_t)
    log_alive = -(r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
    log_dead = np.log(s) + integral.log_value
    return np.asarray(np.exp(log_alive - logaddexp(log_alive, log_dead)), dtype=np.float64)
