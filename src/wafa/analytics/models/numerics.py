"""Numerical tools the models share: the optimiser, Hessians, quadrature, draws, counts.

Every function is pure NumPy/SciPy (the "CLV models are pure math" contract). See
:mod:`wafa.analytics.models.base` for the fitting conventions they implement.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize, special

from wafa.analytics.models.base import (
    LOG_BOUND,
    WALL,
    WARM_START_ROWS,
    ConvergenceError,
    FloatArray,
    IntArray,
)

__all__ = [
    "OptimumInfo",
    "advice",
    "counts_until",
    "covariance_from_hessian",
    "draw_log_params",
    "jacobi_rule",
    "log_scale_intervals",
    "maximise",
    "natural_hessian",
    "refine_from_sample",
    "warm_start_sample",
]


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


@functools.lru_cache(maxsize=4096)
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
        ``E[f(P)] ~= sum(weights * f(nodes))`` for ``P ~ Beta(a, b)``; read-only, since
        the rules are cached by their arguments.
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
    nodes = np.clip((1 + vals) / 2, 0.0, 1.0).astype(np.float64)
    weights = weights.astype(np.float64)
    # Cached (a forecast asks for the same rule once per purchase count): read-only.
    nodes.flags.writeable = False
    weights.flags.writeable = False
    return nodes, weights


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
