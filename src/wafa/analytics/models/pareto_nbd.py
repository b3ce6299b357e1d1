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
5000 and ``t_x`` from 0 to ``T(1 - 1e-9)``: worst error in ``log A_0`` below ``1e-9``.

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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, exprel, gammaln, logsumexp

from wafa.analytics.models._transaction import TransactionModel
from wafa.analytics.models.base import FloatArray, check_rfm, compress

#: Gauss-Legendre nodes for the ``A_0`` integral.
QUADRATURE_NODES = 48
#: Rows per block when evaluating the integral (bounds memory at ~ rows x nodes).
BLOCK_ROWS = 32768

__all__ = ["ParetoNBDModel", "ParetoNBDParams", "log_purchase_integral"]

_GL_X, _GL_W = np.polynomial.legendre.leggauss(QUADRATURE_NODES)
_GL_FRAC = (_GL_X + 1) / 2
_GL_LOGW = np.log(_GL_W / 2)


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
    and then like a power law. The substitution ``tau = t_x + (exp(v) - 1) / k``,
    ``v in [0, log(1 + k (T - t_x))]``, turns both the sharp initial decay of heavy buyers
    and the long power-law tail into a smooth bump, integrated by a fixed
    Gauss-Legendre rule with ``logsumexp``. Rows with ``t_x == T`` give ``I = 0``
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
    span = big_t - t_x
    rows = np.flatnonzero(span > 0)
    for start in range(0, rows.shape[0], BLOCK_ROWS):
        idx = rows[start : start + BLOCK_ROWS]
        xi, ti, di = x[idx], t_x[idx], span[idx]
        rx = r + xi
        rate = rx / (alpha + ti) + (s + 1) / (beta + ti)
        scale = 1.0 / rate
        v_max = np.log1p(di * rate)
        v = v_max[:, None] * _GL_FRAC[None, :]
        tau = ti[:, None] + scale[:, None] * np.expm1(v)
        log_a = np.log(alpha + tau)
        log_b = np.log(beta + tau)
        g = -rx[:, None] * log_a - (s + 1) * log_b + v + _GL_LOGW[None, :]
        lse = logsumexp(g, axis=1)
        weights = np.exp(g - lse[:, None])
        out[0][idx] = lse + np.log(v_max) + np.log(scale)
        out[1][idx] = np.sum(weights * log_a, axis=1)
        out[2][idx] = np.sum(weights * np.exp(-log_a), axis=1)
        out[3][idx] = np.sum(weights * log_b, axis=1)
        out[4][idx] = np.sum(weights * np.exp(-log_b), axis=1)
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

    def _make_params(self, values: Sequence[float]) -> ParetoNBDParams:
        return ParetoNBDParams(*values)

    def _initial_params(
        self, x: FloatArray, t_x: FloatArray, big_t: FloatArray, w: FloatArray
    ) -> FloatArray:
        exposure = float(w @ big_t)
        rate = max(float(w @ x) / exposure, 1e-3) if exposure > 0 else 1.0
        return np.array([1.0, 1.0 / rate, 1.0, 1.0 / rate])

    def _loglik(
        self, params: FloatArray, x: FloatArray, t_x: FloatArray, big_t: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Log-likelihood of [FH05]_ (their eq. for ``L(r, alpha, s, beta | x, t_x, T)``).

        ``L = G(r+x) alpha^r beta^s / G(r) * [(alpha+T)^-(r+x) (beta+T)^-s + s I]`` with
        ``I`` from :func:`log_purchase_integral`; the bracket is combined with
        ``logaddexp``.
        """
        r, alpha, s, beta = (float(v) for v in params)
        integral = log_purchase_integral(r, alpha, s, beta, x, t_x, big_t)
        log_at = np.log(alpha + big_t)
        log_bt = np.log(beta + big_t)
        log_alive = -(r + x) * log_at - s * log_bt
        log_dead = np.log(s) + integral.log_value
        lse = np.logaddexp(log_alive, log_dead)
        w_alive = np.exp(log_alive - lse)
        w_dead = 1.0 - w_alive
        ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + lse

        d_r = (
            digamma(r + x)
            - digamma(r)
            + np.log(alpha)
            - w_alive * log_at
            - w_dead * integral.mean_log_alpha
        )
        d_alpha = r / alpha - (r + x) * (
            w_alive / (alpha + big_t) + w_dead * integral.mean_inv_alpha
        )
        d_s = np.log(beta) - w_alive * log_bt + w_dead * (1.0 / s - integral.mean_log_beta)
        d_beta = s / beta - w_alive * s / (beta + big_t) - w_dead * (s + 1) * integral.mean_inv_beta
        grad = np.stack([d_r, d_alpha, d_s, d_beta], axis=1)
        return np.asarray(ll, dtype=np.float64), np.asarray(grad, dtype=np.float64)

    # -- predictions ----------------------------------------------------------------

    def probability_alive(
        self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """Probability that each customer is still alive at ``T``.

        ``P(alive) = (alpha+T)^-(r+x) (beta+T)^-s / [(alpha+T)^-(r+x) (beta+T)^-s + s I]``,
        the [SMC87]_ result in the form of [FH05]_ (the likelihood's "alive" term over the
        whole likelihood), computed in log space. Finite for every valid input; with
        ``t_x == T`` the integral vanishes and the customer is alive with probability 1.

        Parameters
        ----------
        frequency, recency, T : array_like
            Customer summaries ``(x, t_x, T)``.

        Returns
        -------
        numpy.ndarray
            Probabilities in ``[0, 1]``.
        """
        params = self._params_array()
        c = compress(frequency, recency, T)
        alive = _p_alive(params, c.frequency, c.recency, c.T)
        return np.asarray(alive[c.inverse], dtype=np.float64)

    def _expected_purchases(
        self, params: FloatArray, t: float, x: FloatArray, t_x: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        """Conditional expectation of [SMC87]_ in the notation of [FH05]_.

        ``E[Y(t) | x, t_x, T] = P(alive) * (r+x)/(alpha+T) * (beta+T)/(s-1)
        * [1 - ((beta+T)/(beta+T+t))^(s-1)]``, with the last two factors evaluated as
        ``(beta+T) * u * exprel(-(s-1) u)``, ``u = log(1 + t/(beta+T))``: exact at
        ``s = 1`` (where the closed form is 0/0) and free of cancellation for small ``t``.
        """
        r, alpha, s, beta = (float(v) for v in params)
        alive = _p_alive(params, x, t_x, big_t)
        u = np.log1p(t / (beta + big_t))
        per_alive = (r + x) / (alpha + big_t) * (beta + big_t) * u * exprel(-(s - 1) * u)
        return np.asarray(alive * per_alive, dtype=np.float64)

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


def _p_alive(params: FloatArray, x: FloatArray, t_x: FloatArray, big_t: FloatArray) -> FloatArray:
    r, alpha, s, beta = (float(v) for v in params)
    x, t_x, big_t = check_rfm(x, t_x, big_t)
    integral = log_purchase_integral(r, alpha, s, beta, x, t_x, big_t)
    log_alive = -(r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
    log_dead = np.log(s) + integral.log_value
    return np.asarray(np.exp(log_alive - np.logaddexp(log_alive, log_dead)), dtype=np.float64)
