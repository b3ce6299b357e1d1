"""Gamma-Gamma model of spend per transaction, and customer lifetime value.

References
----------
.. [FHL05b] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "RFM and CLV: Using
   Iso-Value Curves for Customer Base Analysis". *Journal of Marketing Research* 42(4),
   415-430.
.. [FH13] Fader, P. S. and Hardie, B. G. S. (2013). "The Gamma-Gamma Model of Monetary
   Value". Note, brucehardie.com/notes/025.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Protocol, Self

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, gammaln

from wafa.analytics.models.base import (
    SMALL_SAMPLE_PENALIZER,
    SMALL_SAMPLE_REPEAT_CUSTOMERS,
    ConvergenceError,
    FloatArray,
    InfiniteMeanSpend,
    NotFittedError,
    advice,
    as_float_array,
    check_weights,
    covariance_from_hessian,
    maximise,
    natural_hessian,
)

#: ``|corr(frequency, spend)|`` above this sets ``spend_frequency_correlated_``.
CORRELATION_WARNING = 0.3

#: Model time units per month, as in lifetimes' ``customer_lifetime_value``.
PERIODS_PER_MONTH: dict[str, float] = {"D": 30.0, "W": 4.345, "M": 1.0, "H": 720.0}

__all__ = [
    "CORRELATION_WARNING",
    "PERIODS_PER_MONTH",
    "GammaGammaModel",
    "GammaGammaParams",
    "PurchaseForecaster",
    "spend_frequency_correlation",
]


class PurchaseForecaster(Protocol):
    """Anything with a conditional ``expected_purchases`` (BG/NBD, Pareto/NBD)."""

    def expected_purchases(
        self,
        t: float,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
    ) -> FloatArray:
        """Return expected repeat purchases in ``(T, T + t]`` per customer."""
        ...


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma parameters.

    Attributes
    ----------
    p : float
        Shape of the gamma distribution of a transaction's value around a customer's
        mean (given the customer's rate ``nu``).
    q, gamma : float
        Shape and rate of the gamma distribution of ``nu`` across customers.
    """

    p: float
    q: float
    gamma: float


def _check_spend(
    frequency: npt.ArrayLike, monetary_value: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    x = as_float_array(frequency, "frequency")
    m = as_float_array(monetary_value, "monetary_value")
    try:
        x, m = np.broadcast_arrays(x, m)
    except ValueError as exc:
        raise ValueError("frequency and monetary_value must have the same length") from exc
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must hold non-negative integers (repeat transactions)")
    if np.any(m[x > 0] <= 0):
        raise ValueError("monetary_value must be positive for customers with frequency > 0")
    return np.array(x, dtype=np.float64), np.array(m, dtype=np.float64)


def spend_frequency_correlation(
    frequency: npt.ArrayLike,
    monetary_value: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> float | None:
    """Pearson correlation between frequency and average spend of repeat customers.

    The Gamma-Gamma model assumes that spend per transaction is independent of the
    transaction process ([FHL05b]_, Section "Adding Monetary Value"; [FH13]_); a
    correlation beyond :data:`CORRELATION_WARNING` (0.3 in absolute value) undermines
    it. Customers with ``frequency == 0`` are left out.

    Parameters
    ----------
    frequency : array_like
        Repeat transactions.
    monetary_value : array_like
        Average value of the repeat transactions.
    weights : array_like, optional
        Customers per row (weighted Pearson correlation).

    Returns
    -------
    float or None
        The correlation, or ``None`` when it is undefined (fewer than two repeat
        customers, or no variation in frequency or in spend).
    """
    x, m = _check_spend(frequency, monetary_value)
    w = check_weights(weights, x.shape[0])
    keep = (x > 0) & (w > 0)
    x, m, w = x[keep], m[keep], w[keep]
    if w.sum() < 2:
        return None
    mx = np.average(x, weights=w)
    mm = np.average(m, weights=w)
    vx = np.average((x - mx) ** 2, weights=w)
    vm = np.average((m - mm) ** 2, weights=w)
    if vx <= 0 or vm <= 0:
        return None
    cov = np.average((x - mx) * (m - mm), weights=w)
    return float(np.clip(cov / math.sqrt(vx * vm), -1.0, 1.0))


class GammaGammaModel:
    """Gamma-Gamma model of average spend per transaction ([FHL05b]_, [FH13]_).

    A customer's transaction values are ``Gamma(p, nu)`` with mean ``p / nu``; across
    customers ``nu ~ Gamma(q, gamma)``. The model is fitted on the average value
    ``zbar`` of each customer's ``x`` *repeat* transactions, for customers with
    ``x > 0`` only: the others carry no information about spend per repeat transaction
    and are ignored by :meth:`fit` (they still get predictions, the population mean).

    Parameters
    ----------
    penalizer_coef : float or None, optional
        Ridge coefficient on the log-parameters; ``None`` (default) applies 0.001 only
        when fewer than 300 customers made a repeat purchase.
    tol : float, optional
        Optimiser gradient tolerance.
    max_iter : int, optional
        Maximum number of optimiser iterations.

    Attributes
    ----------
    params_ : GammaGammaParams
        Maximum-likelihood estimates ``p, q, gamma``.
    standard_errors_ : GammaGammaParams
        Square roots of the diagonal of the inverse Hessian of the negative
        log-likelihood, taken numerically in the natural parameter space.
    log_likelihood_ : float
        Total log-likelihood at the optimum, including the ``-log zbar`` Jacobian terms
        of [FH13]_'s density of ``zbar``.
    n_customers_ : float
        Number of repeat customers fitted.
    mean_spend_finite_ : bool
        ``q > 1``. When ``False`` the population mean spend ``p gamma / (q - 1)`` is
        infinite and the spend predictions raise :class:`InfiniteMeanSpend`.
    mean_spend_ : float or None
        Population mean spend per transaction, ``None`` when infinite.
    spend_frequency_correlation_ : float or None
        See :func:`spend_frequency_correlation`.
    spend_frequency_correlated_ : bool
        ``|spend_frequency_correlation_| > 0.3``: the independence assumption is doubtful.
    small_sample_ : bool
        Fewer than 300 repeat customers.
    warnings_ : tuple of str
        Diagnostics worth showing to a person.
    """

    params_: GammaGammaParams
    standard_errors_: GammaGammaParams
    log_likelihood_: float
    n_customers_: float
    converged_: bool
    n_iter_: int
    mean_spend_finite_: bool
    mean_spend_: float | None
    spend_frequency_correlation_: float | None
    spend_frequency_correlated_: bool
    small_sample_: bool
    penalizer_coef_: float
    covariance_: FloatArray | None
    warnings_: tuple[str, ...]

    def __init__(
        self, *, penalizer_coef: float | None = None, tol: float = 1e-9, max_iter: int = 1000
    ) -> None:
        self.penalizer_coef = penalizer_coef
        self.tol = tol
        self.max_iter = max_iter

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            return f"GammaGammaModel({self.params_})"
        return f"GammaGammaModel(penalizer_coef={self.penalizer_coef!r})"

    @staticmethod
    def _loglik(params: FloatArray, x: FloatArray, z: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Log of [FH13]_ eq. for ``f(zbar | p, q, gamma; x)`` and its gradient.

        ``f = G(px+q) / (G(px) G(q)) * gamma^q x^(px) zbar^(px-1) / (gamma + x zbar)^(px+q)``.
        """
        p, q, gamma = (float(v) for v in params)
        px = p * x
        log_gxz = np.log(gamma + x * z)
        log_x = np.log(x)
        log_z = np.log(z)
        psi = digamma(px + q)
        ll = (
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(gamma)
            + px * log_x
            + (px - 1) * log_z
            - (px + q) * log_gxz
        )
        d_p = x * (psi - digamma(px) + log_x + log_z - log_gxz)
        d_q = psi - digamma(q) + np.log(gamma) - log_gxz
        d_gamma = q / gamma - (px + q) / (gamma + x * z)
        grad = np.stack([d_p, d_q, np.broadcast_to(d_gamma, d_p.shape)], axis=1)
        return np.asarray(ll, dtype=np.float64), np.asarray(grad, dtype=np.float64)

    def fit(
        self,
        frequency: npt.ArrayLike,
        monetary_value: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
    ) -> Self:
        """Fit by maximum likelihood on the repeat customers' ``(x, zbar)`` pairs.

        Parameters
        ----------
        frequency : array_like
            Number of repeat transactions ``x``; rows with ``x == 0`` are ignored.
        monetary_value : array_like
            Average value ``zbar`` of the repeat transactions (positive when ``x > 0``).
        weights : array_like, optional
            Customers per row. Distinct ``(x, zbar)`` pairs are evaluated once.

        Returns
        -------
        Self
            The fitted model.

        Raises
        ------
        ConvergenceError
            With fewer than two repeat customers or when the optimiser fails.
        ValueError
            On invalid input.
        """
        x, m = _check_spend(frequency, monetary_value)
        w = check_weights(weights, x.shape[0])
        keep = (x > 0) & (w > 0)
        xu, zu, wu = _compress_pairs(x[keep], m[keep], w[keep])
        n = float(wu.sum())
        if n < 2:
            raise ConvergenceError(
                f"Gamma-Gamma: at least two customers with a repeat purchase are needed, got "
                f"{n:g}. " + advice("Gamma-Gamma")
            )
        small = n < SMALL_SAMPLE_REPEAT_CUSTOMERS
        if self.penalizer_coef is None:
            penalizer = SMALL_SAMPLE_PENALIZER if small else 0.0
        else:
            penalizer = float(self.penalizer_coef)
        if not (math.isfinite(penalizer) and penalizer >= 0):
            raise ValueError("penalizer_coef must be a non-negative number")

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            params = np.exp(theta)
            with np.errstate(all="ignore"):
                ll, grad = self._loglik(params, xu, zu)
                value = -float(wu @ ll) / n + penalizer * float(theta @ theta)
                grad_log = -(wu @ grad) * params / n + 2 * penalizer * theta
            return value, np.asarray(grad_log, dtype=np.float64)

        # Method-of-moments-flavoured start: p = 1 transaction shape, mean spend p gamma/(q-1).
        mean_spend = float(np.average(zu, weights=wu))
        x0 = np.log(np.array([1.0, 3.0, 2.0 * mean_spend]))
        opt = maximise(objective, x0, model="Gamma-Gamma", tol=self.tol, max_iter=self.max_iter)
        params = np.exp(opt.log_params)

        def total_gradient(theta: FloatArray) -> FloatArray:
            with np.errstate(all="ignore"):
                _, grad = self._loglik(theta, xu, zu)
            return np.asarray(
                -(wu @ grad) + n * 2 * penalizer * np.log(theta) / theta, dtype=np.float64
            )

        ll, _ = self._loglik(params, xu, zu)
        cov = covariance_from_hessian(natural_hessian(total_gradient, params))
        se = np.full(3, np.inf) if cov is None else np.sqrt(np.clip(np.diag(cov), 0, None))
        p, q, gamma = (float(v) for v in params)
        corr = spend_frequency_correlation(x, m, w)
        messages: list[str] = []
        if small:
            messages.append(
                f"small sample: {n:g} repeat customers (< {SMALL_SAMPLE_REPEAT_CUSTOMERS}); "
                "estimates are uncertain"
                + (f", penalizer {penalizer:g} applied" if self.penalizer_coef is None else "")
            )
        if q <= 1:
            messages.append(
                f"q = {q:.3g} <= 1: the mean spend per transaction is infinite; spend and "
                "CLV predictions are refused (InfiniteMeanSpend)"
            )
        if corr is not None and abs(corr) > CORRELATION_WARNING:
            messages.append(
                f"spend and frequency are correlated (Pearson {corr:.2f}, |r| > "
                f"{CORRELATION_WARNING}): the Gamma-Gamma independence assumption is doubtful"
            )
        if cov is None:
            messages.append("the Hessian is not positive definite: standard errors are infinite")

        self.params_ = GammaGammaParams(p, q, gamma)
        self.standard_errors_ = GammaGammaParams(*(float(v) for v in se))
        self.log_likelihood_ = float(wu @ ll)
        self.n_customers_ = n
        self.converged_ = opt.converged
        self.n_iter_ = opt.n_iter
        self.mean_spend_finite_ = q > 1
        self.mean_spend_ = p * gamma / (q - 1) if q > 1 else None
        self.spend_frequency_correlation_ = corr
        self.spend_frequency_correlated_ = corr is not None and abs(corr) > CORRELATION_WARNING
        self.small_sample_ = small
        self.penalizer_coef_ = penalizer
        self.covariance_ = cov
        self.warnings_ = tuple(messages)
        return self

    def _fitted(self) -> GammaGammaParams:
        if not hasattr(self, "params_"):
            raise NotFittedError("GammaGammaModel is not fitted yet: call fit() first")
        return self.params_

    def conditional_expected_spend(
        self, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike
    ) -> FloatArray:
        """Compute the expected value of a customer's future transactions given their history.

        ``E[Z | x, zbar] = p (gamma + x zbar) / (p x + q - 1)`` ([FHL05b]_, the
        conditional expectation of average transaction value; [FH13]_), a weighted average of the population mean ``p gamma / (q - 1)`` and
        the customer's observed mean ``zbar``. Customers with ``x == 0`` get the
        population mean (their ``monetary_value`` is ignored).

        Parameters
        ----------
        frequency : array_like
            Repeat transactions ``x``.
        monetary_value : array_like
            Average value of the repeat transactions (ignored where ``x == 0``).

        Returns
        -------
        numpy.ndarray
            Finite, positive expected spend per transaction.

        Raises
        ------
        InfiniteMeanSpend
            If the fitted ``q <= 1`` (``mean_spend_finite_`` is ``False``).
        """
        params = self._fitted()
        if params.q <= 1:
            raise InfiniteMeanSpend(
                f"q = {params.q:.4g} <= 1: the population mean spend is infinite, so "
                "expected spend is not defined; check for outlier transactions or use "
                "the median spend instead"
            )
        x, m = _check_spend(frequency, monetary_value)
        z = np.where(x > 0, m, 0.0)
        p, q, gamma = params.p, params.q, params.gamma
        return np.asarray(p * (gamma + x * z) / (p * x + q - 1), dtype=np.float64)

    def customer_lifetime_value(
        self,
        transaction_model: PurchaseForecaster,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
        monetary_value: npt.ArrayLike,
        *,
        time_horizon: int = 12,
        discount_rate: float = 0.01,
        time_unit: Literal["D", "W", "M", "H"] = "W",
    ) -> FloatArray:
        """Discounted expected revenue over the next ``time_horizon`` months.

        As lifetimes' ``customer_lifetime_value``: for each month ``i = 1..H`` the
        expected purchases in month ``i`` (the difference of the transaction model's
        cumulative conditional expectations at ``i`` and ``i - 1`` months), times the
        conditional expected spend, discounted by ``(1 + discount_rate)^i``::

            CLV = E[Z | x, zbar] * sum_i (E[Y(i m)] - E[Y((i-1) m)]) / (1 + d)^i

        where ``m`` is the number of model time units per month (30 days, 4.345 weeks,
        1 month or 720 hours for ``time_unit`` "D", "W", "M", "H"). Spend and
        purchases are multiplied as independent, the Gamma-Gamma assumption
        ([FHL05b]_).

        Parameters
        ----------
        transaction_model : PurchaseForecaster
            A fitted :class:`~wafa.analytics.models.BetaGeoModel` or
            :class:`~wafa.analytics.models.ParetoNBDModel`.
        frequency, recency, T : array_like
            Customer summaries, in ``time_unit``.
        monetary_value : array_like
            Average value of the repeat transactions.
        time_horizon : int, optional
            Number of months, default 12.
        discount_rate : float, optional
            Monthly discount rate, default 0.01.
        time_unit : {"D", "W", "M", "H"}, optional
            Time unit of ``recency``, ``T`` and the transaction model, default weeks.

        Returns
        -------
        numpy.ndarray
            Non-negative CLV per customer, in the currency of ``monetary_value``.

        Raises
        ------
        InfiniteMeanSpend
            If the fitted ``q <= 1``.
        ValueError
            On a negative horizon or discount rate, or an unknown time unit.
        """
        if time_unit not in PERIODS_PER_MONTH:
            raise ValueError(f"time_unit must be one of {sorted(PERIODS_PER_MONTH)}")
        if time_horizon < 0 or not (math.isfinite(discount_rate) and discount_rate > -1):
            raise ValueError("time_horizon must be >= 0 and discount_rate > -1")
        spend = self.conditional_expected_spend(frequency, monetary_value)
        factor = PERIODS_PER_MONTH[time_unit]
        previous = np.zeros_like(spend)
        value = np.zeros_like(spend)
        for i in range(1, time_horizon + 1):
            cumulative = transaction_model.expected_purchases(i * factor, frequency, recency, T)
            value += np.maximum(cumulative - previous, 0.0) / (1 + discount_rate) ** i
            previous = cumulative
        return np.asarray(spend * value, dtype=np.float64)

    def summary(self) -> dict[str, object]:
        """Fitted parameters, standard errors and diagnostics as a plain dict.

        Returns
        -------
        dict
            Parameters, standard errors, log-likelihood and flags.
        """
        params = self._fitted()
        return {
            "params": {"p": params.p, "q": params.q, "gamma": params.gamma},
            "standard_errors": {
                "p": self.standard_errors_.p,
                "q": self.standard_errors_.q,
                "gamma": self.standard_errors_.gamma,
            },
            "log_likelihood": self.log_likelihood_,
            "n_customers": self.n_customers_,
            "mean_spend_finite": self.mean_spend_finite_,
            "spend_frequency_correlation": self.spend_frequency_correlation_,
            "small_sample": self.small_sample_,
            "warnings": list(self.warnings_),
        }


def _compress_pairs(
    x: FloatArray, z: FloatArray, w: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Distinct ``(x, zbar)`` pairs with summed weights."""
    if x.shape[0] == 0:
        return x, z, w
    order = np.lexsort((z, x))
    xs, zs = x[order], z[order]
    new = np.empty(xs.shape[0], dtype=bool)
    new[0] = True
    new[1:] = (xs[1:] != xs[:-1]) | (zs[1:] != zs[:-1])
    group = np.cumsum(new) - 1
    summed = np.bincount(group, weights=w[order])
    return xs[new], zs[new], summed.astype(np.float64)
