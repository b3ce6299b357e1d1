"""Descriptive retention figures an owner reads directly.

* repeat-purchase rate: the share of customers who bought on more than one day;
* share of revenue from returning customers: revenue of every purchase after a
  customer's first, over all revenue;
* the distribution of days between a customer's consecutive purchases;
* active / lapsed / churned customers by days since their last purchase, with the
  thresholds shown: a customer is *active* within the number of days in which 80 % of
  repeat purchases happen (the 80th percentile of the gaps between purchases, between
  30 and 365 days), *lapsed* up to twice that, and *churned* beyond; with fewer than
  20 repeat purchases the thresholds are 90 and 180 days;
* on-time delivery: of the delivered orders that carried a promised date, the share
  delivered by it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from wafa.analytics.summary import (
    CustomerSummary,
    Occasions,
    purchases_filter,
)
from wafa.orders.models import Order

__all__ = [
    "GAP_BUCKETS",
    "ActivityThresholds",
    "activity",
    "db_delivery",
    "duckdb_delivery",
    "gap_distribution",
    "headline",
    "occasion_gap_counts",
]

IntArray = npt.NDArray[np.int64]

#: Upper bounds (days, inclusive) of the inter-purchase histogram; the last is open.
GAP_BUCKETS = (7, 14, 30, 60, 90, 180, 365)
DEFAULT_ACTIVE_DAYS = 90
MIN_GAPS_FOR_THRESHOLDS = 20


def headline(summary: CustomerSummary) -> dict[str, Any]:
    """Compute customer count, repeat rate, revenue and the returning customers' share.

    Parameters
    ----------
    summary : CustomerSummary
        Per-customer statistics up to the analysis date.

    Returns
    -------
    dict
        ``customers``, ``repeat_customers``, ``repeat_rate``, ``purchases``,
        ``revenue``, ``returning_revenue``, ``returning_revenue_share``,
        ``average_order_value`` (minor units) and ``purchases_per_customer``.
    """
    n = len(summary)
    repeat = int(np.count_nonzero(summary.purchases > 1))
    revenue = int(summary.spend.sum())
    returning = int((summary.spend - summary.first_value).sum())
    purchases = int(summary.purchases.sum())
    return {
        "customers": n,
        "repeat_customers": repeat,
        "repeat_rate": repeat / n if n else 0.0,
        "purchases": purchases,
        "revenue": revenue,
        "returning_revenue": returning,
        "returning_revenue_share": returning / revenue if revenue else 0.0,
        "average_order_value": round(revenue / purchases) if purchases else 0,
        "purchases_per_customer": purchases / n if n else 0.0,
    }


def occasion_gap_counts(occasions: Occasions) -> tuple[IntArray, IntArray]:
    """Count gaps between consecutive purchase occasions from occasion arrays.

    Parameters
    ----------
    occasions : Occasions
        Sorted by customer, then day (see :func:`wafa.analytics.summary.duckdb_occasions`).

    Returns
    -------
    tuple of numpy.ndarray
        ``(gap_days, counts)``: each distinct gap in days and how often it occurs.
    """
    same = occasions.code[1:] == occasions.code[:-1]
    gaps = (occasions.day[1:] - occasions.day[:-1])[same]
    if gaps.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    values, counts = np.unique(gaps, return_counts=True)
    return values.astype(np.int64), counts.astype(np.int64)


def _pairs(rows: Any) -> tuple[IntArray, IntArray]:
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    ordered = sorted((int(g), int(n)) for g, n in rows)
    return (
        np.array([g for g, _ in ordered], dtype=np.int64),
        np.array([n for _, n in ordered], dtype=np.int64),
    )


def _weighted_quantile(values: IntArray, weights: IntArray, q: float) -> float:
    cumulative = np.cumsum(weights)
    target = q * cumulative[-1]
    return float(values[int(np.searchsorted(cumulative, target, side="left"))])


def gap_distribution(gaps: IntArray, counts: IntArray) -> dict[str, Any]:
    """Summarise the days between purchases as a histogram and quantiles.

    Parameters
    ----------
    gaps, counts : numpy.ndarray
        Output of :func:`occasion_gap_counts`.

    Returns
    -------
    dict
        ``repeat_purchases`` (number of gaps), ``median``, ``p25``, ``p75``, ``p80``,
        ``p90`` (days; ``None`` without repeat purchases), ``mean``, and ``histogram``
        (buckets with ``from``, ``to`` (``None`` for the open last bucket) and
        ``count``).
    """
    total = int(counts.sum())
    bounds = (0, *GAP_BUCKETS)
    histogram = []
    for lo, hi in zip(bounds, (*GAP_BUCKETS, None), strict=True):
        upper = math.inf if hi is None else hi
        mask = (gaps > lo) & (gaps <= upper)
        histogram.append({"from": lo + 1, "to": hi, "count": int(counts[mask].sum())})
    if total == 0:
        return {
            "repeat_purchases": 0,
            "median": None,
            "p25": None,
            "p75": None,
            "p80": None,
            "p90": None,
            "mean": None,
            "histogram": histogram,
        }
    return {
        "repeat_purchases": total,
        "median": _weighted_quantile(gaps, counts, 0.5),
        "p25": _weighted_quantile(gaps, counts, 0.25),
        "p75": _weighted_quantile(gaps, counts, 0.75),
        "p80": _weighted_quantile(gaps, counts, 0.8),
        "p90": _weighted_quantile(gaps, counts, 0.9),
        "mean": float((gaps * counts).sum() / total),
        "histogram": histogram,
    }


@dataclass(frozen=True)
class ActivityThresholds:
    """Days since the last purchase that separate active, lapsed and churned.

    Attributes
    ----------
    active_days : int
        At most this many days: active.
    lapsed_days : int
        More than ``active_days`` and at most this many: lapsed; beyond: churned.
    basis : str
        How the thresholds were set: ``learned`` (from the gaps between purchases) or
        ``default`` (too few repeat purchases).
    """

    active_days: int
    lapsed_days: int
    basis: str

    @classmethod
    def from_gaps(cls, distribution: dict[str, Any]) -> ActivityThresholds:
        """Derive the thresholds from the inter-purchase distribution.

        Parameters
        ----------
        distribution : dict
            Output of :func:`gap_distribution`.

        Returns
        -------
        ActivityThresholds
            80th percentile of the gaps (30 to 365 days) and twice it; 90/180 days when
            fewer than 20 repeat purchases are known.
        """
        p80 = distribution.get("p80")
        if p80 is None or int(distribution.get("repeat_purchases", 0)) < MIN_GAPS_FOR_THRESHOLDS:
            return cls(
                DEFAULT_ACTIVE_DAYS,
                2 * DEFAULT_ACTIVE_DAYS,
                "default",
            )
        active = int(min(max(math.ceil(float(p80)), 30), 365))
        return cls(active, 2 * active, "learned")


def activity(summary: CustomerSummary, thresholds: ActivityThresholds) -> npt.NDArray[np.str_]:
    """Classify each customer as active, lapsed or churned.

    Parameters
    ----------
    summary : CustomerSummary
        Per-customer statistics.
    thresholds : ActivityThresholds
        The cut-offs.

    Returns
    -------
    numpy.ndarray
        ``active``/``lapsed``/``churned`` per customer.
    """
    days = summary.as_of_day - summary.last_day
    return np.where(
        days <= thresholds.active_days,
        "active",
        np.where(days <= thresholds.lapsed_days, "lapsed", "churned"),
    )


def activity_counts(states: npt.NDArray[np.str_], thresholds: ActivityThresholds) -> dict[str, Any]:
    """Count customers per activity state, with the thresholds that define them.

    Parameters
    ----------
    states : numpy.ndarray
        Output of :func:`activity`.
    thresholds : ActivityThresholds
        The cut-offs.

    Returns
    -------
    dict
        ``active``, ``lapsed``, ``churned`` counts and ``thresholds``.
    """
    return {
        "active": int(np.count_nonzero(states == "active")),
        "lapsed": int(np.count_nonzero(states == "lapsed")),
        "churned": int(np.count_nonzero(states == "churned")),
        "thresholds": {
            "active_days": thresholds.active_days,
            "lapsed_days": thresholds.lapsed_days,
            "basis": thresholds.basis,
        },
    }


def _delivery_dict(total: int, on_time: int, late_days_sum: float) -> dict[str, Any]:
    late = total - on_time
    return {
        "orders_with_promise": total,
        "on_time": on_time,
        "late": late,
        "on_time_rate": on_time / total if total else None,
        "average_days_late": late_days_sum / late if late else 0.0,
    }


def db_delivery(session: Session, *, currency: str, since: Any = None) -> dict[str, Any]:
    """Compute the on-time delivery rate of delivered purchases that carried a promise.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Database session.
    currency : str
        Analysed currency (the purchase rule of the summary applies).
    since : datetime, optional
        Only orders placed at or after this instant.

    Returns
    -------
    dict
        ``orders_with_promise``, ``on_time``, ``late``, ``on_time_rate`` (``None``
        without promises) and ``average_days_late`` of the late ones.
    """
    cond = and_(
        purchases_filter(currency),
        Order.promised_at.is_not(None),
        Order.delivered_at.is_not(None),
    )
    if since is not None:
        cond = and_(cond, Order.placed_at >= since)
    if session.get_bind().dialect.name == "postgresql":
        late_by = func.extract("epoch", Order.delivered_at - Order.promised_at) / 86400.0
    else:  # SQLite stores instants as text that julianday() reads
        late_by = func.julianday(Order.delivered_at) - func.julianday(Order.promised_at)
    late = Order.delivered_at > Order.promised_at
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((late, 1), else_=0)), 0),
            func.coalesce(func.sum(case((late, late_by), else_=0.0)), 0.0),
        )
        .select_from(Order)
        .where(cond)
    ).one()
    total, late_count, late_days = int(row[0]), int(row[1]), float(row[2])
    return _delivery_dict(total, total - late_count, late_days)


def duckdb_delivery(con: Any) -> dict[str, Any]:
    """Compute the on-time delivery rate from ``wafa_orders`` (DuckDB).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection holding ``wafa_orders``.

    Returns
    -------
    dict
        As :func:`db_delivery`.
    """
    row = con.execute(
        """
        SELECT count(*),
               count(*) FILTER (WHERE delivered_at <= promised_at),
               coalesce(sum(epoch(delivered_at) - epoch(promised_at))
                        FILTER (WHERE delivered_at > promised_at), 0) / 86400.0
        FROM wafa_orders
        WHERE purchase AND promised_at IS NOT NULL AND delivered_at IS NOT NULL
        """
    ).fetchone()
    return _delivery_dict(int(row[0]), int(row[1]), float(row[2]))
