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

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

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


def compress(
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    *,
    known: Compressed | None = None,
) -> Compressed:
    """Collapse customers into distinct ``(frequency, recency, T)`` triples.

    Fitting cost then grows with the number of distinct triples rather than with the
    number of customers: every model's log-likelihood depends on a customer only
    through the triple.

    Parameters
    ----------
    frequency, recency, T : array_like
        Per-customer summary (see :func:`check_rfm`).
    known : Compressed, optional
        An earlier compression, returned as it is when it rebuilds exactly these
        (checked) triples: fitting and forecasting the same customers sort them once
        (on a million customers each sort costs about 0.4 CPU s, checking the match
        about 0.01 s).

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
    x, t_x, big_t = check_rfm(frequency, recency, T)
    if known is not None and _rebuilds(known, x, t_x, big_t):
        return known
    return _compress_checked(x, t_x, big_t)


def _rebuilds(c: Compressed, x: FloatArray, t_x: FloatArray, big_t: FloatArray) -> bool:
    """Whether ``c`` is the compression of exactly ``(x, t_x, big_t)``."""
    if c.inverse.shape != x.shape:
        return False
    return bool(
        np.array_equal(c.frequency[c.inverse], x)
        and np.array_equal(c.recency[c.inverse], t_x)
        and np.array_equal(c.T[c.inverse], big_t)
    )


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
