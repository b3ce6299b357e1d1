"""BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

References
----------
.. [FHL05] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "'Counting Your
   Customers' the Easy Way: An Alternative to the Pareto/NBD Model". *Marketing
   Science* 24(2), 275-284.
.. [FHL08] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2008). "Computing P(alive)
   Using the BG/NBD Model". Note, brucehardie.com/notes/021.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, digamma, expit, gammaln

from wafa.analytics.models._transaction import AlivePmf, TransactionModel
from wafa.analytics.models.base import (
    FloatArray,
    IntArray,
    RFMData,
    compress,
    dot,
)
from wafa.analytics.models.numerics import (
    counts_until,
    jacobi_rule,
)

#: Gauss-Jacobi nodes for the expectations over the beta-distributed drop-out p.
JACOBI_NODES = 64
#: Above this ``t / (alpha + T)`` the expectation switches to geometric panels.
PANEL_THRESHOLD = 4.0
#: Nodes per panel.
PANEL_NODES = 32
#: Gauss-Legendre rule of the middle panels (made once: it is the same for every call).
_PANEL_RULE = np.polynomial.legendre.leggauss(PANEL_NODES)

__all__ = ["BetaGeoModel", "BetaGeoParams"]


@dataclass(frozen=True)
class BetaGeoParams:
    """BG/NBD parameters.

    Attributes
    ----------
    r, alpha : float
        Shape and rate (in the data's time unit) of the gamma distribution of the
        purchase rate lambda.
    a, b : float
        Shape parameters of the beta distribution of the drop-out probability p.
    """

    r: float
    alpha: float
    a: float
    b: float


class BetaGeoModel(TransactionModel[BetaGeoParams]):
    """Beta-geometric/NBD model [FHL05]_.

    While alive a customer buys as a Poisson process with rate ``lambda``; after each
    purchase the customer drops out with probability ``p``. Across customers
    ``lambda ~ Gamma(r, alpha)`` and ``p ~ Beta(a, b)``.

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
    params_ : BetaGeoParams
        Maximum-likelihood estimates ``r, alpha, a, b``.
    standard_errors_ : BetaGeoParams
        Asymptotic standard errors: square roots of the diagonal of the inverse Hessian
        of the negative log-likelihood, computed numerically in the natural parameter
        space (infinite when the Hessian is not positive definite).
    log_likelihood_ : float
        Total (not mean) log-likelihood at the optimum, without the penalty.
    n_customers_ : float
        Number of customers fitted (sum of the weights).
    converged_ : bool
        Always ``True`` on a fitted model (failure raises ``ConvergenceError``).
    small_sample_ : bool
        Fewer than 300 customers with a repeat purchase.
    warnings_ : tuple of str
        Diagnostics worth showing to a person.

    Examples
    --------
    >>> model = BetaGeoModel().fit(frequency, recency, T)  # doctest: +SKIP
    >>> model.expected_purchases(52, frequency, recency, T)  # doctest: +SKIP
    """

    _model_name: ClassVar[str] = "BG/NBD"
    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")

    def _make_params(self, values: Sequence[float]) -> BetaGeoParams:
        return BetaGeoParams(*values)

    def _initial_params(
        self, x: FloatArray, t_x: FloatArray, big_t: FloatArray, w: FloatArray
    ) -> FloatArray:
        exposure = dot(w, big_t)
        rate = max(dot(w, x) / exposure, 1e-3) if exposure > 0 else 1.0
        return np.array([1.0, 1.0 / rate, 1.0, 1.0])

    def _loglik(self, params: FloatArray, data: RFMData) -> tuple[FloatArray, FloatArray]:
        """Log of [FHL05]_ eq. (6) per row, and its weighted gradient in ``(r, alpha, a, b)``.

        ``L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
        + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))``,
        summed with ``logaddexp`` so that no gamma or beta function is ever formed. The
        gamma, beta and digamma terms depend on ``x`` only and are tabulated per
        distinct ``x``.
        """
        r, alpha, a, b = (float(v) for v in params)
        xv, idx, xw, w = data.x_values, data.x_index, data.x_weight, data.w
        x, t_x, big_t = data.x, data.t_x, data.T
        n = float(w.sum())
        repeat_v = xv > 0
        bx1_v = np.where(repeat_v, b + xv - 1, 1.0)  # b + x - 1 only enters when x > 0
        # Per distinct x.
        lead_v = gammaln(r + xv) - gammaln(r)
        beta1_v = betaln(a, b + xv)
        beta2_v = np.where(repeat_v, betaln(a + 1, bx1_v), -np.inf)
        # Per row, in preallocated scratch arrays (out=): no fresh temporaries.
        rx, log_at, log_atx, l1, l2, tmp, lse, ll = data.work
        np.add(x, r, out=rx)
        np.log(np.add(big_t, alpha, out=log_at), out=log_at)
        np.log(np.add(t_x, alpha, out=log_atx), out=log_atx)
        np.subtract(np.take(beta1_v, idx, out=l1), np.multiply(rx, log_at, out=tmp), out=l1)
        np.subtract(np.take(beta2_v, idx, out=l2), np.multiply(rx, log_atx, out=tmp), out=l2)
        # lse = max(l1, l2) + log1p(exp(-|l1 - l2|)); l2 = -inf when x = 0.
        np.abs(np.subtract(l1, l2, out=lse), out=lse)
        np.log1p(np.exp(np.negative(lse, out=lse), out=lse), out=lse)
        lse += np.maximum(l1, l2, out=tmp)
        np.take(lead_v, idx, out=ll)
        ll += lse
        ll += r * np.log(alpha) - betaln(a, b)
        ww1 = np.exp(np.subtract(l1, lse, out=l1), out=l1)  # P(alive-term) weight w1
        ww1 *= w
        ww2 = np.subtract(w, ww1, out=l2)
        psi_abx_v = digamma(a + b + xv)
        w1_by_x = np.bincount(idx, weights=ww1, minlength=xv.shape[0])
        w2_by_x = xw - w1_by_x
        d_r = (
            xw @ digamma(r + xv)
            - n * digamma(r)
            + n * np.log(alpha)
            - (dot(ww1, log_at) + dot(ww2, log_atx))
        )
        np.divide(rx, np.add(big_t, alpha, out=tmp), out=tmp)
        d_alpha = n * r / alpha - dot(ww1, tmp)
        np.divide(rx, np.add(t_x, alpha, out=tmp), out=tmp)
        d_alpha -= dot(ww2, tmp)
        s1 = float(ww1.sum())
        s2 = n - s1
        d_a = (
            -n * (digamma(a) - digamma(a + b))
            + s1 * digamma(a)
            + s2 * digamma(a + 1)
            - xw @ psi_abx_v
        )
        d_b = (
            -n * (digamma(b) - digamma(a + b))
            + w1_by_x @ digamma(b + xv)
            + w2_by_x @ np.where(repeat_v, digamma(bx1_v), 0.0)
            - xw @ psi_abx_v
        )
        grad = np.array([d_r, d_alpha, d_a, d_b], dtype=np.float64)
        return ll.copy(), grad

    # -- predictions ----------------------------------------------------------------

    def _p_alive_at(
        self, params: FloatArray, x: FloatArray, t_x: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        """``P(alive) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r+x))``.

        [FHL08]_; [FHL05]_. Evaluated as a logistic function of the log odds so that it is
        exact for any ``x``. Customers with no repeat purchase are alive with probability
        1 under the BG/NBD (drop-out happens only after a purchase).
        """
        r, alpha, a, b = (float(v) for v in params)
        return _p_alive(r, alpha, a, b, x, t_x, big_t)

    def _expected_alive(
        self, params: FloatArray, horizons: FloatArray, x: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        """[FHL05]_ eq. (10) divided by ``P(alive)``: the expectation given alive at ``T``.

        Given alive at ``T``, ``lambda ~ Gamma(r+x, alpha+T)`` and ``p ~ Beta(a, b+x)``,
        and the expected number of purchases in ``(T, T+t]`` is ``(1 - exp(-lambda p t))
        / p``. Integrating ``lambda`` out analytically gives
        ``E_p[(1 - (1 + p t / (alpha+T))^-(r+x)) / p]``, whose beta expectation is taken
        by Gauss-Jacobi quadrature. This equals eq. (10) but has no ``1 - 2F1(...)``
        cancellation and no overflow for large ``x``.
        """
        r, alpha, a, b = (float(v) for v in params)
        out = np.empty((horizons.shape[0], x.shape[0]))
        for value in np.unique(x):
            rows = np.flatnonzero(x == value)
            c = np.multiply.outer(horizons, 1.0 / (alpha + big_t[rows]))
            out[:, rows] = _beta_expectation(r + value, a, b + value, c.ravel()).reshape(c.shape)
        return out

    def _alive_pmf(
        self, params: FloatArray, x: FloatArray, big_t: FloatArray, t: float
    ) -> AlivePmf:
        return _BetaGeoPmf(params, x, big_t, t)

    def _sample_alive(
        self,
        params: FloatArray,
        x: FloatArray,
        big_t: FloatArray,
        horizons: FloatArray,
        rng: np.random.Generator,
    ) -> IntArray:
        """Purchases in ``(T, T + t]`` of customers alive at ``T``, one draw per row.

        ``lambda ~ Gamma(r+x, alpha+T)``, ``p ~ Beta(a, b+x)`` (the posterior given alive,
        [FHL05]_); purchases arrive as a Poisson process with rate ``lambda`` and the
        customer leaves right after each one with probability ``p``, so after ``K ~
        Geometric(p)`` purchases: ``Y(t) = min(N(t), K)``.
        """
        r, alpha, a, b = params.T
        lam = rng.standard_gamma(r + x) / (alpha + big_t)
        ga = rng.standard_gamma(a)
        gb = rng.standard_gamma(b + x)
        # p = ga / (ga + gb); K by inversion, P(K > k) = (1 - p)^k.
        with np.errstate(divide="ignore", invalid="ignore"):
            log_stay = np.log(gb) - np.log(ga + gb)
            k = np.ceil(np.log1p(-rng.random(x.shape[0])) / log_stay)
        # p = 1 (log_stay = -inf) leaves after the first purchase; p = 0 never leaves.
        k = np.where(log_stay == 0, np.inf, np.where(np.isfinite(k), np.maximum(k, 1.0), 1.0))
        return counts_until(rng, lam, horizons, k)

    def expected_purchases_new_customer(self, t: npt.ArrayLike) -> FloatArray:
        """Unconditional expected number of repeat purchases ``E[X(t)]``.

        [FHL05]_ eq. (7), ``(a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1;
        t/(alpha+t))]``, evaluated as ``E_p[(1 - (1 + p t / alpha)^-r) / p]`` with
        ``p ~ Beta(a, b)`` by Gauss-Jacobi quadrature (valid for any ``a``, including
        ``a <= 1`` where the closed form is singular or cancels). Used for the tracking
        curve of cumulative repeat purchases.

        Parameters
        ----------
        t : array_like
            Time(s) since the first purchase, ``t >= 0``.

        Returns
        -------
        numpy.ndarray
            Expected repeat purchases, one per ``t``.
        """
        r, alpha, a, b = self._params_array()
        times = self._check_t(t)
        return _beta_expectation(r, a, b, times / alpha)

    def median_time_to_next_purchase(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """Median waiting time from ``T`` to the next purchase, *given the customer is alive*.

        Under the BG/NBD a customer alive at ``T`` cannot drop out before buying again
        (drop-out only happens right after a purchase), so the next purchase surely
        comes and its waiting time is exponential with rate ``lambda``, with
        ``lambda | alive ~ Gamma(r + x, alpha + T)``: a Lomax distribution, whose median
        is ``(alpha + T) (2^(1/(r+x)) - 1)``. It says nothing about whether the customer
        is alive: combine it with :meth:`probability_alive`.

        Parameters
        ----------
        frequency, recency, T : array_like
            Customer summaries.

        Returns
        -------
        numpy.ndarray
            Median waiting times in the data's time unit.
        """
        r, alpha, _, _ = self._params_array()
        c = compress(frequency, recency, T)
        median = (alpha + c.T) * np.expm1(np.log(2.0) / (r + c.frequency))
        return np.asarray(median[c.inverse], dtype=np.float64)


class _BetaGeoPmf:
    """``P(Y(t) = y | alive at T)`` of the BG/NBD by recurrence in ``y``.

    With ``lambda`` integrated out, ``N(t) ~ NB(r+x, A)``, ``A = (alpha+T)/(alpha+T+t)``,
    and ``Y = min(N, K)`` with ``K ~ Geometric(p)``, ``p ~ Beta(a, b+x)``:
    ``P(Y = 0) = A^(r+x)`` and, for ``y >= 1``,
    ``P(Y = y) = E[(1-p)^(y-1)] P(N = y) + E[p (1-p)^(y-1)] P(N > y)``, where the beta
    expectations are ``B(a, b+x+y-1) / B(a, b+x)`` and ``B(a+1, b+x+y-1) / B(a, b+x)``.
    Every factor follows from the previous ``y`` by one ratio, kept in logarithms so
    that heavy buyers, whose early probabilities underflow, come out right.
    """

    def __init__(self, params: FloatArray, x: FloatArray, big_t: FloatArray, t: float) -> None:
        r, alpha, a, b = params.T
        self.k = r + x
        self.log_q = np.log(t) - np.log(alpha + big_t + t)  # log(1 - A)
        self.log_nb = self.k * (np.log(alpha + big_t) - np.log(alpha + big_t + t))
        self.bx = b + x
        self.a = np.asarray(a, dtype=np.float64)
        self.log_c1 = np.zeros_like(self.k)
        self.log_c2 = np.log(self.a) - np.log(self.a + self.bx)
        self.survival = np.ones_like(self.k)
        self.y = 0

    def next(self) -> FloatArray:
        y = self.y
        self.y += 1
        if y > 0:
            self.log_nb = self.log_nb + np.log((self.k + y - 1) / y) + self.log_q
        nb = np.exp(self.log_nb)
        self.survival = self.survival - nb
        if y == 0:
            return np.asarray(nb, dtype=np.float64)
        if y > 1:
            self.log_c1 = self.log_c1 + np.log((self.bx + y - 2) / (self.a + self.bx + y - 2))
            self.log_c2 = self.log_c2 + np.log((self.bx + y - 2) / (self.a + self.bx + y - 1))
        tail = np.exp(self.log_c2) * np.maximum(self.survival, 0.0)
        return np.asarray(np.exp(self.log_c1 + self.log_nb) + tail, dtype=np.float64)

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        for name in ("k", "log_q", "log_nb", "bx", "a", "log_c1", "log_c2", "survival"):
            setattr(self, name, getattr(self, name)[mask])


def _p_alive(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: FloatArray,
    t_x: FloatArray,
    big_t: FloatArray,
) -> FloatArray:
    repeat = x > 0
    bx1 = np.where(repeat, b + x - 1, 1.0)
    log_odds_dead = (
        np.log(a) - np.log(bx1) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
    )
    return np.asarray(np.where(repeat, expit(-log_odds_dead), 1.0), dtype=np.float64)


def _beta_expectation(k: float, a: float, b: float, c: FloatArray) -> FloatArray:
    """``E[(1 - (1 + P c)^-k) / P]`` for ``P ~ Beta(a, b)``, elementwise in ``c >= 0``.

    The integrand is analytic on ``[0, 1]`` with a branch point at ``P = -1/c``. For
    ``c <= PANEL_THRESHOLD`` that point is far enough away for one Gauss-Jacobi rule.
    For larger ``c`` see :func:`_beta_expectation_panels`.
    """
    out = np.empty_like(c)
    easy = c <= PANEL_THRESHOLD
    if np.any(easy):
        nodes, weights = jacobi_rule(a, b, JACOBI_NODES)
        h = -np.expm1(-k * np.log1p(np.multiply.outer(c[easy], nodes))) / nodes
        out[easy] = np.einsum("ij,j->i", h, weights)
    hard = ~easy
    if np.any(hard):
        out[hard] = _beta_expectation_panels(k, a, b, c[hard])
    return np.asarray(out, dtype=np.float64)


def _beta_expectation_panels(k: float, a: float, b: float, c: FloatArray) -> FloatArray:
    """Panelled quadrature of :func:`_beta_expectation` for large ``c``.

    With ``p0 = min(1/c, 1/b, 1/2)`` the interval is cut into ``[0, p0]``, geometrically
    growing panels ``[p0 2^j, p0 2^(j+1)]`` up to ``1/2``, and ``[1/2, 1]``. The first
    panel uses Gauss-Jacobi with weight ``P^(a-1)``, the last with weight ``(1-P)^(b-1)``
    (so endpoint singularities of the beta density are integrated exactly) and the
    middle ones Gauss-Legendre on the density in log space. Every panel sees the branch
    point ``-1/c`` at least one panel-width away, so a fixed number of nodes suffices.
    """
    log_norm = -betaln(a, b)
    p0 = np.minimum(np.minimum(1.0 / c, 1.0 / b), 0.5)

    def h(p: FloatArray, cc: FloatArray) -> FloatArray:
        return np.asarray(-np.expm1(-k * np.log1p(p * cc)) / p, dtype=np.float64)

    # [0, p0]: int p^(a-1) g(p) dp = p0^a / a * E_{U ~ Beta(a, 1)} g(p0 U).
    u, wu = jacobi_rule(a, 1.0, PANEL_NODES)
    p = np.outer(p0, u)
    g = h(p, c[:, None]) * np.exp((b - 1) * np.log1p(-p))
    total = np.exp(a * np.log(p0) - np.log(a) + log_norm) * np.einsum("ij,j->i", g, wu)
    # [1/2, 1]: int (1-p)^(b-1) g(p) dp = 2^-b / b * E_{V ~ Beta(1, b)} g(1/2 + V/2).
    v, wv = jacobi_rule(1.0, b, PANEL_NODES)
    p_last = 0.5 + 0.5 * v
    g_last = h(p_last[None, :], c[:, None]) * np.exp((a - 1) * np.log(p_last))[None, :]
    total += np.exp(-b * np.log(2.0) - np.log(b) + log_norm) * np.einsum("ij,j->i", g_last, wv)
    # Middle panels [p0 2^j, p0 2^(j+1)] clipped to [p0, 1/2]; empty ones add nothing.
    n_panels = max(int(np.ceil(np.log2(0.5 / p0.min()))), 0)
    if n_panels > 0:
        lo = np.minimum(p0[:, None] * np.exp2(np.arange(n_panels))[None, :], 0.5)
        hi = np.minimum(2.0 * lo, 0.5)
        x, wx = _PANEL_RULE
        half = (hi - lo) / 2
        pm = (lo + half)[:, :, None] + half[:, :, None] * x[None, None, :]
        log_density = (a - 1) * np.log(pm) + (b - 1) * np.log1p(-pm) + log_norm
        vals = h(pm, c[:, None, None]) * np.exp(log_density)
        total += np.einsum("npk,k,np->n", vals, wx, half)
    return np.asarray(total, dtype=np.float64)
