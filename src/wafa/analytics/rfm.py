r"""RFM scores (1-5 by quantiles) and the named segments an owner can act on.

Recency (days since the last purchase, fewer is better), frequency (purchase
occasions) and monetary value (net spend) are each scored 1 to 5 by where the customer
stands among all customers: the score is ``1 + floor(5 * share of customers strictly
worse)``, capped at 5. Ties share a score, so with many one-time buyers every one of them
has F = 1 rather than being spread at random over several scores (as ``qcut`` on ranks
would do), and the top customers always reach 5.

Segments follow the widely used RFM segment map (Putler's eleven segments): a grid on
the recency score and the average of the frequency and monetary scores.

==========  =======================================================================
R \ FM      1               2                   3                4               5
==========  =======================================================================
5           new             potential loyal     potential loyal  champions       champions
4           promising       potential loyal     potential loyal  loyal           champions
3           about to sleep  about to sleep      need attention   loyal           loyal
2           hibernating     hibernating         at risk          at risk         cannot lose
1           lost            lost                at risk          cannot lose     cannot lose
==========  =======================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["SEGMENTS", "Segment", "rfm_scores", "segment_codes", "segment_names", "segment_table"]

IntArray = npt.NDArray[np.int64]


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated where it is shown.

    Parameters
    ----------
    message : str
        English text.

    Returns
    -------
    str
        ``message`` unchanged.
    """
    return message


@dataclass(frozen=True)
class Segment:
    """A named group of customers and what to do about it (English; translated on display).

    Attributes
    ----------
    key : str
        Stable identifier stored on the database (``champions``, ``at_risk``...).
    name : str
        Display name.
    description : str
        Who these customers are, in plain words.
    action : str
        What an owner should do about them.
    """

    key: str
    name: str
    description: str
    action: str


SEGMENTS: tuple[Segment, ...] = (
    Segment(
        "champions",
        N_("Champions"),
        N_("Bought recently, buy often and spend the most."),
        N_(
            "Thank them and treat them as VIPs: early access to new products, a personal "
            "note, an invitation to review or refer. No discounts needed."
        ),
    ),
    Segment(
        "loyal",
        N_("Loyal"),
        N_("Buy regularly and spend well."),
        N_(
            "Keep them close with loyalty rewards and a higher tier; suggest products that "
            "go with what they buy."
        ),
    ),
    Segment(
        "potential_loyalists",
        N_("Potential loyalists"),
        N_("Recent customers who have come back or spent a fair amount."),
        N_(
            "Invite them to the loyalty program and give a reason for the next visit: "
            "points, a stamp card, a recommendation."
        ),
    ),
    Segment(
        "new",
        N_("New customers"),
        N_("Made their first purchase very recently."),
        N_(
            "Welcome them: a thank-you message, how to get the most from what they bought, "
            "and a small incentive for a second purchase."
        ),
    ),
    Segment(
        "promising",
        N_("Promising"),
        N_("Bought recently but only once and for a small amount."),
        N_("Build the relationship: show them more of the range and offer a first reward."),
    ),
    Segment(
        "need_attention",
        N_("Need attention"),
        N_("Average on every count and starting to slip."),
        N_(
            "Reach out before they drift away: a limited-time offer based on what they "
            "bought before."
        ),
    ),
    Segment(
        "about_to_sleep",
        N_("About to sleep"),
        N_("Below average and have not bought for a while."),
        N_("Remind them you are there: popular products, a useful tip, a modest discount."),
    ),
    Segment(
        "at_risk",
        N_("At risk"),
        N_("Used to buy often and spend well, but not lately."),
        N_(
            "Win them back now with a personal message and a worthwhile offer; ask whether "
            "something went wrong."
        ),
    ),
    Segment(
        "cannot_lose",
        N_("Cannot lose them"),
        N_("Among your best customers once, and gone quiet for a long time."),
        N_(
            "Call or write personally, find out why they stopped, and make a generous "
            "win-back offer: they are worth it."
        ),
    ),
    Segment(
        "hibernating",
        N_("Hibernating"),
        N_("Bought little, not often, and long ago."),
        N_("Include them in general newsletters and seasonal offers; do not spend much on them."),
    ),
    Segment(
        "lost",
        N_("Lost"),
        N_("Lowest on every count: one small purchase long ago."),
        N_("Try one win-back campaign at most; otherwise let them go and save the effort."),
    ),
)

# Each segment's colour, wherever segments are drawn: the dashboard's RFM map and charts and
# the standalone HTML report of ``wafa analyze``. Chosen so that white or near-black numbers
# on every tile reach 4.5:1 (the dashboard picks whichever reads better).
SEGMENT_COLOURS: dict[str, str] = {
    "champions": "#137a47",
    "loyal": "#2f9e6b",
    "potential_loyalists": "#63b98e",
    "new": "#2563c9",
    "promising": "#6f9be0",
    "need_attention": "#d2a531",
    "about_to_sleep": "#e08a2e",
    "at_risk": "#e0682f",  # a shade lighter: near-black numbers on it read at 4.7:1
    "cannot_lose": "#c8372d",
    "hibernating": "#8895a2",
    "lost": "#5b6773",
}

SEGMENT_KEYS = tuple(s.key for s in SEGMENTS)
_BY_KEY = {s.key: s for s in SEGMENTS}

# Rows: recency score 5..1; columns: frequency-monetary score 1..5.
_GRID = (
    ("new", "potential_loyalists", "potential_loyalists", "champions", "champions"),
    ("promising", "potential_loyalists", "potential_loyalists", "loyal", "champions"),
    ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),
    ("hibernating", "hibernating", "at_risk", "at_risk", "cannot_lose"),
    ("lost", "lost", "at_risk", "cannot_lose", "cannot_lose"),
)
# code table: _CODES[r - 1, fm - 1] -> index into SEGMENTS
_CODES = np.array(
    [[SEGMENT_KEYS.index(_GRID[5 - r][fm - 1]) for fm in range(1, 6)] for r in range(1, 6)],
    dtype=np.int64,
)


def segment_key(r: int, fm: int) -> str:
    """Return the segment of a cell of the map.

    Parameters
    ----------
    r : int
        Recency score, 1-5.
    fm : int
        Combined frequency-monetary score, 1-5.

    Returns
    -------
    str
        Segment key.
    """
    return _GRID[5 - r][fm - 1]


def segment(key: str) -> Segment:
    """Return the segment called ``key``.

    Parameters
    ----------
    key : str
        Segment key.

    Returns
    -------
    Segment
        Its names and advice.
    """
    return _BY_KEY[key]


def quantile_score(values: npt.ArrayLike, *, higher_is_better: bool = True) -> IntArray:
    """Score each value 1-5 by the share of values strictly worse than it.

    Parameters
    ----------
    values : array_like
        One value per customer.
    higher_is_better : bool
        Whether larger values are better (``False`` for recency in days).

    Returns
    -------
    numpy.ndarray
        Integer scores in ``1..5``; equal values get equal scores.
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if not higher_is_better:
        v = -v
    # Values strictly worse than each: how many come before its value among the sorted
    # distinct values. Searching the few distinct values (days, counts) instead of all n
    # sorted ones keeps the search in cache (a million customers: 0.5 -> 0.1 CPU s).
    distinct, counts = np.unique(v, return_counts=True)
    before = np.concatenate(([0], np.cumsum(counts)[:-1]))
    worse = before[np.searchsorted(distinct, v)]
    return np.asarray(np.minimum(1 + (5 * worse) // n, 5), dtype=np.int64)


def rfm_scores(
    recency_days: npt.ArrayLike, purchases: npt.ArrayLike, spend: npt.ArrayLike
) -> tuple[IntArray, IntArray, IntArray]:
    """Compute R, F and M scores.

    Parameters
    ----------
    recency_days : array_like
        Days since the last purchase.
    purchases : array_like
        Purchase occasions.
    spend : array_like
        Net spend.

    Returns
    -------
    tuple of numpy.ndarray
        ``(r, f, m)`` scores in ``1..5``.
    """
    return (
        quantile_score(recency_days, higher_is_better=False),
        quantile_score(purchases),
        quantile_score(spend),
    )


def segment_codes(r: IntArray, f: IntArray, m: IntArray) -> IntArray:
    """Map scores to segment indices into :data:`SEGMENTS`.

    Parameters
    ----------
    r, f, m : numpy.ndarray
        Scores in ``1..5``.

    Returns
    -------
    numpy.ndarray
        Index of each customer's segment.
    """
    fm = (np.asarray(f) + np.asarray(m) + 1) // 2
    return np.asarray(_CODES[np.asarray(r) - 1, fm - 1], dtype=np.int64)


def segment_names(codes: IntArray) -> npt.NDArray[np.str_]:
    """Return the segment keys of segment indices.

    Parameters
    ----------
    codes : numpy.ndarray
        Indices into :data:`SEGMENTS`.

    Returns
    -------
    numpy.ndarray
        Keys such as ``champions``.
    """
    return np.asarray(SEGMENT_KEYS, dtype=np.str_)[codes]


def thresholds(
    values: npt.ArrayLike, *, higher_is_better: bool = True, scores: IntArray | None = None
) -> list[float]:
    """Return the smallest value reaching each score 2..5 (for "score 4 = 3+ orders").

    Parameters
    ----------
    values : array_like
        One value per customer.
    higher_is_better : bool
        As in :func:`quantile_score`.
    scores : numpy.ndarray, optional
        The values' :func:`quantile_score`, when already computed.

    Returns
    -------
    list of float
        For higher-is-better values, the least value with score ``k`` for ``k = 2..5``
        (largest value for recency); ``NaN``-free: a score nobody reaches repeats the
        previous bound.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return []
    if scores is None:
        scores = quantile_score(v, higher_is_better=higher_is_better)
    out: list[float] = []
    previous = float(v.min() if higher_is_better else v.max())
    for k in range(2, 6):
        reached = v[scores >= k]
        if reached.size:
            previous = float(reached.min() if higher_is_better else reached.max())
        out.append(previous)
    return out


def segment_table(
    codes: IntArray, spend: npt.ArrayLike, clv: npt.ArrayLike | None = None
) -> list[dict[str, Any]]:
    """Count customers, revenue and (optionally) predicted value per segment.

    Parameters
    ----------
    codes : numpy.ndarray
        Segment index per customer.
    spend : array_like
        Net spend per customer (minor units).
    clv : array_like, optional
        Predicted lifetime value per customer (minor units).

    Returns
    -------
    list of dict
        One entry per segment, in :data:`SEGMENTS` order: ``key``, ``name``,
        ``description``, ``action``, ``customers``, ``share``, ``revenue``,
        ``revenue_share`` and ``clv`` (when given).
    """
    spend_arr = np.asarray(spend, dtype=np.float64)
    total_customers = max(int(codes.shape[0]), 1)
    total_revenue = float(spend_arr.sum()) or 1.0
    counts = np.bincount(codes, minlength=len(SEGMENTS))
    revenue = np.bincount(codes, weights=spend_arr, minlength=len(SEGMENTS))
    clv_sum = (
        None
        if clv is None
        else np.bincount(codes, weights=np.asarray(clv, dtype=np.float64), minlength=len(SEGMENTS))
    )
    table: list[dict[str, Any]] = []
    for i, seg in enumerate(SEGMENTS):
        entry: dict[str, Any] = {
            "key": seg.key,
            "name": seg.name,
            "description": seg.description,
            "action": seg.action,
            "customers": int(counts[i]),
            "share": float(counts[i]) / total_customers,
            "revenue": round(float(revenue[i])),
            "revenue_share": float(revenue[i]) / total_revenue,
        }
        if clv_sum is not None:
            entry["clv"] = round(float(clv_sum[i]))
        table.append(entry)
    return table


def grid(
    r: npt.NDArray[np.int64], fm: npt.NDArray[np.int64], spend: npt.NDArray[np.int64]
) -> list[dict[str, int]]:
    """Count customers and revenue in each cell of the 5 × 5 recency × frequency-monetary map.

    Parameters
    ----------
    r, fm : numpy.ndarray
        Recency score and combined frequency-monetary score (1-5) per customer.
    spend : numpy.ndarray
        Each customer's spend in minor units.

    Returns
    -------
    list of dict
        25 cells, ``r`` major, each with ``r``, ``fm``, ``customers`` and ``revenue``.
    """
    cells = (r - 1) * 5 + (fm - 1)
    counts = np.bincount(cells, minlength=25)
    revenue = np.bincount(cells, weights=spend.astype(np.float64), minlength=25)
    return [
        {
            "r": rr,
            "fm": ff,
            "customers": int(counts[(rr - 1) * 5 + ff - 1]),
            "revenue": round(float(revenue[(rr - 1) * 5 + ff - 1])),
        }
        for rr in range(1, 6)
        for ff in range(1, 6)
    ]
