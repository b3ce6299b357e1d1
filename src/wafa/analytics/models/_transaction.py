"""Fitting and prediction machinery shared by the BG/NBD and Pareto/NBD models.

Both models share one structure that every prediction here builds on: given the
customer's history ``(x, t_x, T)``, the customer is alive at ``T`` with probability
``P(alive)``, and *given alive* the posterior of the latent rates depends on the history
through ``(x, T)`` only (BG/NBD: ``lambda ~ Gamma(r+x, alpha+T)``, ``p ~ Beta(a, b+x)``;
Pareto/NBD: ``lambda ~ Gamma(r+x, alpha+T)``, ``mu ~ Gamma(s, beta+T)``). So every
forecast is ``P(alive)`` (per distinct triple) times a quantity computed once per distinct
``(x, T)`` pair, of which a store has far fewer (a year of days times a few frequencies).

The module is longer than most (about 600 lines, half of them numpy docstrings): it is one
class, the contract both purchase models share (fit, forecasts, parameter draws), and
splitting a class's methods over modules would hide that contract.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, NamedTuple, Protocol, Self, TypeVar

import numpy as np
import numpy.typing as npt

from wafa.analytics.models.base import (
    SMALL_SAMPLE_PENALIZER,
    SMALL_SAMPLE_REPEAT_CUSTOMERS,
    Compressed,
    ConvergenceError,
    FloatArray,
    IntArray,
    NotFittedError,
    RFMData,
    as_float_array,
    check_rfm,
    check_weights,
    compress,
    compress_weighted,
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

P = TypeVar("P")

__all__ = ["AlivePmf", "Pairs", "TransactionModel", "pairs_of"]


class AlivePmf(Protocol):
    """Recurrence for ``P(Y(t) = y | alive at T)``, ``y = 0, 1, 2, ...``, one row per case.

    Each call of :meth:`next` returns the probabilities of the next whole number for
    every row still kept; :meth:`keep` drops rows whose distribution is complete.
    """

    def next(self) -> FloatArray:
        """Return ``P(Y = y)`` for the next ``y`` (0 on the first call), per kept row."""
        ...

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        """Keep only the rows where ``mask`` is true."""
        ...


class Pairs(NamedTuple):
    """Distinct ``(x, T)`` pairs of a :class:`~wafa.analytics.models.base.Compressed` set.

    ``x[inverse]`` and ``T[inverse]`` give back each triple's frequency and ``T``;
    ``weights`` counts the customers of each pair.
    """

    x: FloatArray
    T: FloatArray
    weights: FloatArray
    inverse: IntArray


def pairs_of(c: Compressed) -> Pairs:
    """Group distinct triples into distinct ``(x, T)`` pairs.

    Parameters
    ----------
    c : Compressed
        Distinct ``(x, t_x, T)`` triples with their weights.

    Returns
    -------
    Pairs
        The pairs, their customer counts, and each triple's pair.
    """
    if c.frequency.shape[0] == 0:
        empty = np.empty(0)
        return Pairs(empty, empty, empty, np.empty(0, dtype=np.intp))
    t_values, t_code = np.unique(c.T, return_inverse=True)
    key = c.frequency.astype(np.int64) * t_values.shape[0] + t_code.reshape(-1)
    uniq, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.reshape(-1).astype(np.intp)
    weights = np.bincount(inverse, weights=c.weights, minlength=uniq.shape[0])
    return Pairs(
        (uniq // t_values.shape[0]).astype(np.float64),
        t_values[uniq % t_values.shape[0]],
        weights.astype(np.float64),
        inverse,
    )


class _Objective:
    """Mean penalised negative log-likelihood in log-parameters, remembering its last call.

    The fit asks for the value at the optimum several times (the optimiser's last step,
    the log-likelihood, the gradient for the standard errors); on a million customers
    each evaluation costs a large share of a second, so the last one is kept.
    """

    def __init__(
        self,
        loglik: Callable[[FloatArray, RFMData], tuple[FloatArray, FloatArray]],
        data: RFMData,
        penalizer: float,
    ) -> None:
        self.loglik = loglik
        self.data = data
        self.penalizer = penalizer
        self.n = float(data.w.sum())
        self.last: tuple[FloatArray, float, FloatArray, float] | None = None

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        if self.last is not None and np.array_equal(self.last[0], theta):
            return self.last[1], self.last[2]
        params = np.exp(theta)
        with np.errstate(all="ignore"):
            ll, grad = self.loglik(params, self.data)
            total = dot(self.data.w, ll)
            value = -total / self.n + self.penalizer * float(theta @ theta)
            grad_log = np.asarray(-grad * params / self.n + 2 * self.penalizer * theta)
        self.last = (theta.copy(), value, grad_log, total)
        return value, grad_log

    def log_likelihood(self, theta: FloatArray) -> float:
        """Total log-likelihood (no penalty) at ``theta``."""
        self(theta)
        assert self.last is not None
        return self.last[3]


class TransactionModel(ABC, Generic[P]):
    """Common ``fit`` and forecasts for latent-attrition purchase models on ``(x, t_x, T)``.

    Subclasses supply the per-triple log-likelihood and its gradient in the natural
    parameters, starting values, ``P(alive)``, the expected purchases given alive and a
    sampler of the purchases given alive.

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
    #: Relative work of one step of :meth:`_alive_pmf` per row (for work budgets).
    _pmf_cost: ClassVar[float] = 1.0

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
    def _p_alive_at(
        self, params: FloatArray, x: FloatArray, t_x: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        """``P(alive at T)`` for validated rows at the natural parameters ``params``."""

    @abstractmethod
    def _expected_alive(
        self, params: FloatArray, horizons: FloatArray, x: FloatArray, big_t: FloatArray
    ) -> FloatArray:
        """``E[Y(t) | alive at T]`` for each horizon ``t``: shape ``(len(horizons), n)``."""

    @abstractmethod
    def _alive_pmf(
        self, params: FloatArray, x: FloatArray, big_t: FloatArray, t: float
    ) -> AlivePmf:
        """Distribution of the purchases in ``(T, T + t]`` given alive at ``T``.

        ``params`` is ``(m, k)``, one parameter vector per row with ``x`` and ``big_t``.
        """

    @abstractmethod
    def _sample_alive(
        self,
        params: FloatArray,
        x: FloatArray,
        big_t: FloatArray,
        horizons: FloatArray,
        rng: np.random.Generator,
    ) -> IntArray:
        """Draw future purchases of customers alive at ``T``, one draw per row.

        ``params`` is ``(m, k)``: each row draws the latent rates from their posterior
        given alive under its own parameters, then the purchases in ``(T, T + t]`` for
        every horizon ``t`` (ascending) from the model. Returns ``(len(horizons), m)``.
        """

    # -- fitting -----------------------------------------------------------------

    def fit(
        self,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
    ) -> Self:
        """Fit the model by maximum likelihood on the distinct ``(x, t_x, T)`` triples.

        With more than ``WARM_START_ROWS`` distinct triples the optimiser starts on a
        random subsample of 20,000 customers, a few Newton steps on the full data finish
        the job, and the standard errors come from the subsample's Hessian scaled to the
        number of customers (its sampling error, about 1 %, is far below the standard
        errors' own uncertainty).

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

        objective = _Objective(self._loglik, RFMData.build(xu, tu, bu, wu), penalizer)
        x0 = np.log(self._initial_params(xu, tu, bu, wu))
        sample = warm_start_sample(wu)
        sub_objective: _Objective | None = None
        if sample is not None:
            # Most of the optimiser's iterations are spent far from the optimum; take them
            # on a random subsample of customers, then finish on the full data.
            rows, counts = sample
            sub_objective = _Objective(
                self._loglik, RFMData.build(xu[rows], tu[rows], bu[rows], counts), penalizer
            )
            try:
                x0 = maximise(sub_objective, x0, model=name, tol=1e-6, max_iter=200).log_params
                x0 = refine_from_sample(objective, sub_objective, x0, tol=self.tol)
            except ConvergenceError:  # the full-data fit decides
                sub_objective = None
        opt = maximise(objective, x0, model=name, tol=self.tol, max_iter=self.max_iter)
        params = np.exp(opt.log_params)
        log_likelihood = objective.log_likelihood(opt.log_params)
        if not math.isfinite(log_likelihood):
            raise ConvergenceError(
                f"{name}: the log-likelihood is not finite at the optimum. " + advice(name)
            )
        cov = covariance_from_hessian(
            natural_hessian(self._total_gradient(objective, sub_objective, n_customers), params)
        )
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

    def _total_gradient(
        self, full: _Objective, sample: _Objective | None, n_customers: float
    ) -> Callable[[FloatArray], FloatArray]:
        """Gradient of the penalised *total* negative log-likelihood in natural parameters.

        From the subsample when there is one, scaled to the full number of customers: the
        Hessian of a sum over customers is estimated by the subsample's sum times the
        ratio of the counts, at a twentieth of the cost.
        """
        source = sample if sample is not None else full
        scale = n_customers / source.n
        penalizer = full.penalizer

        def gradient(p: FloatArray) -> FloatArray:
            with np.errstate(all="ignore"):
                _, grad = self._loglik(p, source.data)
            pen = n_customers * 2 * penalizer * np.log(p) / p
            return np.asarray(-grad * scale + pen, dtype=np.float64)

        return gradient

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

    def probability_alive(
        self,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
        *,
        known: Compressed | None = None,
    ) -> FloatArray:
        """Probability that each customer is still alive at ``T``.

        Parameters
        ----------
        frequency, recency, T : array_like
            Customer summaries ``(x, t_x, T)``.
        known : Compressed, optional
            Their compression if already made (see :func:`compress`).

        Returns
        -------
        numpy.ndarray
            Probabilities in ``[0, 1]``.
        """
        params = self._params_array()
        c = compress(frequency, recency, T, known=known)
        alive = self._p_alive_at(params, c.frequency, c.recency, c.T)
        return np.asarray(alive[c.inverse], dtype=np.float64)

    def expected_purchases(
        self,
        t: float,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
    ) -> FloatArray:
        """Compute the expected number of repeat purchases in ``(T, T + t]`` given the history.

        ``E[Y(t) | x, t_x, T] = P(alive) * E[Y(t) | alive, x, T]``.

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
        values = self.expected_purchases_many([_check_horizon(t)], frequency, recency, T)
        return np.asarray(values[0], dtype=np.float64)

    def expected_purchases_many(
        self,
        horizons: npt.ArrayLike,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
    ) -> FloatArray:
        """:meth:`expected_purchases` for several windows at once, sharing ``P(alive)``.

        Parameters
        ----------
        horizons : array_like
            Window lengths (``>= 0``).
        frequency, recency, T : array_like
            Customer summaries.

        Returns
        -------
        numpy.ndarray
            ``(len(horizons), n_customers)``.
        """
        params = self._params_array()
        ts = self._check_t(horizons)
        c = compress(frequency, recency, T)
        values = self.conditional_expectations(params, ts, c)
        return np.asarray(values[:, c.inverse], dtype=np.float64)

    def conditional_expectations(
        self, params: FloatArray, horizons: FloatArray, c: Compressed, pairs: Pairs | None = None
    ) -> FloatArray:
        """Compute the expected purchases per distinct triple at any parameters.

        Parameters
        ----------
        params : numpy.ndarray
            Natural parameters.
        horizons : numpy.ndarray
            Window lengths.
        c : Compressed
            Distinct triples.
        pairs : Pairs, optional
            ``pairs_of(c)``, when already computed.

        Returns
        -------
        numpy.ndarray
            ``(len(horizons), n_triples)``.
        """
        p = pairs if pairs is not None else pairs_of(c)
        alive = self._p_alive_at(params, c.frequency, c.recency, c.T)
        given_alive = self._expected_alive(params, horizons, p.x, p.T)
        return np.asarray(alive[None, :] * given_alive[:, p.inverse], dtype=np.float64)

    def parameter_draws(
        self, n_draws: int, random_state: int | np.random.Generator | None = None
    ) -> FloatArray:
        """Draw parameter vectors from their estimated distribution.

        The log-parameters are asymptotically normal around the estimates with the
        inverse Hessian carried to log space by the delta method; drawing there keeps
        every parameter positive and matches the skew of the estimates of shape and
        scale parameters better than a normal on the natural scale. (On 200 simulated
        stores of 2,000 customers the 90 % intervals of the log-parameters held the true
        values 91-93 % of the time. Importance sampling towards the exact likelihood was
        tried: it moved the ranges of store totals by 1-2 %, at many times the cost.)

        Parameters
        ----------
        n_draws : int
            Number of draws.
        random_state : int, numpy.random.Generator or None, optional
            Seed or generator.

        Returns
        -------
        numpy.ndarray
            ``(n_draws, k)`` natural parameters.

        Raises
        ------
        ValueError
            When the fit has no standard errors (the Hessian was not positive definite):
            the parameters' uncertainty is unknown, so no honest draw exists.
        """
        params = self._params_array()
        if self.covariance_ is None:
            raise ValueError(
                f"{self._model_name}: the parameters have no standard errors, so their "
                "uncertainty cannot be drawn"
            )
        return draw_log_params(np.log(params), self.covariance_, params, n_draws, random_state)

    def parameter_intervals(self, level: float = 0.9) -> dict[str, tuple[float, float] | None]:
        """Intervals for the parameters on the log scale (never below zero).

        ``exp(log(theta) -+ z * se / theta)``, the normal interval of the log-parameter
        (delta method) carried back; ``None`` without standard errors.

        Parameters
        ----------
        level : float, optional
            Coverage, default 90 %.

        Returns
        -------
        dict
            ``{name: (low, high) or None}``.
        """
        params = self._params_array()
        se = np.array([getattr(self.standard_errors_, n) for n in self._param_names])
        bounds = log_scale_intervals(params, se, level)
        return dict(zip(self._param_names, bounds, strict=True))

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
            Keys ``params``, ``standard_errors``, ``intervals`` (90 %, log scale),
            ``log_likelihood``, ``n_customers``, ``small_sample``, ``warnings``.
        """
        params = self._params_array()
        return {
            "params": dict(zip(self._param_names, params.tolist(), strict=True)),
            "standard_errors": {n: getattr(self.standard_errors_, n) for n in self._param_names},
            "intervals": self.parameter_intervals(),
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
