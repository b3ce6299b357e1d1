"""Product recommendations from purchase history: item-to-item co-purchase similarity.

Customers and products are integer codes; a purchase history is a sparse binary
customer x product matrix ``X``. Two products are similar when the same customers buy
both: ``sim(i, j) = c_ij / sqrt(c_i c_j)``, the cosine of their customer vectors, where
``c_ij`` is the number of customers who bought both and ``c_i`` the number who bought
``i`` (Linden, Smith & York 2003, "Amazon.com recommendations: item-to-item
collaborative filtering"). Each product keeps its ``n_neighbours`` most similar
products; a customer's score for a product is the sum of its similarities to what
they bought, and the top ``n`` are recommended, topped up with the most popular products
when the history says too little.

A product that is not repeatable (``Product.repeatable = False``: an appliance, a
course) is never recommended to a customer who already bought it; inactive products are
never recommended. "Customers who bought X also bought Y" is the neighbour list of X.

Quality is measured by hit rate at ``k`` (:func:`evaluate_hit_rate`): for each customer
with at least two purchase occasions, the products of the last occasion are held out,
the model is trained on everything else, and a hit is any held-out product among the
``k`` recommendations; the same is measured for the most-popular baseline. ``k`` scales
with the catalogue (:func:`list_length`: a tenth of it, 1 to 10), since showing ten of
twelve products hits almost always whatever the method. The two methods are compared
on the same customers by a sign test on those where only one of them hit; with too
few such customers, or a list that covers half the catalogue, the verdict is that the
comparison cannot tell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from scipy import sparse, special

__all__ = [
    "HitRate",
    "ItemSimilarity",
    "evaluate_and_fit",
    "evaluate_hit_rate",
    "list_length",
    "owned_matrix",
    "sign_test_p_value",
]

#: Customers on whom only one method hit needed before the comparison says anything.
MIN_DISAGREEMENTS = 10
#: Two-sided significance of the sign test.
SIGNIFICANCE = 0.05

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def owned_matrix(
    customers: npt.ArrayLike, items: npt.ArrayLike, n_customers: int, n_items: int
) -> sparse.csr_matrix:
    """Build the binary customer x product matrix of ``(customer, item)`` pairs.

    Parameters
    ----------
    customers, items : array_like
        Integer codes, one pair per purchase (duplicates allowed).
    n_customers, n_items : int
        Matrix shape.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``X[c, i] = 1`` when customer ``c`` bought item ``i``.
    """
    c = np.asarray(customers, dtype=np.int64)
    i = np.asarray(items, dtype=np.int64)
    data = np.ones(c.shape[0], dtype=np.float32)
    matrix = sparse.csr_matrix((data, (c, i)), shape=(n_customers, n_items), dtype=np.float32)
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


class ItemSimilarity:
    """Item-to-item cosine similarity on co-purchases, truncated to the nearest neighbours.

    Parameters
    ----------
    n_neighbours : int
        Neighbours kept per product.

    Attributes
    ----------
    neighbours_ : scipy.sparse.csr_matrix
        ``(n_items, n_items)`` similarity of each product to its kept neighbours.
    co_counts_ : scipy.sparse.csr_matrix
        Customers who bought both, on the same pattern.
    popularity_ : numpy.ndarray
        Customers who bought each product.
    """

    neighbours_: sparse.csr_matrix
    co_counts_: sparse.csr_matrix
    popularity_: IntArray

    def __init__(self, n_neighbours: int = 50) -> None:
        self.n_neighbours = n_neighbours

    def fit(self, owned: sparse.csr_matrix) -> Self:
        """Fit on a binary customer x product matrix.

        Parameters
        ----------
        owned : scipy.sparse.csr_matrix
            Output of :func:`owned_matrix`.

        Returns
        -------
        Self
            The fitted model.
        """
        popularity, row, col, both = _co_purchases(owned)
        norms = np.sqrt(np.maximum(popularity, 1.0))
        sims = both / (norms[row] * norms[col])
        n_items = owned.shape[1]
        keep = _top_per_row(row, sims, n_items, self.n_neighbours)
        self.neighbours_ = sparse.csr_matrix(
            (sims[keep], (row[keep], col[keep])), shape=(n_items, n_items)
        )
        self.co_counts_ = sparse.csr_matrix(
            (both[keep], (row[keep], col[keep])), shape=(n_items, n_items)
        )
        self.popularity_ = popularity.astype(np.int64)
        return self

    def also_bought(self, item: int, n: int = 10) -> list[tuple[int, float, int]]:
        """Return the products most often bought by the buyers of ``item``.

        Parameters
        ----------
        item : int
            Product code.
        n : int
            How many.

        Returns
        -------
        list of tuple
            ``(product, similarity, customers who bought both)``, most similar first.
        """
        start, end = self.neighbours_.indptr[item], self.neighbours_.indptr[item + 1]
        cols = self.neighbours_.indices[start:end]
        scores = self.neighbours_.data[start:end]
        counts = self.co_counts_.data[start:end]
        order = np.lexsort((cols, -scores))[:n]
        return [(int(cols[k]), float(scores[k]), int(counts[k])) for k in order]

    def recommend(
        self,
        owned: sparse.csr_matrix,
        *,
        n: int = 10,
        repeatable: BoolArray | None = None,
        available: BoolArray | None = None,
    ) -> IntArray:
        """Recommend ``n`` products for each row of ``owned``.

        Parameters
        ----------
        owned : scipy.sparse.csr_matrix
            ``(customers, n_items)`` binary purchase history.
        n : int
            Recommendations per customer.
        repeatable : numpy.ndarray of bool, optional
            Per product; a non-repeatable product a customer owns is never recommended
            to them (default: every product is repeatable).
        available : numpy.ndarray of bool, optional
            Per product; unavailable (inactive) products are never recommended.

        Returns
        -------
        numpy.ndarray
            ``(customers, n)`` product codes, best first, ``-1`` where fewer than ``n``
            products qualify.
        """
        n_items = self.neighbours_.shape[0]
        rep = np.ones(n_items, dtype=bool) if repeatable is None else np.asarray(repeatable)
        avail = np.ones(n_items, dtype=bool) if available is None else np.asarray(available)
        x = sparse.csr_matrix(owned, dtype=np.float64)
        scores = sparse.csr_matrix(x @ self.neighbours_)
        blocked = _blocked_keys(x, rep, n_items)
        # Every (customer, product) score at once: drop what may not be shown, rank each
        # row by score (then product code), keep the first ``n``.
        scores.sort_indices()  # product codes ascending within a row: ties stay in that order
        rows = np.repeat(np.arange(x.shape[0]), np.diff(scores.indptr))
        cols, vals = scores.indices, scores.data
        ok = avail[cols]
        if blocked.size:
            ok &= ~np.isin(rows * n_items + cols, blocked)
        rows, cols, vals = rows[ok], cols[ok], vals[ok]
        out = np.full((x.shape[0], n), -1, dtype=np.int64)
        if x.shape[0] * n_items <= DENSE_RANKING_MAX_CELLS:
            # A few customers (the evaluation's sample): each row ranked on its own, a
            # missing score last; a stable sort keeps equal scores in code order, as below.
            negated = np.full((x.shape[0], n_items), np.inf)
            negated[rows, cols] = -vals
            order = np.argsort(negated, axis=1, kind="stable")[:, :n]
            shown = np.take_along_axis(negated, order, axis=1) < np.inf
            out[:, : order.shape[1]] = np.where(shown, order, -1)
        else:
            order = np.lexsort((-vals, rows))  # stable: equal scores keep the code order
            rows, cols = rows[order], cols[order]
            rank = np.arange(rows.size) - np.searchsorted(rows, rows, side="left")
            kept = rank < n
            out[rows[kept], rank[kept]] = cols[kept]
        _fill_with_popular(out, self._popular_order(avail), blocked, n_items)
        return out

    def popular(
        self,
        owned: sparse.csr_matrix,
        *,
        n: int = 10,
        repeatable: BoolArray | None = None,
        available: BoolArray | None = None,
    ) -> IntArray:
        """Recommend the most popular products (the baseline), with the same exclusions.

        Parameters
        ----------
        owned, n, repeatable, available
            As :meth:`recommend`.

        Returns
        -------
        numpy.ndarray
            ``(customers, n)`` product codes, ``-1`` padded.
        """
        n_items = self.neighbours_.shape[0]
        rep = np.ones(n_items, dtype=bool) if repeatable is None else np.asarray(repeatable)
        avail = np.ones(n_items, dtype=bool) if available is None else np.asarray(available)
        x = sparse.csr_matrix(owned)
        out = np.full((x.shape[0], n), -1, dtype=np.int64)
        _fill_with_popular(out, self._popular_order(avail), _blocked_keys(x, rep, n_items), n_items)
        return out

    def _popular_order(self, available: BoolArray) -> IntArray:
        """Return the available products, most bought first (ties by product code)."""
        order = np.argsort(-self.popularity_, kind="stable")
        return np.asarray(order[available[order]], dtype=np.int64)


def _blocked_keys(owned: sparse.csr_matrix, repeatable: BoolArray, n_items: int) -> IntArray:
    """Return ``row * n_items + product`` of each owned product that is not repeatable, sorted."""
    rows = np.repeat(np.arange(owned.shape[0]), np.diff(owned.indptr))
    items = owned.indices
    mask = ~repeatable[items]
    return np.sort(rows[mask].astype(np.int64) * n_items + items[mask])


def _fill_with_popular(out: IntArray, popular: IntArray, blocked: IntArray, n_items: int) -> None:
    """Fill each row's free slots (``-1``, at its end) with the most popular products.

    A product already in the row or blocked for it (``row * n_items + product`` in the
    sorted ``blocked``) is skipped, as a shop assistant would skip it going down the
    best-seller list.
    """
    n = out.shape[1]
    counts = np.count_nonzero(out >= 0, axis=1)
    short = np.flatnonzero(counts < n)
    if short.size == 0 or popular.size == 0:
        return
    # Enough of the list that, after skipping a row's own and blocked products, ``n``
    # remain: a row skips at most ``n`` shown products and its blocked ones.
    blocked_rows = blocked // n_items
    per_row = np.bincount(blocked_rows, minlength=out.shape[0])[short] if blocked.size else 0
    head = popular[: n + n + int(np.max(per_row, initial=0))]
    keys = short[:, None].astype(np.int64) * n_items + head[None, :]
    shown = out[short]
    taken = np.where(shown >= 0, short[:, None] * n_items + shown, -1)
    excluded = np.union1d(blocked, taken[taken >= 0])
    free = ~np.isin(keys, excluded)
    position = np.cumsum(free, axis=1) - 1 + counts[short][:, None]
    place = free & (position < n)
    which, at = np.nonzero(place)
    out[short[which], position[which, at]] = head[at]


#: :meth:`ItemSimilarity.recommend` ranks each customer's scores in a dense
#: customers x products array while it has at most this many cells (20,000 sampled
#: customers and 60 products: a quarter of the time of one sort of every score).
DENSE_RANKING_MAX_CELLS = 4_000_000

#: Bit columns of a binary matrix are used for its co-purchase counts while they take at
#: most this many bytes (a catalogue of 60 products and a million customers: 7.5 MB).
BIT_COLUMNS_MAX_BYTES = 64 * 2**20


def _co_purchases(owned: sparse.csr_matrix) -> tuple[FloatArray, IntArray, IntArray, FloatArray]:
    """Count each product's buyers and each pair's common buyers.

    Returns ``(popularity, row, col, both)``: buyers per product, and every pair of
    distinct products with at least one common buyer, by row then column ascending,
    with that count (``X^T X`` off its diagonal, as floats).

    A small catalogue is counted on bit columns (one bit per customer and product): a
    pair's count is the number of bits set in the AND of its two columns, which on 60
    products and a million customers costs a tenth of the sparse product ``X^T X``
    (most of whose time goes to per-entry bookkeeping). The counts are the same integers
    either way, in the same order.
    """
    x = sparse.csr_matrix(owned, dtype=np.float32)
    n_customers, n_items = x.shape
    words = -(-n_customers // 64)
    if (
        hasattr(np, "bitwise_count")
        and n_items * words * 8 <= BIT_COLUMNS_MAX_BYTES
        and x.has_canonical_format
        and bool(np.all(x.data == 1.0))
        # X^T X sums in float32: beyond 2**24 customers its counts would not be exact.
        and n_customers < 2**24
    ):
        by_item = x.tocsc()
        bits = np.zeros((n_items, words * 8), dtype=np.uint8)
        column = np.zeros(words * 64, dtype=bool)
        for item in range(n_items):
            buyers = by_item.indices[by_item.indptr[item] : by_item.indptr[item + 1]]
            column[buyers] = True
            bits[item] = np.packbits(column, bitorder="little")
            column[buyers] = False
        packed = bits.view(np.uint64)
        counts = np.zeros((n_items, n_items), dtype=np.int64)
        for item in range(n_items):
            common = np.bitwise_count(packed[item] & packed[item:]).sum(axis=1, dtype=np.int64)
            counts[item, item:] = common
            counts[item:, item] = common
        popularity = np.diagonal(counts).astype(np.float64)
        np.fill_diagonal(counts, 0)
        row, col = np.nonzero(counts)
        return popularity, row, col, counts[row, col].astype(np.float64)
    co = sparse.csr_matrix((x.T @ x), dtype=np.float64)
    popularity = np.asarray(co.diagonal(), dtype=np.float64)
    co.setdiag(0.0)
    co.eliminate_zeros()
    coo = co.tocoo()
    return popularity, coo.row, coo.col, coo.data


def _top_per_row(rows: IntArray, scores: FloatArray, n_rows: int, k: int) -> IntArray:
    """Return indices of the ``k`` largest ``scores`` within each row."""
    if rows.size == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((-scores, rows))
    sorted_rows = rows[order]
    starts = np.searchsorted(sorted_rows, np.arange(n_rows), side="left")
    rank = np.arange(order.size) - starts[sorted_rows]
    return np.asarray(order[rank < k], dtype=np.int64)


def sign_test_p_value(successes: int, trials: int) -> float:
    """Return the two-sided exact binomial (sign) test's p-value for a fair coin.

    The binomial with p = 1/2 is symmetric, so the outcomes at most as likely as
    ``successes`` are the two tails beyond ``min(k, n - k)``: the p-value is twice the
    lower tail, at most 1 (``scipy.stats.binomtest(k, n, 0.5)`` to 1e-9, without importing
    ``scipy.stats``, which costs every ``wafa analyze`` about a second).

    Parameters
    ----------
    successes : int
        Customers for whom only the first list hit.
    trials : int
        Customers for whom the two lists differ.

    Returns
    -------
    float
        The p-value.
    """
    if 2 * successes == trials:
        return 1.0
    tail = min(successes, trials - successes)
    return float(min(1.0, 2.0 * special.bdtr(tail, trials, 0.5)))


def list_length(n_items: int) -> int:
    """Return how many products an evaluated list shows: a tenth of the catalogue, 1 to 10.

    Parameters
    ----------
    n_items : int
        Products in the catalogue.

    Returns
    -------
    int
        ``k`` of the hit rate.
    """
    return int(min(10, max(1, n_items // 10)))


@dataclass(frozen=True)
class HitRate:
    """Hit rate at ``k`` of the recommender and of the most-popular baseline.

    Attributes
    ----------
    k : int
        Recommendations per customer.
    customers : int
        Customers evaluated (at least two purchase occasions, history before the last).
    hit_rate : float
        Share of them with a held-out product among the recommendations.
    baseline_hit_rate : float
        The same for the most popular products.
    only_recommender, only_baseline : int
        Customers hit by one method and not the other.
    catalogue : int
        Products in the catalogue.
    """

    k: int
    customers: int
    hit_rate: float
    baseline_hit_rate: float
    only_recommender: int = 0
    only_baseline: int = 0
    catalogue: int = 0

    @property
    def verdict(self) -> tuple[str, str]:
        """Return ``(verdict, why)``: ``better``, ``worse``, ``no_difference`` or ``cannot_tell``."""
        if self.catalogue and 2 * self.k >= self.catalogue:
            return "cannot_tell", (
                f"a list of {self.k} covers half of the {self.catalogue} products or more"
            )
        differ = self.only_recommender + self.only_baseline
        if differ < MIN_DISAGREEMENTS:
            return "cannot_tell", (
                f"the two lists differ in their hit for only {differ} customers "
                f"(at least {MIN_DISAGREEMENTS} are needed)"
            )
        p_value = sign_test_p_value(self.only_recommender, differ)
        if p_value >= SIGNIFICANCE:
            return "no_difference", f"not distinguishable from best sellers (p = {p_value:.2f})"
        if self.only_recommender > self.only_baseline:
            return "better", f"better than best sellers (p = {p_value:.3f})"
        return "worse", f"worse than best sellers (p = {p_value:.3f})"

    def to_dict(self) -> dict[str, Any]:
        """Return the figures as plain data."""
        verdict, why = self.verdict
        return {
            "k": self.k,
            "customers": self.customers,
            "hit_rate": self.hit_rate,
            "baseline_hit_rate": self.baseline_hit_rate,
            "lift": (self.hit_rate / self.baseline_hit_rate) if self.baseline_hit_rate else None,
            "only_recommender": self.only_recommender,
            "only_baseline": self.only_baseline,
            "catalogue": self.catalogue,
            "verdict": verdict,
            "verdict_reason": why,
        }


def evaluate_hit_rate(
    customers: IntArray,
    items: IntArray,
    in_train: BoolArray,
    in_last: BoolArray,
    *,
    n_customers: int,
    n_items: int,
    k: int | None = None,
    repeatable: BoolArray | None = None,
    max_customers: int = 20_000,
    n_neighbours: int = 50,
    random_state: int = 0,
) -> HitRate:
    """Hold out each customer's last purchase occasion and measure hit rate at ``k``.

    Parameters
    ----------
    customers, items : numpy.ndarray
        One row per (customer, product) pair, or per purchase of a product: a pair's
        rows are merged (a product counts once per customer).
    in_train : numpy.ndarray of bool
        The row occurs before the customer's last occasion (or the customer has only
        one occasion).
    in_last : numpy.ndarray of bool
        The row occurs in the last occasion of a customer with two or more.
    n_customers, n_items : int
        Code ranges.
    k : int, optional
        Recommendations per customer (default :func:`list_length` of the catalogue).
    repeatable : numpy.ndarray of bool, optional
        Per product (see :meth:`ItemSimilarity.recommend`).
    max_customers : int
        Evaluate a random sample of at most this many customers (the model is always
        trained on everyone's history).
    n_neighbours : int
        Neighbours kept per product.
    random_state : int
        Seed of the sample.

    Returns
    -------
    HitRate
        Both hit rates.
    """
    train, target = _split(customers, items, in_train, in_last, n_customers, n_items)
    return _hit_rate(
        train,
        target,
        k=k,
        repeatable=repeatable,
        max_customers=max_customers,
        n_neighbours=n_neighbours,
        random_state=random_state,
    )


def evaluate_and_fit(
    customers: IntArray,
    items: IntArray,
    in_train: BoolArray,
    in_last: BoolArray,
    *,
    n_customers: int,
    n_items: int,
    repeatable: BoolArray | None = None,
    n_neighbours: int = 50,
) -> tuple[HitRate, ItemSimilarity]:
    """Evaluate the recommender (:func:`evaluate_hit_rate`) and fit it on everything.

    The same as :func:`evaluate_hit_rate` with these arguments, then
    ``ItemSimilarity(n_neighbours).fit(owned_matrix(customers, items, ...))``, but the
    whole history's matrix is made from the evaluation's two (the history before each
    customer's last occasion and that occasion), with rows in neither added: a sum of
    two sparse matrices, where building a third from millions of order lines sorts them
    all again.

    Returns
    -------
    tuple
        The hit rates and the model fitted on every row.
    """
    train, target = _split(customers, items, in_train, in_last, n_customers, n_items)
    quality = _hit_rate(train, target, repeatable=repeatable, n_neighbours=n_neighbours)
    owned = train + target
    rest = ~(in_train | in_last)
    if np.any(rest):
        owned = owned + owned_matrix(customers[rest], items[rest], n_customers, n_items)
    owned = sparse.csr_matrix(owned, dtype=np.float32)
    owned.sum_duplicates()
    owned.data[:] = 1.0
    return quality, ItemSimilarity(n_neighbours).fit(owned)


def _split(
    customers: IntArray,
    items: IntArray,
    in_train: BoolArray,
    in_last: BoolArray,
    n_customers: int,
    n_items: int,
) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Return the owned matrices of the rows ``in_train`` and of the rows ``in_last``."""
    return (
        owned_matrix(customers[in_train], items[in_train], n_customers, n_items),
        owned_matrix(customers[in_last], items[in_last], n_customers, n_items),
    )


def _hit_rate(
    train: sparse.csr_matrix,
    target: sparse.csr_matrix,
    *,
    k: int | None = None,
    repeatable: BoolArray | None = None,
    max_customers: int = 20_000,
    n_neighbours: int = 50,
    random_state: int = 0,
) -> HitRate:
    """Hit rates of a model fitted on ``train`` at ``target`` (see :func:`evaluate_hit_rate`)."""
    n_items = int(train.shape[1])
    k = list_length(n_items) if k is None else k
    model = ItemSimilarity(n_neighbours).fit(train)
    has_target = np.diff(target.indptr) > 0
    has_history = np.diff(train.indptr) > 0
    candidates = np.flatnonzero(has_target & has_history)
    if candidates.size > max_customers:
        rng = np.random.default_rng(random_state)
        candidates = np.sort(rng.choice(candidates, size=max_customers, replace=False))
    if candidates.size == 0:
        return HitRate(k, 0, 0.0, 0.0, catalogue=n_items)
    history = train[candidates]
    truth = target[candidates]
    recs = _hits(model.recommend(history, n=k, repeatable=repeatable), truth)
    base = _hits(model.popular(history, n=k, repeatable=repeatable), truth)
    return HitRate(
        k,
        int(candidates.size),
        float(recs.mean()),
        float(base.mean()),
        int(np.count_nonzero(recs & ~base)),
        int(np.count_nonzero(base & ~recs)),
        n_items,
    )


def _hits(recommended: IntArray, truth: sparse.csr_matrix) -> BoolArray:
    """Tell per row whether a recommended product (``-1`` = none) is in ``truth``."""
    rows = recommended.shape[0]
    if not rows:
        return np.zeros(0, dtype=bool)
    row_of, slot = np.nonzero(recommended >= 0)
    shown = sparse.csr_matrix(
        (np.ones(row_of.shape[0], dtype=np.float32), (row_of, recommended[row_of, slot])),
        shape=truth.shape,
    )
    return np.asarray(np.asarray(shown.multiply(truth).sum(axis=1)).ravel() > 0)
