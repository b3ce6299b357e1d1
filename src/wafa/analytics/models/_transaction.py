"""Fitting and uncertainty machinery shared by the BG/NBD and Pareto/NBD models."""

from __future__ import annotations

import contextlib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, Self, TypeVar

import numpy as np
import numpy.typing as npt

from wafa.analytics.models.base import (
    SMALL_SAMPLE_PENALIZER,
    SMALL_SAMPLE_REPEAT_CUSTOMERS,
    ConvergenceError,
    FloatArray,
    NotFittedError,
    RFMData,
    advice,
    as_float_array,
    band,
    check_rfm,
    check_weights,
    compress,
    compress_weighted,
    covariance_from_hessian,
    dot,
    draw_log_params,
    maximise,
    natural_hessian,
    refine_from_sample,
    warm_start_sample,
)

P = TypeVar("P")


class TransactionModel(ABC, Generic[P]):
    """Common ``fit`` for latent-attrition purchase models on ``(x, t_x, T)`` data.

    Subclasses supply the per-triple log-likelihood and its gradient in the natural
    parameters, starting values, and the predictions.

    Parameters
    ----------
    penalizer_coef : float or None, optional
        Coefficient ``c`` of the ridge penalty ``c * sum(log(theta) ** 2)`` added to
        the mean negative log-likelihood. ``None`` (default) means 0 unless fewer than
        ``SMALL_SAMPLE_REPEAT_CUSTOMERS`` (300) customers made a repeat purchase, in which
        case ``SMALL_SAMPLE_PENALIZER`` (0.001) keeps the small-sample fit finite.
    tol : float, optional
        Gradient tolerance (largest component, log-parameters) of BFGS on the mean
        negative log-likelihood.
    max_iter : int, optional
        Maximum number of optimiser iterations.
    """

    _model_name: ClassVar[str]
    _param_names: ClassVar[tuple[str, ...]]

    # Fitted state (set by ``fit``). ``n_iter_`` counts the iterations of the final
    # full-data BFGS run, 0 when the subsample warm start already met ``tol``.

    params_: P
    standard_errors_: P
    log_likelihood_: float
    n_customers_: float
    n_repeat_customers_: float
    n_distinct_: int
    converged_: bool
    n_iter_: int
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
            return f"{type(self).__name__}({self.params_})"
        return f"{type(self).__name__}(penalizer_coef={self.penalizer_coef!r})"

    # -- to be supplied by the models ------------------------------------------------

    @abstractmethod
    def _loglik(self, params: FloatArray, data: RFMData) -> tuple[FloatArray, FloatArray]:
        """Per-row log-likelihood ``(n,)`` and the weighted sum of its gradient ``(k,)``.

        The gradient is with respect to the natural parameters, summed over rows with
        the weights ``data.w``.
        """

    @abstractmethod
    def _initial_params(
        self, x: FloatArray, t_x: FloatArray, big_t: FloatArray, w: FloatArray
    ) -> FloatArray:
        """Return starting natural parameters."""

    @abstractmethod
    def _make_params(self, values: Sequence[float]) -> P:
        """Wrap a parameter vector in the model's parameter dataclass."""

    @abstractmethod
    def _expected_purchases(
        self, params: FloatArray, t: float, x: FloatArray, t_x: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        """Conditional expectation for distinct rows at given natural parameters."""

    # -- fitting -----------------------------------------------------------------

    def fit(
        self,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
    ) -> Self:
        """Fit the model by maximum likelihood on the distinct ``(x, t_x, T)`` triples.

        Parameters
        ----------
        frequency : array_like
            Number of repeat transactions ``x`` in the calibration period.
        recency : array_like
            Time of the last transaction minus time of the first, ``t_x``.
        T : array_like
            End of the calibration period minus time of the first transaction.
        weights : array_like, optional
            Number of customers each row stands for (default one each). Rows are
            compressed into distinct triples either way, so an expanded table and its
            weighted summary give the same fit.

        Returns
        -------
        Self
            The fitted model.

        Raises
        ------
        ConvergenceError
            With fewer than two customers, with no repeat purchase at all, or when the
            optimiser fails; the message says what to try.
        ValueError
            On invalid input (negative values, recency greater than T, NaN).
        """
        name = self._model_name
        x, t_x, big_t = check_rfm(frequency, recency, T)
        w = check_weights(weights, x.shape[0])
        data = compress_weighted(x, t_x, big_t, w)
        keep = data.weights > 0
        xu, tu, bu, wu = data.frequency[keep], data.recency[keep], data.T[keep], data.weights[keep]
        n_customers = float(wu.sum())
        n_repeat = float(wu[xu > 0].sum())
        if n_customers < 2:
            raise ConvergenceError(
                f"{name}: at least two customers are needed, got {n_customers:g}. " + advice(name)
            )
        if n_repeat == 0:
            raise ConvergenceError(
                f"{name}: no customer made a repeat purchase, so the purchase and "
                "drop-out rates cannot be told apart. " + advice(name)
            )
        small = n_repeat < SMALL_SAMPLE_REPEAT_CUSTOMERS
        if self.penalizer_coef is None:
            penalizer = SMALL_SAMPLE_PENALIZER if small else 0.0
        else:
            penalizer = float(self.penalizer_coef)
        if not (math.isfinite(penalizer) and penalizer >= 0):
            raise ValueError("penalizer_coef must be a non-negative number")

        rfm = RFMData.build(xu, tu, bu, wu)
        objective = self._objective(rfm, penalizer)
        x0 = np.log(self._initial_params(xu, tu, bu, wu))
        sample = warm_start_sample(wu)
        if sample is not None:
            # Most of the optimiser's iterations are spent far from the optimum; take them
            # on a random subsample of customers, then finish on the full data.
            rows, counts = sample
            sub_objective = self._objective(
                RFMData.build(xu[rows], tu[rows], bu[rows], counts), penalizer
            )
            with contextlib.suppress(ConvergenceError):  # the full-data fit decides
                x0 = maximise(sub_objective, x0, model=name, tol=1e-6, max_iter=200).log_params
                x0 = refine_from_sample(objective, sub_objective, x0, tol=self.tol)
        opt = maximise(objective, x0, model=name, tol=self.tol, max_iter=self.max_iter)
        params = np.exp(opt.log_params)

        def total_gradient(p: FloatArray) -> FloatArray:
            with np.errstate(all="ignore"):
                _, grad = self._loglik(p, rfm)
            pen = n_customers * 2 * penalizer * np.log(p) / p
            return np.asarray(-grad + pen, dtype=np.float64)

        ll, _ = self._loglik(params, rfm)
        log_likelihood = dot(wu, ll)
        if not math.isfinite(log_likelihood):
            raise ConvergenceError(
                f"{name}: the log-likelihood is not finite at the optimum. " + advice(name)
            )
        cov = covariance_from_hessian(natural_hessian(total_gradient, params))
        messages: list[str] = []
        if small:
            messages.append(
                f"small sample: {n_repeat:g} customers with a repeat purchase "
                f"(< {SMALL_SAMPLE_REPEAT_CUSTOMERS}); estimates are uncertain"
                + (f", penalizer {penalizer:g} applied" if self.penalizer_coef is None else "")
            )
        if cov is None:
            messages.append(
                "the Hessian is not positive definite at the optimum: standard errors are "
                "infinite (a parameter is poorly identified)"
            )
            se = np.full(params.shape, np.inf)
        else:
            se = np.sqrt(np.clip(np.diag(cov), 0.0, None))

        self.params_ = self._make_params(params.tolist())
        self.standard_errors_ = self._make_params(se.tolist())
        self.log_likelihood_ = log_likelihood
        self.n_customers_ = n_customers
        self.n_repeat_customers_ = n_repeat
        self.n_distinct_ = int(xu.shape[0])
        self.converged_ = opt.converged
        self.n_iter_ = opt.n_iter
        self.small_sample_ = small
        self.penalizer_coef_ = penalizer
        self.covariance_ = cov
        self.warnings_ = tuple(messages)
        self._log_params = opt.log_params
        return self

    def _objective(
        self, rfm: RFMData, penalizer: float
    ) -> Callable[[FloatArray], tuple[float, FloatArray]]:
        n_customers = float(rfm.w.sum())

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            params = np.exp(theta)
            with np.errstate(all="ignore"):
                ll, grad = self._loglik(params, rfm)
                value = -dot(rfm.w, ll) / n_customers + penalizer * float(theta @ theta)
                grad_log = -grad * params / n_customers + 2 * penalizer * theta
            return value, np.asarray(grad_log, dtype=np.float64)

        return objective

    # -- helpers for the models ----------------------------------------------------

    def _params_array(self) -> FloatArray:
        if not hasattr(self, "params_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit() first")
        return np.array([getattr(self.params_, n) for n in self._param_names], dtype=np.float64)

    def log_likelihood(
        self,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
    ) -> FloatArray:
        """Per-customer log-likelihood at the fitted parameters.

        Parameters
        ----------
        frequency, recency, T : array_like
            Customer summaries.

        Returns
        -------
        numpy.ndarray
            ``log L(params | x, t_x, T)`` for each customer.
        """
        params = self._params_array()
        c = compress(frequency, recency, T)
        ll, _ = self._loglik(params, RFMData.build(c.frequency, c.recency, c.T))
        return np.asarray(ll[c.inverse], dtype=np.float64)

    def expected_purchases(
        self,
        t: float,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
    ) -> FloatArray:
        """Compute the expected number of repeat purchases in ``(T, T + t]`` given the history.

        Parameters
        ----------
        t : float
            Length of the forecast window, in the time unit of the data (``t >= 0``).
        frequency, recency, T : array_like
            Customer summaries ``(x, t_x, T)``.

        Returns
        -------
        numpy.ndarray
            Finite, non-negative expectations, one per customer.
        """
        params = self._params_array()
        horizon = _check_horizon(t)
        c = compress(frequency, recency, T)
        values = self._expected_purchases(params, horizon, c.frequency, c.recency, c.T)
        return np.asarray(values[c.inverse], dtype=np.float64)

    def expected_purchases_interval(
        self,
        t: float,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
        *,
        quantiles: Sequence[float] = (0.05, 0.95),
        n_draws: int = 200,
        random_state: int | np.random.Generator | None = None,
    ) -> FloatArray:
        """Parameter-uncertainty band for :meth:`expected_purchases`.

        Draws ``n_draws`` parameter vectors from the asymptotic normal distribution of
        the log-parameters (the inverse Hessian, carried to log space by the delta
        method), evaluates the conditional expectation under each, and returns the
        requested quantiles. It reflects estimation uncertainty only, not the Poisson
        noise of the future purchases themselves. Work and memory grow with
        ``n_draws`` times the number of distinct ``(x, t_x, T)`` triples.

        Parameters
        ----------
        t : float
            Length of the forecast window.
        frequency, recency, T : array_like
            Customer summaries.
        quantiles : sequence of float, optional
            Quantiles to report, default the 5% and 95% points.
        n_draws : int, optional
            Number of parameter draws.
        random_state : int, numpy.random.Generator or None, optional
            Seed for reproducible bands.

        Returns
        -------
        numpy.ndarray
            ``(len(quantiles), n_customers)`` array. If the fit has no standard errors
            (Hessian not positive definite) every quantile equals the point estimate.
        """
        params = self._params_array()
        horizon = _check_horizon(t)
        c = compress(frequency, recency, T)
        draws = draw_log_params(self._log_params, self.covariance_, params, n_draws, random_state)
        values = np.empty((n_draws, c.frequency.shape[0]))
        for i, theta in enumerate(draws):
            values[i] = self._expected_purchases(theta, horizon, c.frequency, c.recency, c.T)
        return band(values, quantiles)[:, c.inverse]

    def _check_t(self, t: npt.ArrayLike) -> FloatArray:
        arr = as_float_array(t, "t")
        if np.any(arr < 0):
            raise ValueError("t must be non-negative")
        return arr

    def summary(self) -> dict[str, Any]:
        """Fitted parameters, standard errors and diagnostics as a plain dict.

        Returns
        -------
        dict
            Keys ``params``, ``standard_errors``, ``log_likelihood``, ``n_customers``,
            ``small_sample``, ``warnings``.
        """
        params = self._params_array()
        return {
            "params": dict(zip(self._param_names, params.tolist(), strict=True)),
            "standard_errors": {n: getattr(self.standard_errors_, n) for n in self._param_names},
            "log_likelihood": self.log_likelihood_,
            "n_customers": self.n_customers_,
            "small_sample": self.small_sample_,
            "warnings": list(self.warnings_),
        }


def _check_horizon(t: float) -> float:
    value = float(t)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError("t must be a finite non-negative number")
    return value
