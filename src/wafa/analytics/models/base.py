"""Shared machinery for the customer-base models: input checks, compression, errors.

Everything here is pure NumPy/SciPy. The models fit by maximum likelihood on the
*compressed* data: customers who share the same ``(frequency, recency, T)`` triple
contribute the same log-likelihood term, so each distinct triple is evaluated once and
weighted by its count (Fader & Hardie fit the CDNOW data this way in their spreadsheets).

Fitting conventions shared by every model
-----------------------------------------
* Parameters are optimised in log space with ``scipy.optimize.minimize`` (BFGS with
  an analytic gradient) on the *mean* negative log-likelihood, kept within
  ``[exp(-LOG_BOUND), exp(LOG_BOUND)]``; an optimum on that bound means the data do not
  identify a parameter, and fitting raises :class:`ConvergenceError`.
* ``penalizer_coef = c`` adds ``c * sum(log(theta) ** 2)`` to the mean negative
  log-likelihood: a ridge on the log-parameters (a log-normal prior centred on 1 time
  unit). Unlike lifetimes, which penalises ``sum(theta ** 2)``, it does not pull the
  scale parameters towards zero and its effect grows only logarithmically with them.
* ``standard_errors_`` are the square roots of the diagonal of the inverse Hessian of
  the (penalised) total negative log-likelihood at the optimum, with the Hessian taken
  in the *natural* parameter space by forward differences of the analytic gradient.
* With more than ``WARM_START_ROWS`` distinct rows, the optimiser first runs on a
  random subsample of customers; a few Newton steps on the full data, using the
  subsample's Hessian, then finish the job (:func:`refine_from_sample`), and BFGS
  confirms convergence on the full data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import linalg, optimize, special

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

#: Log-parameters are kept within ``[-LOG_BOUND, LOG_BOUND]`` during fitting.
LOG_BOUND = 18.0
#: Slope of the quadratic wall outside that box.
WALL = 1e3
#: Fewer customers with a repeat purchase than this sets ``small_sample_``.
SMALL_SAMPLE_REPEAT_CUSTOMERS = 300
#: Penalizer used when ``penalizer_coef=None`` and the sample is small.
SMALL_SAMPLE_PENALIZER = 0.001
#: Above this many distinct rows, fits start from a fit on a subsample of this size.
WARM_START_ROWS = 20000
#: Scratch arrays carried by :class:`RFMData`.
WORK_ARRAYS = 8

__all__ = [
    "LOG_BOUND",
    "SMALL_SAMPLE_PENALIZER",
    "SMALL_SAMPLE_REPEAT_CUSTOMERS",
    "Compressed",
    "ConvergenceError",
    "FloatArray",
    "InfiniteMeanSpend",
    "NotFittedError",
    "compress",
]


class ConvergenceError(Exception):
    """The optimiser did not find a finite maximum of the likelihood.

    The message says what to try: more data, a ``penalizer_coef`` (e.g. 0.001 to 0.1),
    or a different time unit (weeks rather than days keeps the scale parameters near 1).
    """


class InfiniteMeanSpend(Exception):
    """The fitted Gamma-Gamma model has ``q <= 1``, so the mean spend is infinite.

    With ``q <= 1`` the population mean spend ``p * gamma / (q - 1)`` does not exist, and
    spend predictions for customers with few transactions would be dominated by the
    tail; Wafa refuses to produce them rather than print a meaningless number.
    """


class NotFittedError(Exception):
    """A prediction was asked of a model before :meth:`fit` was called."""


class Compressed(NamedTuple):
    """Distinct ``(frequency, recency, T)`` triples with their counts.

    ``frequency[inverse]`` (and likewise ``recency``, ``T``) rebuilds the input, and
    ``weights`` holds how many customers share each triple.
    """

    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    weights: FloatArray
    inverse: IntArray


def logaddexp(a: FloatArray, b: FloatArray) -> FloatArray:
    """Elementwise ``log(exp(a) + exp(b))``, about 20 times faster than ``np.logaddexp``.

    ``np.logaddexp`` runs a scalar loop; this form uses vectorised ``exp`` and ``log1p``.
    Either argument may be ``-inf`` (not both).

    Parameters
    ----------
    a, b : numpy.ndarray
        Log-values.

    Returns
    -------
    numpy.ndarray
        ``max(a, b) + log1p(exp(-|a - b|))``.
    """
    hi = np.maximum(a, b)
    return np.asarray(hi + np.log1p(np.exp(-np.abs(a - b))), dtype=np.float64)


def dot(a: FloatArray, b: FloatArray) -> float:
    """Inner product of two 1-D arrays without BLAS.

    OpenBLAS runs long dot products on several threads; on a small, busy machine the
    thread hand-off costs more than the arithmetic (milliseconds instead of
    microseconds), so the hot paths use NumPy's own ``einsum`` loop instead.

    Parameters
    ----------
    a, b : numpy.ndarray
        Vectors of equal length.

    Returns
    -------
    float
        ``sum(a * b)``.
    """
    return float(np.einsum("i,i->", a, b))


def as_float_array(values: npt.ArrayLike, name: str) -> FloatArray:
    """Return ``values`` as a 1-D float64 array of finite numbers.

    Parameters
    ----------
    values : array_like
        Scalar or 1-D array.
    name : str
        Name used in the error message.

    Returns
    -------
    numpy.ndarray
        1-D float64 copy (or view) of ``values``.

    Raises
    ------
    ValueError
        If ``values`` is not 1-D or holds NaN or infinite entries.
    """
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or infinity)")
    return arr


def check_rfm(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate and broadcast a ``(frequency, recency, T)`` summary.

    Parameters
    ----------
    frequency : array_like
        Number of *repeat* transactions (non-negative integers).
    recency : array_like
        Time between the first and the last transaction, ``0 <= recency <= T``.
    T : array_like
        Time between the first transaction and the end of the observation period.

    Returns
    -------
    tuple of numpy.ndarray
        ``(frequency, recency, T)`` as 1-D float64 arrays of equal length.

    Raises
    ------
    ValueError
        On negative, non-integer or non-finite frequency, negative recency or T, or
        recency greater than T.
    """
    x = as_float_array(frequency, "frequency")
    t_x = as_float_array(recency, "recency")
    big_t = as_float_array(T, "T")
    try:
        x, t_x, big_t = np.broadcast_arrays(x, t_x, big_t)
    except ValueError as exc:
        raise ValueError("frequency, recency and T must have the same length") from exc
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must hold non-negative integers (repeat transactions)")
    if np.any(t_x < 0) or np.any(big_t < 0):
        raise ValueError("recency and T must be non-negative")
    # A little slack for recency and T computed separately in floating point.
    if np.any(t_x > big_t * (1 + 1e-9) + 1e-12):
        raise ValueError("recency must not exceed T")
    t_x = np.minimum(t_x, big_t)
    return (
        np.ascontiguousarray(x, dtype=np.float64),
        np.ascontiguousarray(t_x, dtype=np.float64),
        np.ascontiguousarray(big_t, dtype=np.float64),
    )


def check_weights(weights: npt.ArrayLike | None, n: int) -> FloatArray:
    """Validate per-customer weights (``None`` means one customer per row).

    Parameters
    ----------
    weights : array_like or None
        Non-negative counts, one per row.
    n : int
        Number of rows.

    Returns
    -------
    numpy.ndarray
        Float64 weights of length ``n``.

    Raises
    ------
    ValueError
        If the weights are negative, non-finite or of the wrong length.
    """
    if weights is None:
        return np.ones(n)
    w = as_float_array(weights, "weights")
    if w.shape != (n,):
        raise ValueError(f"weights must have length {n}, got {w.shape[0]}")
    if np.any(w < 0):
        raise ValueError("weights must be non-negative")
    return w


def compress(frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike) -> Compressed:
    """Collapse customers into distinct ``(frequency, recency, T)`` triples.

    Fitting cost then grows with the number of distinct triples rather than with the
    number of customers: every model's log-likelihood depends on a customer only
    through the triple.

    Parameters
    ----------
    frequency, recency, T : array_like
        Per-customer summary (see :func:`check_rfm`).

    Returns
    -------
    Compressed
        ``(frequency, recency, T, weights, inverse)``: the distinct triples in
        lexicographic order, how many customers share each, and for each input row the
        index of its triple.

    Examples
    --------
    >>> c = compress([0, 2, 0], [0.0, 3.0, 0.0], [5.0, 5.0, 5.0])
    >>> c.frequency.tolist(), c.weights.tolist(), c.inverse.tolist()
    ([0.0, 2.0], [2.0, 1.0], [0, 1, 0])
    """
    return _compress_checked(*check_rfm(frequency, recency, T))


def _compress_checked(x: FloatArray, t_x: FloatArray, big_t: FloatArray) -> Compressed:
    n = x.shape[0]
    if n == 0:
        empty = np.empty(0)
        return Compressed(empty, empty, empty, empty, np.empty(0, dtype=np.intp))
    # Factorise each column, then count a combined integer key: recency and T take few
    # distinct values in real data (days), so this is a couple of cheap sorts of
    # low-cardinality columns plus a bincount, instead of a three-key lexsort.
    t_values, t_code = np.unique(t_x, return_inverse=True)
    b_values, b_code = np.unique(big_t, return_inverse=True)
    x_code = x.astype(np.int64)
    n_t, n_b = t_values.shape[0], b_values.shape[0]
    size = (float(x_code.max()) + 1) * n_t * n_b
    if size > 2.0**62:
        return _compress_lexsort(x, t_x, big_t)
    key = (x_code * n_t + t_code.reshape(-1)) * n_b + b_code.reshape(-1)
    if size <= 8 * n:
        counts_all = np.bincount(key, minlength=int(size))
        present = np.flatnonzero(counts_all)
        remap = np.empty(int(size), dtype=np.intp)
        remap[present] = np.arange(present.shape[0])
        inverse = remap[key]
        counts = counts_all[present].astype(np.float64)
        uniq = present.astype(np.int64)
    else:
        uniq, inverse, counts_int = np.unique(key, return_inverse=True, return_counts=True)
        counts = counts_int.astype(np.float64)
        inverse = inverse.reshape(-1).astype(np.intp)
    b_idx = uniq % n_b
    t_idx = (uniq // n_b) % n_t
    x_val = (uniq // n_b) // n_t
    return Compressed(x_val.astype(np.float64), t_values[t_idx], b_values[b_idx], counts, inverse)


def _compress_lexsort(x: FloatArray, t_x: FloatArray, big_t: FloatArray) -> Compressed:
    n = x.shape[0]
    order = np.lexsort((big_t, t_x, x))
    xs, ts, bs = x[order], t_x[order], big_t[order]
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    new_group[1:] = (xs[1:] != xs[:-1]) | (ts[1:] != ts[:-1]) | (bs[1:] != bs[:-1])
    starts = np.flatnonzero(new_group)
    group_of_sorted = np.cumsum(new_group) - 1
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = group_of_sorted
    counts = np.diff(np.append(starts, n)).astype(np.float64)
    return Compressed(xs[starts], ts[starts], bs[starts], counts, inverse)


@dataclass(frozen=True)
class RFMData:
    """Distinct ``(x, t_x, T)`` rows with weights, plus the distinct values of ``x``.

    Terms that depend on a customer only through ``x`` (gamma and digamma functions)
    are evaluated once per distinct ``x`` and gathered, which keeps the per-row cost
    of a likelihood evaluation to a few logarithms.
    """

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    w: FloatArray
    x_values: FloatArray
    x_index: IntArray
    x_weight: FloatArray
    work: tuple[FloatArray, ...]

    @classmethod
    def build(
        cls, x: FloatArray, t_x: FloatArray, big_t: FloatArray, w: FloatArray | None = None
    ) -> RFMData:
        """Index the distinct values of ``x``.

        Parameters
        ----------
        x, t_x, big_t : numpy.ndarray
            Validated rows.
        w : numpy.ndarray, optional
            Row weights (default one).

        Returns
        -------
        RFMData
            The indexed data.
        """
        weights = np.ones_like(x) if w is None else w
        x_int = x.astype(np.intp)
        top = int(x_int.max()) if x_int.shape[0] else 0
        if top <= 4 * x_int.shape[0] + 1024:
            # Frequencies are small integers: index them with a lookup table, O(n).
            present = np.bincount(x_int, minlength=top + 1) > 0
            x_values = np.flatnonzero(present).astype(np.float64)
            lookup = np.cumsum(present) - 1
            x_index = lookup[x_int].astype(np.intp)
        else:
            x_values, inverse = np.unique(x, return_inverse=True)
            x_index = inverse.reshape(-1).astype(np.intp)
        x_weight = np.bincount(x_index, weights=weights, minlength=x_values.shape[0])
        # Scratch rows for the likelihoods: reusing them avoids the page faults that
        # fresh large temporaries cost on every evaluation.
        work = tuple(np.empty_like(x) for _ in range(WORK_ARRAYS))
        return cls(x, t_x, big_t, weights, x_values, x_index, x_weight.astype(np.float64), work)


def compress_weighted(
    frequency: FloatArray, recency: FloatArray, T: FloatArray, weights: FloatArray
) -> Compressed:
    """Like :func:`compress`, summing given per-row ``weights`` within each triple.

    Parameters
    ----------
    frequency, recency, T : numpy.ndarray
        Validated per-row summary.
    weights : numpy.ndarray
        Validated per-row weights.

    Returns
    -------
    Compressed
        Distinct triples with the summed weights; rows of weight 0 are dropped from the
        likelihood by giving their triple weight 0 (they still appear in ``inverse``).
    """
    c = _compress_checked(frequency, recency, T)
    summed = np.bincount(c.inverse, weights=weights, minlength=c.weights.shape[0])
    return c._replace(weights=summed.astype(np.float64))


@dataclass(frozen=True)
class OptimumInfo:
    """What the optimiser found, in log-parameter space."""

    log_params: FloatArray
    objective: float
    converged: bool
    n_iter: int
    message: str


def advice(model: str) -> str:
    """Return the standard remedy text appended to every :class:`ConvergenceError`.

    Parameters
    ----------
    model : str
        Model name for the message.

    Returns
    -------
    str
        Human-readable suggestions.
    """
    return (
        f"{model}: try more data (a longer calibration period or more customers), "
        "a penalizer (penalizer_coef=0.001 to 0.1), or a different time unit "
        "(weeks rather than days keep the parameters near 1)."
    )


def maximise(
    objective: Callable[[FloatArray], tuple[float, FloatArray]],
    x0: FloatArray,
    *,
    model: str,
    tol: float,
    max_iter: int,
) -> OptimumInfo:
    """Minimise ``objective`` over log-parameters with BFGS and check the result.

    ``scipy.optimize.minimize(method="BFGS")`` runs in NumPy; L-BFGS-B was dropped
    because its compiled core calls OpenBLAS, whose worker threads turn a 4-parameter
    iteration from microseconds into milliseconds on a busy machine. The box
    ``[-LOG_BOUND, LOG_BOUND]`` is kept by evaluating the objective at the clipped point
    plus a steep quadratic wall outside it.

    Parameters
    ----------
    objective : callable
        Returns the mean penalised negative log-likelihood and its gradient with respect
        to the log-parameters.
    x0 : numpy.ndarray
        Starting log-parameters.
    model : str
        Model name used in error messages.
    tol : float
        Gradient tolerance (on the mean negative log-likelihood).
    max_iter : int
        Maximum number of BFGS iterations.

    Returns
    -------
    OptimumInfo
        The optimum.

    Raises
    ------
    ConvergenceError
        If the objective is not finite, the optimiser stops without converging, or a
        parameter ends on the ``LOG_BOUND`` box (the data do not identify it).
    """

    def safe(theta: FloatArray) -> tuple[float, FloatArray]:
        inside = np.clip(theta, -LOG_BOUND, LOG_BOUND)
        value, grad = objective(inside)
        if not (math.isfinite(value) and np.all(np.isfinite(grad))):
            # Steer the line search away instead of failing outright.
            return 1e300, np.zeros_like(theta)
        outside = theta - inside
        return value + WALL * float(outside @ outside), grad + 2 * WALL * outside

    start_value, start_grad = objective(x0)
    if not (math.isfinite(start_value) and np.all(np.isfinite(start_grad))):
        raise ConvergenceError(
            f"{model}: the log-likelihood is not finite at the starting values. " + advice(model)
        )
    res = optimize.minimize(
        safe, x0, jac=True, method="BFGS", options={"maxiter": max_iter, "gtol": tol}
    )
    theta = np.clip(np.asarray(res.x, dtype=np.float64), -LOG_BOUND, LOG_BOUND)
    value, grad = objective(theta)
    if not (math.isfinite(value) and np.all(np.isfinite(theta))):
        raise ConvergenceError(
            f"{model}: the optimiser returned non-finite values. " + advice(model)
        )
    grad_norm = float(np.max(np.abs(grad)))
    # BFGS often stops with "precision loss" at an optimum whose gradient is already at
    # rounding level; that is convergence, not failure.
    converged = bool(res.success) or grad_norm < max(1e3 * tol, 1e-5)
    if not converged:
        raise ConvergenceError(
            f"{model}: the optimiser did not converge after {res.nit} iterations "
            f"({res.message}; largest gradient {grad_norm:.3g}). " + advice(model)
        )
    at_bound = np.abs(theta) > LOG_BOUND - 1e-3
    if np.any(at_bound):
        raise ConvergenceError(
            f"{model}: parameter(s) {np.flatnonzero(at_bound).tolist()} ran off to "
            f"exp(+-{LOG_BOUND:g}): the data do not identify them. " + advice(model)
        )
    return OptimumInfo(theta, float(value), converged, int(res.nit), str(res.message))


def warm_start_sample(weights: FloatArray) -> tuple[IntArray, FloatArray] | None:
    """Pick a random subsample of customers for a warm-start fit, or ``None`` if small.

    Draws ``WARM_START_ROWS`` customers (with replacement, in proportion to the row
    weights, from a fixed seed so that fits are reproducible) and returns the distinct
    rows drawn with their counts.

    Parameters
    ----------
    weights : numpy.ndarray
        Customers per distinct row.

    Returns
    -------
    tuple of numpy.ndarray or None
        ``(rows, counts)``, or ``None`` when there are at most ``WARM_START_ROWS`` rows.
    """
    if weights.shape[0] <= WARM_START_ROWS:
        return None
    rng = np.random.default_rng(0)
    cumulative = np.cumsum(weights)
    picks = np.searchsorted(cumulative, rng.uniform(0, cumulative[-1], WARM_START_ROWS))
    picks = np.minimum(picks, weights.shape[0] - 1)
    counts = np.bincount(picks, minlength=weights.shape[0])
    rows = np.flatnonzero(counts)
    return rows.astype(np.intp), counts[rows].astype(np.float64)


def refine_from_sample(
    objective: Callable[[FloatArray], tuple[float, FloatArray]],
    sample_objective: Callable[[FloatArray], tuple[float, FloatArray]],
    theta: FloatArray,
    *,
    tol: float,
    steps: int = 8,
) -> FloatArray:
    """Newton steps on the full data with the Hessian of a subsample fit.

    The subsample's Hessian of the mean negative log-likelihood (log-parameters, by
    central differences of its cheap gradient) differs from the full data's only by
    sampling error, so each step cuts the distance to the optimum by about that
    factor; a few full-data gradients then replace a cold quasi-Newton run. Steps are
    halved until the objective does not increase; any failure returns the last point.

    Parameters
    ----------
    objective, sample_objective : callable
        Full-data and subsample objectives (mean penalised NLL and gradient).
    theta : numpy.ndarray
        The subsample optimum (log-parameters).
    tol : float
        Stop when the largest gradient component is below ``tol``.
    steps : int, optional
        Maximum number of Newton steps.

    Returns
    -------
    numpy.ndarray
        Improved log-parameters.
    """
    k = theta.shape[0]
    hess = np.empty((k, k))
    for j in range(k):
        h = 1e-5 * max(1.0, abs(float(theta[j])))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        hess[:, j] = (sample_objective(up)[1] - sample_objective(down)[1]) / (2 * h)
    chol = _cholesky(0.5 * (hess + hess.T))
    if chol is None:
        return theta
    value, grad = objective(theta)
    if not math.isfinite(value):
        return theta
    for _ in range(steps):
        if float(np.max(np.abs(grad))) < tol:
            break
        step = _cholesky_solve(chol, grad)
        scale = 1.0
        for _ in range(8):
            candidate = np.clip(theta - scale * step, -LOG_BOUND, LOG_BOUND)
            new_value, new_grad = objective(candidate)
            if math.isfinite(new_value) and new_value <= value:
                break
            scale /= 2
        else:
            break
        theta, value, grad = candidate, new_value, new_grad
    return theta


def natural_hessian(
    gradient: Callable[[FloatArray], FloatArray], params: FloatArray, *, rel_step: float = 1e-6
) -> FloatArray:
    """Hessian of a function in the natural parameter space by forward differences.

    Parameters
    ----------
    gradient : callable
        Gradient with respect to the natural parameters.
    params : numpy.ndarray
        Point at which to differentiate (all positive).
    rel_step : float, optional
        Step relative to each parameter.

    Returns
    -------
    numpy.ndarray
        Symmetrised ``(k, k)`` Hessian.
    """
    k = params.shape[0]
    hess = np.empty((k, k))
    base = gradient(params)
    for j in range(k):
        h = rel_step * params[j]
        up = params.copy()
        up[j] += h
        hess[:, j] = (gradient(up) - base) / h
    return np.asarray(0.5 * (hess + hess.T), dtype=np.float64)


def covariance_from_hessian(hess: FloatArray) -> FloatArray | None:
    """Invert a Hessian of the negative log-likelihood, or ``None`` if not definite.

    Parameters
    ----------
    hess : numpy.ndarray
        Square symmetric matrix.

    Returns
    -------
    numpy.ndarray or None
        The covariance matrix, or ``None`` when ``hess`` is not positive definite (the
        optimum is flat in some direction and standard errors do not exist).
    """
    if not np.all(np.isfinite(hess)):
        return None
    chol = _cholesky(hess)
    if chol is None:
        return None
    cov = np.column_stack([_cholesky_solve(chol, e) for e in np.eye(hess.shape[0])])
    return np.asarray(0.5 * (cov + cov.T), dtype=np.float64)


def _cholesky(a: FloatArray) -> FloatArray | None:
    """Lower Cholesky factor of a small matrix, or ``None`` if not positive definite.

    Plain Python loops for the 3x3 and 4x4 matrices of the models: LAPACK through
    OpenBLAS may hand even these to worker threads (see :func:`maximise`).
    """
    k = a.shape[0]
    low = np.zeros((k, k))
    for i in range(k):
        for j in range(i + 1):
            acc = float(a[i, j]) - float(low[i, :j] @ low[j, :j])
            if i == j:
                if not (acc > 0 and math.isfinite(acc)):
                    return None
                low[i, i] = math.sqrt(acc)
            else:
                low[i, j] = acc / low[j, j]
    return low


def _cholesky_solve(low: FloatArray, b: FloatArray) -> FloatArray:
    """Solve ``(L L^T) x = b`` by forward and back substitution."""
    k = low.shape[0]
    y = np.zeros(k)
    for i in range(k):
        y[i] = (b[i] - float(low[i, :i] @ y[:i])) / low[i, i]
    x = np.zeros(k)
    for i in reversed(range(k)):
        x[i] = (y[i] - float(low[i + 1 :, i] @ x[i + 1 :])) / low[i, i]
    return x


def jacobi_rule(a: float, b: float, n: int) -> tuple[FloatArray, FloatArray]:
    """Gauss-Jacobi rule for expectations under a Beta(a, b) distribution on [0, 1].

    Golub-Welsch on the Jacobi matrix, with the weights normalised to sum to one so that
    large ``a`` or ``b`` cannot overflow (``scipy.special.roots_jacobi`` scales its
    weights by ``2 ** (a + b - 1)`` and overflows beyond a few hundred).

    Parameters
    ----------
    a, b : float
        Beta shape parameters (both positive).
    n : int
        Number of nodes.

    Returns
    -------
    nodes, weights : numpy.ndarray
        ``E[f(P)] ~= sum(weights * f(nodes))`` for ``P ~ Beta(a, b)``.
    """
    # Jacobi weight (1 - y)^al (1 + y)^be on [-1, 1], with P = (1 + y) / 2.
    al, be = b - 1.0, a - 1.0
    k = np.arange(n, dtype=np.float64)
    s = 2 * k + al + be
    with np.errstate(divide="ignore", invalid="ignore"):
        diag = (be**2 - al**2) / (s * (s + 2))
    diag[0] = (be - al) / (al + be + 2)
    kk = k[1:]
    ss = s[1:]
    off2 = 4 * kk * (kk + al) * (kk + be) * (kk + al + be) / (ss**2 * (ss + 1) * (ss - 1))
    if n > 1 and not np.isfinite(off2[0]):  # al + be == -1: use the limit at k = 1
        off2[0] = 4 * (1 + al) * (1 + be) / ((al + be + 2) ** 2 * (al + be + 3))
    vals, vecs = linalg.eigh_tridiagonal(diag, np.sqrt(off2))
    weights = vecs[0, :] ** 2
    weights = weights / weights.sum()
    nodes = np.clip((1 + vals) / 2, 0.0, 1.0)
    return nodes.astype(np.float64), weights.astype(np.float64)


def draw_log_params(
    log_params: FloatArray,
    cov_natural: FloatArray | None,
    params: FloatArray,
    n_draws: int,
    random_state: int | np.random.Generator | None,
) -> FloatArray:
    """Draw parameter vectors from the asymptotic normal in log space.

    The covariance of the log-parameters follows from the natural-space covariance by the
    delta method, ``Cov(log theta) = D^-1 Cov(theta) D^-1`` with ``D = diag(theta)``.

    Parameters
    ----------
    log_params : numpy.ndarray
        Fitted log-parameters.
    cov_natural : numpy.ndarray or None
        Covariance in the natural space; ``None`` (no standard errors) returns
        ``n_draws`` copies of the point estimate.
    params : numpy.ndarray
        Fitted natural parameters.
    n_draws : int
        Number of draws.
    random_state : int, numpy.random.Generator or None
        Seed or generator.

    Returns
    -------
    numpy.ndarray
        ``(n_draws, k)`` natural parameters.
    """
    rng = np.random.default_rng(random_state)
    if cov_natural is None:
        return np.tile(params, (n_draws, 1))
    cov_log = cov_natural / np.outer(params, params)
    draws = rng.multivariate_normal(log_params, cov_log, size=n_draws, method="eigh")
    return np.exp(np.clip(draws, -LOG_BOUND, LOG_BOUND))


def log_scale_intervals(
    params: FloatArray, standard_errors: FloatArray, level: float
) -> list[tuple[float, float] | None]:
    """Intervals for positive parameters from the normal interval of their logarithm.

    ``exp(log(theta) -+ z * se / theta)`` with ``z`` the normal quantile of
    ``(1 + level) / 2``: the delta-method standard error of ``log(theta)`` is
    ``se / theta``. Unlike ``theta -+ z * se`` the interval never goes below zero, and it
    matches the skew of the sampling distribution of shape and scale estimates.

    Parameters
    ----------
    params : numpy.ndarray
        Positive estimates.
    standard_errors : numpy.ndarray
        Their standard errors (``inf`` when unknown).
    level : float
        Coverage in ``(0, 1)``.

    Returns
    -------
    list
        ``(low, high)`` per parameter, ``None`` where the standard error is not finite.
    """
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    z = float(special.ndtri((1 + level) / 2))
    out: list[tuple[float, float] | None] = []
    for value, se in zip(params.tolist(), standard_errors.tolist(), strict=True):
        if not (math.isfinite(se) and value > 0):
            out.append(None)
            continue
        spread = z * se / value
        out.append((value * math.exp(-spread), value * math.exp(spread)))
    return out


def counts_until(
    rng: np.random.Generator,
    rate: FloatArray,
    horizons: FloatArray,
    cap: FloatArray | None = None,
    *,
    until: FloatArray | None = None,
) -> IntArray:
    """Draw the counts of a Poisson process at nested horizons, one process per row.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random numbers.
    rate : numpy.ndarray
        Rate of each row's process (per time unit).
    horizons : numpy.ndarray
        Ascending window lengths.
    cap : numpy.ndarray, optional
        Largest count of each row (``inf`` for none): the BG/NBD customer leaves after
        that many purchases.
    until : numpy.ndarray, optional
        Time after which each row's process stops (the Pareto/NBD lifetime).

    Returns
    -------
    numpy.ndarray
        ``(len(horizons), n)`` counts; each row of the result is non-decreasing.
    """
    out = np.empty((horizons.shape[0], rate.shape[0]), dtype=np.int64)
    total = np.zeros(rate.shape[0], dtype=np.int64)
    previous = np.zeros(rate.shape[0])
    for i, t in enumerate(horizons.tolist()):
        exposure = np.full(rate.shape[0], t) if until is None else np.minimum(until, t)
        total += rng.poisson(rate * (exposure - previous))
        previous = exposure
        out[i] = total if cap is None else np.minimum(total, cap)
    return out
