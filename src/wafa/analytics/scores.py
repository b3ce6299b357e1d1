"""Storing every customer's scores: one refresh replaces them all, in one transaction.

The rows are assembled column-wise in DuckDB, written to a CSV file and loaded with
``COPY`` on PostgreSQL (batched inserts on SQLite): a million rows in seconds. Readers
see the previous refresh's rows or this one's, never half of each.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
from sqlalchemy import delete
from sqlalchemy.orm import Session

from wafa.analytics.predicting import Predictions
from wafa.analytics.sqlfetch import copy_csv
from wafa.analytics.summary import CHANNEL_FLAGS, CustomerSummary
from wafa.analytics.tables import AnalyticsRun, ChurnRisk, CustomerScore

__all__ = ["SCORE_COLUMNS", "store_scores"]

#: JSON list of channel names for every bit mask of ``CHANNEL_FLAGS``.
CHANNEL_JSON = [
    json.dumps([name for name, flag in CHANNEL_FLAGS.items() if mask & flag]) for mask in range(8)
]
SCORE_COLUMNS = (
    "customer_id",
    "run_id",
    "currency",
    "first_order_on",
    "last_order_on",
    "orders",
    "repeat_purchases",
    "spend_amount",
    "average_order_amount",
    "recency_days",
    "tenure_days",
    "activity",
    "r_score",
    "f_score",
    "m_score",
    "segment",
    "p_alive",
    "expected_purchases_30",
    "expected_purchases_90",
    "expected_purchases_365",
    "expected_purchases_30_low",
    "expected_purchases_30_high",
    "expected_purchases_90_low",
    "expected_purchases_90_high",
    "expected_purchases_365_low",
    "expected_purchases_365_high",
    "next_order_on",
    "clv_amount",
    "clv_low_amount",
    "clv_high_amount",
    "churn_risk",
    "favourite_product_id",
    "favourite_category",
    "channels",
    "computed_at",
)


def store_scores(
    session: Session,
    run: AnalyticsRun,
    summary: CustomerSummary,
    *,
    currency: str,
    scores: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]],
    segments: npt.NDArray[np.str_],
    states: npt.NDArray[np.str_],
    predictions: Predictions | None,
    channel_masks: npt.NDArray[np.int64],
    favourites: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[str]],
    product_ids: npt.NDArray[Any],
    computed_at: dt.datetime,
) -> None:
    """Replace every stored score (one transaction: readers see the old or the new).

    The rows are assembled column-wise in DuckDB, written to a CSV file and loaded
    with ``COPY`` on PostgreSQL (batched inserts on SQLite).
    """
    n = len(summary)
    session.execute(delete(CustomerScore))
    if n == 0:
        return
    nan = np.full(n, np.nan)
    p = predictions
    favourite_product, favourite_category, category_names = favourites
    product_hex = np.array([""] + [bytes(k).hex() for k in product_ids.tolist()], dtype=object)
    category_text = np.array(["", *category_names], dtype=object)
    columns: dict[str, npt.NDArray[Any]] = {
        "customer_id": np.array([bytes(k).hex() for k in summary.keys.tolist()], dtype=object),
        "first_day": summary.first_day,
        "last_day": summary.last_day,
        "orders": summary.purchases,
        "spend": summary.spend,
        "recency": summary.as_of_day - summary.last_day,
        "tenure": summary.as_of_day - summary.first_day,
        "activity": states.astype(object),
        "r": scores[0],
        "f": scores[1],
        "m": scores[2],
        "segment": segments.astype(object),
        "p_alive": nan if p is None or p.p_alive is None else p.p_alive,
        "e30": nan if p is None else p.expected_30,
        "e90": nan if p is None else p.expected_90,
        "e365": nan if p is None else p.expected_365,
        "low30": nan if p is None else p.low["30"].astype(np.float64),
        "high30": nan if p is None else p.high["30"].astype(np.float64),
        "low90": nan if p is None else p.low["90"].astype(np.float64),
        "high90": nan if p is None else p.high["90"].astype(np.float64),
        "low": nan if p is None else p.low["365"].astype(np.float64),
        "high": nan if p is None else p.high["365"].astype(np.float64),
        "next_days": nan if p is None else p.next_order_days,
        "clv": nan if p is None or p.clv is None else p.clv,
        "clv_low": nan if p is None or p.clv_low is None else p.clv_low,
        "clv_high": nan if p is None or p.clv_high is None else p.clv_high,
        "risk": np.full(n, ChurnRisk.unknown.value, dtype=object)
        if p is None
        else p.churn_risk.astype(object),
        "favourite_product": product_hex[favourite_product + 1],
        "favourite_category": category_text[favourite_category + 1],
        "channels": np.array(CHANNEL_JSON, dtype=object)[channel_masks],
    }
    con = duckdb.connect()
    try:
        con.execute("SET threads = 2")
        con.execute("SET enable_progress_bar = false")  # the caller reports progress
        con.execute("SET TimeZone = 'UTC'")
        con.register("wafa_scores", columns)
        with tempfile.TemporaryDirectory(prefix="wafa-scores-") as tmp:
            path = Path(tmp) / "scores.csv"
            run_id = str(run.id)
            stamp = computed_at.isoformat()

            def number(column: str, digits: int = 6) -> str:
                return f"CASE WHEN isnan({column}) THEN NULL ELSE round({column}, {digits}) END"

            con.execute(
                f"""
                COPY (
                  SELECT customer_id, '{run_id}' AS run_id, '{currency}' AS currency,
                         DATE '1970-01-01' + first_day::INTEGER AS first_order_on,
                         DATE '1970-01-01' + last_day::INTEGER AS last_order_on,
                         orders, orders - 1 AS repeat_purchases, spend AS spend_amount,
                         round(spend / greatest(orders, 1))::BIGINT AS average_order_amount,
                         recency AS recency_days, tenure AS tenure_days, activity,
                         r AS r_score, f AS f_score, m AS m_score, segment,
                         {number("p_alive")} AS p_alive,
                         {number("e30")} AS expected_purchases_30,
                         {number("e90")} AS expected_purchases_90,
                         {number("e365")} AS expected_purchases_365,
                         {number("low30")} AS expected_purchases_30_low,
                         {number("high30")} AS expected_purchases_30_high,
                         {number("low90")} AS expected_purchases_90_low,
                         {number("high90")} AS expected_purchases_90_high,
                         {number("low")} AS expected_purchases_365_low,
                         {number("high")} AS expected_purchases_365_high,
                         CASE WHEN isnan(next_days) OR next_days < 0 THEN NULL
                              ELSE DATE '1970-01-01'
                                   + ({summary.as_of_day} + least(round(next_days), 100000))::INTEGER
                         END AS next_order_on,
                         CASE WHEN isnan(clv) THEN NULL ELSE round(clv)::BIGINT END AS clv_amount,
                         CASE WHEN isnan(clv_low) THEN NULL ELSE round(clv_low)::BIGINT END
                             AS clv_low_amount,
                         CASE WHEN isnan(clv_high) THEN NULL ELSE round(clv_high)::BIGINT END
                             AS clv_high_amount,
                         risk AS churn_risk,
                         nullif(favourite_product, '') AS favourite_product_id,
                         nullif(favourite_category, '') AS favourite_category,
                         channels, TIMESTAMPTZ '{stamp}' AS computed_at
                  FROM wafa_scores
                ) TO '{path}' (HEADER, DELIMITER ',')
                """
            )
            copy_csv(session, CustomerScore.__table__, SCORE_COLUMNS, path)
    finally:
        con.close()
