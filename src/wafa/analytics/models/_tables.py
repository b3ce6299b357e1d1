"""Tables of the purchases' distribution given alive, and whole-number ranges read from them.

A :class:`PurchaseTable` holds ``P(Y(t) <= y | alive at T)`` for ``y = 0, 1, ...`` of
one window ``t``, one row per ``(x, T)`` pair and parameter draw (row ``pair * draws +
draw``), computed exactly by each model's recurrence (:class:`AlivePmf`) until less than
``TAIL`` of the probability is left, which is given to the last whole number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wafa.analytics.models._transaction import Pairs, TransactionModel
from wafa.analytics.models.base import FloatArray, IntArray

__all__ = ["TAIL", "PurchaseTable", "build_table", "ranges_from_tables"]

#: Probability left out of a table (given to its last whole number).
TAIL = 1e-6
#: Longest table row, a guard against parameters that put the purchases beyond reach.
MAX_PURCHASES = 200_000


@dataclass(frozen=True)
class PurchaseTable:
    """``P(Y <= y | alive)`` per row, flat: row ``i`` is ``cdf[offset[i] : offset[i] + length[i]]``.

    Attributes
    ----------
    cdf : numpy.ndarray
        Cumulative probabilities (each row ends at exactly 1).
    offset, length : numpy.ndarray
        Each row's slice.
    first, second : numpy.ndarray
        ``E[Y | alive]`` and ``E[Y^2 | alive]`` per row.
    keys : numpy.ndarray
        ``row + cdf``, increasing over the whole table (for :meth:`sample`).
    """

    cdf: FloatArray
    offset: IntArray
    length: IntArray
    first: FloatArray
    second: FloatArray
    keys: FloatArray

    @property
    def elements(self) -> int:
        """Number of stored probabilities (the work a table stands for)."""
        return int(self.cdf.shape[0])

    def at(self, rows: IntArray, y: IntArray) -> FloatArray:
        """``P(Y <= y | alive)`` for each ``(row, y)`` (broadcast), 0 for ``y < 0``."""
        last = self.length[rows] - 1
        value = self.cdf[self.offset[rows] + np.clip(y, 0, last)]
        return np.asarray(np.where(y < 0, 0.0, value), dtype=np.float64)

    def sample(self, rows: IntArray, u: FloatArray) -> IntArray:
        """Inverse of the distribution: the smallest ``y`` with ``P(Y <= y) >= u``."""
        found = np.searchsorted(self.keys, rows + u, side="left") - self.offset[rows]
        return np.asarray(np.minimum(found, self.length[rows] - 1), dtype=np.int64)


def build_table(
    model: TransactionModel[Any], theta: FloatArray, pairs: Pairs, t: float
) -> PurchaseTable:
    """Tabulate the purchases in a window of length ``t`` for every pair and draw.

    Parameters
    ----------
    model : TransactionModel
        Supplies the recurrence (``_alive_pmf``).
    theta : numpy.ndarray
        ``(draws, k)`` parameter vectors.
    pairs : Pairs
        Distinct ``(x, T)``.
    t : float
        Window length.

    Returns
    -------
    PurchaseTable
        Rows ordered ``pair * draws + draw``.
    """
    draws = theta.shape[0]
    n_rows = pairs.x.shape[0] * draws
    params = np.tile(theta, (pairs.x.shape[0], 1))
    pmf = model._alive_pmf(params, np.repeat(pairs.x, draws), np.repeat(pairs.T, draws), float(t))
    state = np.arange(n_rows)  # rows held by the recurrence
    total = np.zeros(n_rows)
    first = np.zeros(n_rows)
    second = np.zeros(n_rows)
    length = np.zeros(n_rows, dtype=np.int64)
    steps: list[tuple[IntArray, FloatArray]] = []
    open_ = np.ones(n_rows, dtype=bool)  # per held row: not yet complete
    y = 0
    while state.shape[0]:
        prob = pmf.next()
        total = total + prob
        rows, values = state[open_], total[open_]
        first[rows] += y * prob[open_]
        second[rows] += float(y) * y * prob[open_]
        steps.append((rows, values))
        done = open_ & ((total >= 1 - TAIL) | (y >= MAX_PURCHASES))
        if np.any(done):
            length[state[done]] = y + 1
            open_ &= ~done
            # Dropping rows copies the recurrence's arrays: do it when it pays.
            if np.count_nonzero(open_) < 0.75 * open_.shape[0]:
                pmf.keep(open_)
                state, total = state[open_], total[open_]
                open_ = np.ones(state.shape[0], dtype=bool)
        y += 1
    offset = np.concatenate([[0], np.cumsum(length)[:-1]]).astype(np.int64)
    cdf = np.empty(int(length.sum()))
    for step, (rows, values) in enumerate(steps):
        cdf[offset[rows] + step] = values
    cdf[offset + length - 1] = 1.0
    cdf = np.minimum(cdf, 1.0)
    keys = np.repeat(np.arange(n_rows, dtype=np.float64), length) + cdf
    return PurchaseTable(cdf, offset, length, first, second, keys)


def ranges_from_tables(
    table: PurchaseTable, rows: IntArray, alive: FloatArray, level: float
) -> tuple[IntArray, IntArray, FloatArray]:
    """Whole-number ranges of ``(1 - alive) [Y = 0] + alive * table``, mixed over draws.

    Unit ``u`` (a distinct customer history) has the distribution
    ``F_u(y) = mean_d[(1 - alive[u, d]) + alive[u, d] * P(Y <= y | alive, row[u, d])]``:
    under draw ``d`` it is alive with probability ``alive[u, d]`` and, if so, buys as
    its ``(x, T)`` row says. The range starts at the ``(1 - level) / 2`` quantile ``lo``;
    its upper end is whichever of the two whole numbers around the point where the
    chance reaches ``level`` gives a chance nearer to ``level`` (the larger on a tie).

    Parameters
    ----------
    table : PurchaseTable
        One window's table.
    rows : numpy.ndarray
        ``(units, draws)`` row of each unit under each draw.
    alive : numpy.ndarray
        ``(units, draws)`` probability of being alive under each draw.
    level : float
        Nominal coverage.

    Returns
    -------
    tuple of numpy.ndarray
        ``low``, ``high`` and ``chance`` (the range's probability) per unit.
    """
    single = rows.shape[1] == 1
    top = (table.length[rows].max(axis=1) - 1).astype(np.int64)

    def cdf(y: IntArray) -> FloatArray:
        inside = table.at(rows, y[:, None])
        value = ((1 - alive) + alive * inside).mean(axis=1)
        return np.asarray(np.where(y < 0, 0.0, np.minimum(value, 1.0)), dtype=np.float64)

    def quantile(p: FloatArray) -> IntArray:
        if single:
            # One draw: invert the table directly at the share of the alive part.
            a = alive[:, 0]
            with np.errstate(divide="ignore", invalid="ignore"):
                share = (p - (1 - a)) / a
            found = table.sample(rows[:, 0], np.clip(share - 1e-12, 0.0, 1.0))
            return np.asarray(np.where(share <= 1e-12, 0, found), dtype=np.int64)
        low = np.full(top.shape[0], -1, dtype=np.int64)  # cdf(low) < p
        high = top.copy()  # cdf(high) >= p (the tables end at 1)
        while True:
            open_ = high - low > 1
            if not np.any(open_):
                return np.asarray(high, dtype=np.int64)
            mid = (low + high) // 2
            reached = cdf(mid) >= p - 1e-12
            high = np.where(open_ & reached, mid, high)
            low = np.where(open_ & ~reached, mid, low)

    n = top.shape[0]
    lo = quantile(np.full(n, (1 - level) / 2))
    below = cdf(lo - 1)
    up = quantile(np.minimum(below + level, 1.0))
    chance_up = cdf(up) - below
    down = np.maximum(up - 1, lo)
    chance_down = cdf(down) - below
    use_down = (down < up) & (level - chance_down < chance_up - level)
    return lo, np.where(use_down, down, up), np.where(use_down, chance_down, chance_up)
