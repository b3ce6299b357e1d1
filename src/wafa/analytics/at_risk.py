"""Valuable customers at risk: one definition, read by the file report and the database.

A customer is *at risk* when their churn risk is medium or high
(:func:`wafa.analytics.predicting.churn_band`), and *valuable* when what they have spent
reaches the store's **value floor**: the spend of the customer at the 75th percentile,
and at least two average orders, so that a one-time buyer of an ordinary order (let
alone one worth a few cents) is never listed. Among them, the ones most worth a call
come first: the rank is what they have spent times ``p (1 - p)``, ``p`` their
probability of still being a customer. It is highest for good customers whose return
hangs in the balance, where a personal call changes most, and low for those clearly
gone (``p`` near 0) or clearly staying (``p`` near 1). Without a model (the rule of
thumb gives no probability) the rank is what they have spent.

:func:`value_floor` and :func:`rank` work on arrays (``wafa analyze``); the refresh
stores the floor with its run, and the read side orders the stored scores by
:func:`rank_expression`, the same formula in SQL.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import case

__all__ = ["AT_RISK_BANDS", "VALUE_QUANTILE", "rank", "rank_expression", "value_floor"]

#: Churn risk bands that count as at risk.
AT_RISK_BANDS = ("medium", "high")
#: Spend quantile of the value floor.
VALUE_QUANTILE = 0.75
#: The floor is at least this many average orders.
FLOOR_ORDERS = 2


def value_floor(spend: npt.NDArray[np.int64], average_order: int) -> int:
    """Return the least spend (minor units) of a valuable customer.

    Parameters
    ----------
    spend : numpy.ndarray
        Every customer's net spend, minor units.
    average_order : int
        The store's average order value, minor units.

    Returns
    -------
    int
        ``max(75th percentile of spend, 2 * average order)``, at least 1.
    """
    quantile = float(np.quantile(spend, VALUE_QUANTILE)) if spend.size else 0.0
    return max(int(np.ceil(quantile)), FLOOR_ORDERS * int(average_order), 1)


def rank(
    spend: npt.NDArray[np.int64],
    p_alive: npt.NDArray[np.float64] | None,
    churn_risk: npt.NDArray[np.str_],
    floor: int,
    limit: int,
) -> npt.NDArray[np.intp]:
    """Return the positions of the valuable customers at risk, most worth a call first.

    Parameters
    ----------
    spend : numpy.ndarray
        Net spend per customer, minor units.
    p_alive : numpy.ndarray or None
        Probability of still being a customer (``None`` without a model).
    churn_risk : numpy.ndarray
        Band per customer.
    floor : int
        :func:`value_floor` of the store.
    limit : int
        How many.

    Returns
    -------
    numpy.ndarray
        Positions, best first (ties by position).
    """
    candidates = np.flatnonzero(np.isin(churn_risk, AT_RISK_BANDS) & (spend >= floor))
    value = spend[candidates].astype(np.float64)
    score = value if p_alive is None else value * p_alive[candidates] * (1 - p_alive[candidates])
    order = np.lexsort((candidates, -value, -score))
    return np.asarray(candidates[order][:limit], dtype=np.intp)


def rank_expression(spend: Any, p_alive: Any) -> Any:
    """Build the same rank as a SQL expression over stored columns (``p`` NULL: spend)."""
    return case((p_alive.is_(None), spend), else_=spend * p_alive * (1.0 - p_alive))
