"""Gamma-Gamma model of spend per transaction, and customer lifetime value.

References
----------
.. [FHL05b] Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "RFM and CLV: Using
   Iso-Value Curves for Customer Base Analysis". *Journal of Marketing Research* 42(4),
   415-430.
.. [FH13] Fader, P. S. and Hardie, B. G. S. (2013). "The Gamma-Gamma Model of Monetary
   Value". Note, brucehardie.com/notes/025.

The module is longer than most (about 650 lines, half of them numpy docstrings): it is one
model, its likelihood, fit, predictions and draws, which belong together.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
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
    IntArray,
    NotFittedError,
    as_float_array,
    check_weights,
    dot,
)
from wafa.analytics.models.numerics import (
    advice,
    covariance_from_hessian,
    draw_log_params,
    log_scale_intervals,
    maximise,
    natural_hessian,
    refine_from_sample,
    warm_start_sample,
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


@dataclass(frozen=True)
class SpendData:
    """Sufficient statistics of the repeat customers' ``(x, zbar)`` for the likelihood."""

    n: float
    w: FloatArray
    wx: FloatArray
    xz: FloatArray
    x_values: FloatArray
    x_weight: FloatArray
    sum_wx_logx: float
    sum_wx_logz: float
    sum_w_logz: float
    mean_spend: float
    work: tuple[FloatArray, FloatArray]

    @classmethod
    def build(cls, x: FloatArray, z: FloatArray, w: FloatArray) -> SpendData:
        """Summarise repeat customers (all ``x > 0``, ``z > 0``).

        Parameters
        ----------
        x, z, w : numpy.ndarray
            Repeat transactions, their average value, and customer weights.

        Returns
        -------
        SpendData
            The statistics.
        """
        x_int = x.astype(np.int64)
        by_x = np.bincount(x_int, weights=w) if x.shape[0] else np.zeros(1)
        x_values = np.flatnonzero(by_x).astype(np.float64)
        wx = w * x
        log_z = np.log(z)
        n = float(w.sum())
        return cls(
            n=n,
            w=w,
            wx=wx,
            xz=x * z,
            x_values=x_values,
            x_weight=by_x[x_values.astype(np.int64)].astype(np.float64),
            sum_wx_logx=dot(wx, np.log(x)),
            sum_wx_logz=dot(wx, log_z),
            sum_w_logz=dot(w, log_z),
            mean_spend=dot(w, z) / n if n > 0 else 0.0,
            work=(np.empty_like(z), np.empty_like(z)),
        )


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
        self, *, penalizer_coef: float | None = None, tol: float = 1e-7, max_iter: int = 1000
    ) -> None:
        self.penalizer_coef = penalizer_coef
        self.tol = tol
        self.max_iter = max_iter

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            return f"GammaGammaModel({self.params_})"
        return f"GammaGammaModel(penalizer_coef={self.penalizer_coef!r})"

    @staticmethod
    def _loglik(params: FloatArray, data: SpendData) -> tuple[float, FloatArray]:
        """Total log of [FH13]_'s density of ``zbar`` and its gradient.

        ``f = G(px+q) / (G(px) G(q)) * gamma^q x^(px) zbar^(px-1) / (gamma + x zbar)^(px+q)``.
        Everything but ``log(gamma + x zbar)`` is a sufficient statistic of the data or
        depends on ``x`` only, so an evaluation costs one logarithm and one reciprocal
        per customer.
        """
        p, q, gamma = (float(v) for v in params)
        xv, xw, n = data.x_values, data.x_weight, data.n
        pxq = p * xv + q
        # Preallocated buffers: fresh large temporaries cost page faults on every call.
        log_g = np.add(data.xz, gamma, out=data.work[0])
        inv_g = np.divide(1.0, log_g, out=data.work[1])
        np.log(log_g, out=log_g)
        a_sum = dot(data.wx, log_g)
        b_sum = dot(data.w, log_g)
        ll = (
            float(xw @ (gammaln(pxq) - gammaln(p * xv)))
            - n * float(gammaln(q))
            + n * q * np.log(gamma)
            + p * (data.sum_wx_logx + data.sum_wx_logz)
            - data.sum_w_logz
            - p * a_sum
            - q * b_sum
        )
        psi = digamma(pxq)
        d_p = float(xw @ (xv * (psi - digamma(p * xv)))) + data.sum_wx_logx + data.sum_wx_logz
        d_p -= a_sum
        d_q = float(xw @ psi) - n * float(digamma(q)) + n * np.log(gamma) - b_sum
        d_gamma = n * q / gamma - p * dot(data.wx, inv_g) - q * dot(data.w, inv_g)
        return float(ll), np.array([d_p, d_q, d_gamma], dtype=np.float64)

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
        data = SpendData.build(x[keep], m[keep], w[keep])
        n = data.n
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

        def make_objective(d: SpendData) -> Callable[[FloatArray], tuple[float, FloatArray]]:
            def objective(theta: FloatArray) -> tuple[float, FloatArray]:
                params = np.exp(theta)
                with np.errstate(all="ignore"):
                    ll, grad = self._loglik(params, d)
                    value = -ll / d.n + penalizer * float(theta @ theta)
                    grad_log = -grad * params / d.n + 2 * penalizer * theta
                return value, np.asarray(grad_log, dtype=np.float64)

            return objective

        # Start with mean spend gamma / (q - 1) matching the data at p = 1, q = 3.
        x0 = np.log(np.array([1.0, 3.0, 2.0 * data.mean_spend]))
        sample = warm_start_sample(data.w)
        if sample is not None:
            # Take the optimiser's early iterations on a random subsample.
            rows, counts = sample
            xk, mk = x[keep][rows], m[keep][rows]
            sub_objective = make_objective(SpendData.build(xk, mk, counts))
            with contextlib.suppress(ConvergenceError):  # the full-data fit decides
                x0 = maximise(
                    sub_objective, x0, model="Gamma-Gamma", tol=1e-6, max_iter=200
                ).log_params
                x0 = refine_from_sample(make_objective(data), sub_objective, x0, tol=self.tol)
        opt = maximise(
            make_objective(data), x0, model="Gamma-Gamma", tol=self.tol, max_iter=self.max_iter
        )
        params = np.exp(opt.log_params)

        def total_gradient(theta: FloatArray) -> FloatArray:
            with np.errstate(all="ignore"):
                _, grad = self._loglik(theta, data)
            return np.asarray(-grad + n * 2 * penalizer * np.log(theta) / theta, dtype=np.float64)

        ll, _ = self._loglik(params, data)
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
        self.log_likelihood_ = ll
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

    def parameter_draws(
        self, n_draws: int, random_state: int | np.random.Generator | None = None
    ) -> FloatArray:
        """Draw ``(p, q, gamma)`` from their estimated distribution (normal in log space).

        Parameters
        ----------
        n_draws : int
            Number of draws.
        random_state : int, numpy.random.Generator or None, optional
            Seed or generator.

        Returns
        -------
        numpy.ndarray
            ``(n_draws, 3)`` natural parameters.

        Raises
        ------
        ValueError
            Without standard errors (the fit is degenerate).
        """
        params = self._params_vector()
        if self.covariance_ is None:
            raise ValueError("Gamma-Gamma: no standard errors, so no parameter draws")
        return draw_log_params(np.log(params), self.covariance_, params, n_draws, random_state)

    def parameter_intervals(self, level: float = 0.9) -> dict[str, tuple[float, float] | None]:
        """Log-scale intervals of ``p``, ``q`` and ``gamma`` (see ``log_scale_intervals``).

        Parameters
        ----------
        level : float, optional
            Coverage, default 90 %.

        Returns
        -------
        dict
            ``{name: (low, high) or None}``.
        """
        params = self._params_vector()
        se = np.array(
            [self.standard_errors_.p, self.standard_errors_.q, self.standard_errors_.gamma]
        )
        return dict(zip(("p", "q", "gamma"), log_scale_intervals(params, se, level), strict=True))

    def _params_vector(self) -> FloatArray:
        params = self._fitted()
        return np.array([params.p, params.q, params.gamma], dtype=np.float64)

    @staticmethod
    def spend_scale(params: FloatArray, x: FloatArray, zbar: FloatArray) -> FloatArray:
        """Rate ``gamma + x zbar`` of the posterior of ``nu`` (``gamma`` where ``x == 0``).

        Given a customer's ``x`` repeat transactions of average ``zbar``, [FH13]_'s
        posterior of the spend rate is ``nu ~ Gamma(q + p x, gamma + x zbar)``.

        Parameters
        ----------
        params : numpy.ndarray
            ``(p, q, gamma)``.
        x, zbar : numpy.ndarray
            Repeat transactions and their average value.

        Returns
        -------
        numpy.ndarray
            The rate per customer.
        """
        return np.asarray(params[2] + x * np.where(x > 0, zbar, 0.0), dtype=np.float64)

    @staticmethod
    def sample_total_spend(
        params: FloatArray, x: FloatArray, purchases: IntArray, rng: np.random.Generator
    ) -> FloatArray:
        """Draw the total value of future purchases, per unit of :meth:`spend_scale`.

        With ``nu ~ Gamma(q + p x, rate)`` and ``y`` purchases each ``Gamma(p, nu)``,
        the total is ``Gamma(p y, nu)``, that is ``rate * G(p y) / G(q + p x)`` with ``G``
        standard gamma variables: multiply the result by the customer's rate.

        Parameters
        ----------
        params : numpy.ndarray
            ``(m, 3)`` parameters, one row per draw.
        x : numpy.ndarray
            Past repeat transactions per draw.
        purchases : numpy.ndarray
            Future purchases per draw.
        rng : numpy.random.Generator
            Random numbers.

        Returns
        -------
        numpy.ndarray
            ``G(p y) / G(q + p x)`` per draw (0 where ``y == 0``).
        """
        p, q = params[:, 0], params[:, 1]
        total = rng.standard_gamma(p * purchases)
        return np.asarray(total / rng.standard_gamma(q + p * x), dtype=np.float64)

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
