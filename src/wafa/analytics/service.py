"""Analytics rules: refresh the stored scores, and answer the questions asked of them.

:func:`refresh` recomputes everything from the orders in one transaction and replaces
the stored per-customer scores (:class:`~wafa.analytics.tables.CustomerScore`) and
"also bought" lists wholesale, so a failure leaves the previous refresh in place and a
reader never sees half a refresh. Later features select on the stored columns
(``segment``, ``churn_risk``, ``p_alive``, ``clv_amount``...).

Both purchase models are fitted on the whole history and the usable one with the higher
log-likelihood makes the forecasts (:mod:`wafa.analytics.fitting`). When the history is
long enough, the last quarter of it (4 weeks to 6 months) is also held out to *validate*
the forecasts: the models are fitted on what precedes it, and each one's forecast and 90 %
range for the holdout window are compared with what happened (the choice is never made
on it). Predictions are "as of" the business's today (or ``as_of``), in its timezone.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import tempfile
import threading
import time
import uuid
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import numpy.typing as npt
from sqlalchemy import BigInteger, Float, cast, delete, desc, func, insert, select, text
from sqlalchemy.orm import Session

from wafa.analytics import at_risk, rfm
from wafa.analytics.cohorts import occasion_cohorts
from wafa.analytics.fitting import (
    FitSettings,
    Fitted,
    ModelFailed,
    TimeUnit,
    fit_models,
)
from wafa.analytics.holdout import (
    HoldoutData,
    evaluate,
    last_period_repeats,
    occasion_daily_repeats,
)
from wafa.analytics.predicting import Predictions, predict
from wafa.analytics.recommend import ItemSimilarity, evaluate_hit_rate, owned_matrix
from wafa.analytics.retention import (
    ActivityThresholds,
    activity,
    activity_counts,
    db_delivery,
    gap_distribution,
    headline,
    occasion_gap_counts,
)
from wafa.analytics.sqlfetch import UUID, KeyIndex, copy_csv, fetch_arrays, uuid_keys
from wafa.analytics.summary import (
    CHANNEL_FLAGS,
    CustomerSummary,
    Occasions,
    RFMArrays,
    day_number,
    day_to_date,
    db_occasions,
    db_summary,
    purchases_filter,
)
from wafa.analytics.tables import (
    AnalyticsRun,
    ChurnRisk,
    CustomerScore,
    ProductNeighbour,
    RunStatus,
)
from wafa.core.calendars import local_date, start_of_day
from wafa.core.db import database_key, dialect_name
from wafa.core.errors import Invalid, NotFound
from wafa.core.ids import new_id
from wafa.core.money import minor_digits
from wafa.core.pagination import decode_cursor, encode_cursor
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.orders.models import Order, OrderLine, Product
from wafa.orders.sales import sold

__all__ = [
    "RefreshOptions",
    "also_bought",
    "at_risk_customers",
    "clv_distribution",
    "customer_insights",
    "dashboard",
    "latest_run",
    "list_scores",
    "personal_data",
    "recommendations_for",
    "record_failed_run",
    "refresh",
    "segment_members",
    "segment_summary",
]

#: Histories shorter than this are not split for a holdout check.
HOLDOUT_MIN_SPAN_DAYS = 120
#: Neighbours stored per product (the same number the evaluation uses).
NEIGHBOURS = 20
#: Popular products remembered per run, for recommendations when history says little.
POPULAR = 50
#: Cohorts kept in a run's details.
COHORTS_KEPT = 36
#: Rows per INSERT batch on SQLite.
BATCH = 5_000

Progress = Callable[[str], None]


class NoAnalyticsYet(NotFound):
    """No refresh has been run yet."""

    code = "no-analytics-yet"


@dataclass(frozen=True)
class RefreshOptions:
    """How a refresh computes.

    Attributes
    ----------
    as_of : datetime.date or None
        The day the analysis is "as of" (default: today in the business's timezone).
    time_unit : TimeUnit
        Unit of time for the models.
    clv_months : int
        Lifetime value horizon in months.
    annual_discount_rate : float
        Yearly discount rate of future revenue.
    holdout_days : int or None
        Days held out to choose the model (``None``: a quarter of the history, 28 to
        180 days, when it spans at least 120 days; 0: no holdout).
    recommendations : bool
        Learn "also bought" lists and evaluate recommendations.
    """

    as_of: dt.date | None = None
    time_unit: TimeUnit = TimeUnit.week
    clv_months: int = 12
    annual_discount_rate: float = 0.10
    holdout_days: int | None = None
    recommendations: bool = True


def _lock(session: Session) -> None:
    """Serialise refreshes: on PostgreSQL a transaction-scoped advisory lock.

    On SQLite the write transaction (``BEGIN IMMEDIATE``) already serialises writers.
    PostgreSQL also gets, for this transaction only, room to hash a few million rows in
    memory rather than on disk, and no JIT compilation (it costs more than it saves on
    these one-off queries).
    """
    if dialect_name(session) == "postgresql":
        key = zlib.crc32(b"wafa.analytics.refresh")
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        session.execute(text("SET LOCAL work_mem = '128MB'"))
        session.execute(text("SET LOCAL jit = off"))


def _first_purchase_day(session: Session, zone: str, currency: str, as_of_day: int) -> int | None:
    first = session.scalar(select(func.min(Order.placed_at)).where(purchases_filter(currency)))
    if first is None:
        return None
    from zoneinfo import ZoneInfo

    day = day_number(local_date(first, ZoneInfo(zone)))
    return day if day <= as_of_day else None


def _holdout_days(options: RefreshOptions, span: int) -> int:
    if options.holdout_days is not None:
        if options.holdout_days < 0:
            raise Invalid.field(("holdout_days",), "must be 0 or more")
        return min(options.holdout_days, max(span - 1, 0))
    if span < HOLDOUT_MIN_SPAN_DAYS:
        return 0
    return int(min(max(span // 4, 28), 180))


#: JSON list of channel names for every bit mask of ``CHANNEL_FLAGS``.
CHANNEL_JSON = [
    json.dumps([name for name, flag in CHANNEL_FLAGS.items() if mask & flag]) for mask in range(8)
]
#: Above this many customers, the holdout comparison is made on a random sample of them
#: (the choice of model does not need every customer; the final fit uses all).
HOLDOUT_SAMPLE = 200_000


@dataclass
class _Products:
    """Customer-product pairs of the refresh, as codes."""

    ids: npt.NDArray[Any]
    categories: list[str | None]
    repeatable: npt.NDArray[np.bool_]
    available: npt.NDArray[np.bool_]
    customers: npt.NDArray[np.int64]
    items: npt.NDArray[np.int64]
    quantity: npt.NDArray[np.int64]
    in_train: npt.NDArray[np.bool_]
    in_last: npt.NDArray[np.bool_]


def _epoch_seconds(session: Session, instant: Any) -> Any:
    """Return SQL for an instant as seconds since 1970 (a float)."""
    if dialect_name(session) == "postgresql":
        return cast(func.extract("epoch", instant), Float)
    return cast((func.julianday(instant) - 2440587.5) * 86400.0, Float)


def _product_pairs(
    session: Session,
    summary: CustomerSummary,
    index: KeyIndex,
    *,
    zone: str,
    currency: str,
) -> _Products:
    """Distinct (customer, product) pairs with quantities and holdout flags.

    A pair is *training* history when bought before the customer's last purchase day
    (or the customer has bought only once), and *held out* when bought on the last day
    of a customer with two purchase days or more.
    """
    # Compared as instants (seconds since 1970): no timezone conversion per order line.
    zone_info = ZoneInfo(zone)
    end = start_of_day(day_to_date(summary.as_of_day + 1), zone_info)
    qty = OrderLine.quantity - OrderLine.refunded_quantity
    stmt = (
        select(
            Order.customer_id,
            OrderLine.product_id,
            _epoch_seconds(session, func.min(Order.placed_at)),
            _epoch_seconds(session, func.max(Order.placed_at)),
            cast(func.sum(qty), BigInteger),
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(
            purchases_filter(currency),
            OrderLine.product_id.is_not(None),
            qty > 0,
            Order.placed_at < end,
        )
        .group_by(Order.customer_id, OrderLine.product_id)
    )
    data = fetch_arrays(
        session,
        stmt,
        [
            ("customer_id", UUID),
            ("product_id", UUID),
            ("first", "float8"),
            ("last", "float8"),
            ("quantity", "int8"),
        ],
    )
    products = session.execute(
        select(Product.id, Product.category, Product.repeatable, Product.active).order_by(
            Product.id
        )
    ).all()
    ids = np.array([row[0].bytes for row in products], dtype="V16").reshape(len(products))
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    rows = [products[i] for i in order.tolist()]
    customers = index.find(data["customer_id"])
    items = KeyIndex(ids).find(data["product_id"])
    keep = (customers >= 0) & (items >= 0)
    customers, items = customers[keep], items[keep]
    first, last = data["first"][keep], data["last"][keep]
    # The instant the customer's last purchase day began, in the business's zone.
    days, inverse = np.unique(summary.last_day, return_inverse=True)
    day_start = np.array(
        [start_of_day(day_to_date(int(d)), zone_info).timestamp() for d in days.tolist()]
    )[inverse]
    last_start = day_start[customers]
    repeat = summary.purchases[customers] > 1
    return _Products(
        ids=ids,
        categories=[row[1] for row in rows],
        repeatable=np.array([bool(row[2]) for row in rows], dtype=bool),
        available=np.array([bool(row[3]) for row in rows], dtype=bool),
        customers=customers,
        items=items,
        quantity=data["quantity"][keep],
        in_train=(first < last_start) | ~repeat,
        in_last=(last >= last_start) & repeat,
    )


def _favourites(
    pairs: _Products, n_customers: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[str]]:
    """Each customer's most bought product and category (ties by code), or -1.

    Returns
    -------
    tuple
        Product code per customer, category code per customer, category names.
    """
    product = np.full(n_customers, -1, dtype=np.int64)
    category = np.full(n_customers, -1, dtype=np.int64)
    names = sorted({c for c in pairs.categories if c})
    if pairs.customers.size == 0:
        return product, category, names
    order = np.lexsort((pairs.items, -pairs.quantity, pairs.customers))
    c_sorted = pairs.customers[order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = c_sorted[1:] != c_sorted[:-1]
    product[c_sorted[first]] = pairs.items[order][first]
    if names:
        code = {name: i for i, name in enumerate(names)}
        item_category = np.array(
            [code.get(c, -1) if c else -1 for c in pairs.categories], dtype=np.int64
        )
        cats = item_category[pairs.items]
        has = cats >= 0
        if np.any(has):
            from scipy import sparse

            matrix = sparse.csr_matrix(
                (pairs.quantity[has].astype(np.float64), (pairs.customers[has], cats[has])),
                shape=(n_customers, len(names)),
            )
            with_any = np.diff(matrix.indptr) > 0
            best = np.asarray(matrix.argmax(axis=1)).ravel()
            category[with_any] = best[with_any]
    return product, category, names


def _recommendations(
    session: Session, run: AnalyticsRun, pairs: _Products, n_customers: int
) -> dict[str, Any] | None:
    """Evaluate the recommender, store "also bought" lists, return the run's figures."""
    session.execute(delete(ProductNeighbour))
    n_items = int(pairs.ids.shape[0])
    if pairs.customers.size == 0 or n_items < 2:
        return None
    quality = evaluate_hit_rate(
        pairs.customers,
        pairs.items,
        pairs.in_train,
        pairs.in_last,
        n_customers=n_customers,
        n_items=n_items,
        repeatable=pairs.repeatable,
        n_neighbours=NEIGHBOURS,
    )
    model = ItemSimilarity(NEIGHBOURS).fit(
        owned_matrix(pairs.customers, pairs.items, n_customers, n_items)
    )
    product_ids = uuid_keys(pairs.ids)
    rows: list[dict[str, Any]] = []
    for item in np.flatnonzero(model.popularity_ > 0).tolist():
        for rank, (neighbour, score, both) in enumerate(model.also_bought(item, NEIGHBOURS), 1):
            rows.append(
                {
                    "product_id": product_ids[item],
                    "neighbour_id": product_ids[neighbour],
                    "rank": rank,
                    "score": float(score),
                    "customers_both": int(both),
                    "run_id": run.id,
                }
            )
    for start in range(0, len(rows), BATCH):
        session.execute(insert(ProductNeighbour), rows[start : start + BATCH])
    popular = [
        int(i)
        for i in np.argsort(-model.popularity_, kind="stable")
        if model.popularity_[i] > 0 and pairs.available[i]
    ][:POPULAR]
    return {
        "products": n_items,
        "evaluation": quality.to_dict(),
        "popular_product_ids": [str(product_ids[i]) for i in popular],
        "popular_customers": [int(model.popularity_[i]) for i in popular],
    }


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


def _store_scores(
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


def refresh(
    session: Session,
    *,
    settings: Settings,
    options: RefreshOptions | None = None,
    progress: Progress | None = None,
) -> AnalyticsRun:
    """Recompute every customer's scores, segments and predictions, and store them.

    Everything happens in the caller's transaction: the previous scores are replaced
    only when the whole refresh succeeds. Refreshes never run concurrently (an advisory
    lock on PostgreSQL; the write lock on SQLite). A store with too little history for
    the models still gets its RFM segments and descriptive figures, with a warning in
    the run's details, and ``NULL`` predictions.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        A write session.
    settings : Settings
        Business currency, timezone and calendar.
    options : RefreshOptions, optional
        As-of date, time unit, CLV horizon and discount rate, holdout.
    progress : callable, optional
        Called with a short description before each step.

    Returns
    -------
    AnalyticsRun
        The succeeded run (its ``details`` hold the business-level figures).
    """
    options = options or RefreshOptions()
    step = progress or (lambda _message: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now_ = time.perf_counter()
        timings[name] = round(now_ - clock, 3)
        clock = now_

    _lock(session)
    now = utcnow()
    zone, currency = settings.timezone, settings.currency
    as_of = options.as_of or local_date(now, settings.zone)
    as_of_day = day_number(as_of)
    run = AnalyticsRun(
        id=new_id(),
        status=RunStatus.running,
        started_at=now,
        as_of=as_of,
        currency=currency,
        customers=0,
        details={},
    )
    session.add(run)
    session.flush()

    step("Summarising each customer")
    first_day = _first_purchase_day(session, zone, currency, as_of_day)
    if first_day is None:
        session.execute(delete(CustomerScore))
        session.execute(delete(ProductNeighbour))
        run.status = RunStatus.succeeded
        run.finished_at = utcnow()
        run.details = {
            "as_of": as_of.isoformat(),
            "warnings": [f"No purchases in {currency} yet: nothing to analyse."],
            "headline": {"customers": 0},
        }
        session.flush()
        return run
    span = as_of_day - first_day
    holdout_days = _holdout_days(options, span)
    cal_day = as_of_day - holdout_days
    summary = db_summary(
        session, zone=zone, currency=currency, as_of_day=as_of_day, calibration_day=cal_day
    )
    index = KeyIndex(summary.keys)
    lap("summary")

    step("Describing retention")
    occasions, masks = db_occasions(
        session, summary.keys, zone=zone, currency=currency, as_of_day=as_of_day
    )
    gaps = gap_distribution(*occasion_gap_counts(occasions))
    thresholds = ActivityThresholds.from_gaps(gaps)
    states = activity(summary, thresholds)
    cohorts = occasion_cohorts(
        occasions,
        summary.first_day,
        calendar=settings.calendar,
        start_day=first_day,
        as_of_day=as_of_day,
    )
    delivery = db_delivery(session, currency=currency)
    lap("describe")

    step("Fitting the models")
    fit_settings = FitSettings(
        time_unit=options.time_unit,
        clv_months=options.clv_months,
        annual_discount_rate=options.annual_discount_rate,
        money_scale=float(10 ** minor_digits(currency)),
    )
    warnings: list[str] = []
    holdout: dict[str, Any] | None = None
    fitted: Fitted | None = None
    predictions: Predictions | None = None
    unit = fit_settings.time_unit.days
    if holdout_days:
        holdout = _holdout_check(
            summary, occasions, fit_settings, cal_day, as_of_day, holdout_days, warnings
        )
    current = summary.current(unit)
    try:
        fitted = fit_models(current, fit_settings)
        lap("fit")
        step("Predicting for every customer")
        predictions = predict(fitted, current, thresholds=thresholds)
        warnings.extend(fitted.warnings)
        warnings.extend(predictions.warnings)
    except ModelFailed as exc:
        warnings.append(
            "No predictions yet: " + exc.detail + " Segments and the other figures are ready."
        )
    r, f, m = rfm.rfm_scores(summary.as_of_day - summary.last_day, summary.purchases, summary.spend)
    codes = rfm.segment_codes(r, f, m)
    segments = rfm.segment_names(codes)
    lap("predict")

    step("Learning which products go together")
    pairs = _product_pairs(session, summary, index, zone=zone, currency=currency)
    favourites = _favourites(pairs, len(summary))
    recommendations = (
        _recommendations(session, run, pairs, len(summary)) if options.recommendations else None
    )
    lap("recommend")

    step("Storing the scores")
    _store_scores(
        session,
        run,
        summary,
        currency=currency,
        scores=(r, f, m),
        segments=segments,
        states=states,
        predictions=predictions,
        channel_masks=masks,
        favourites=favourites,
        product_ids=pairs.ids,
        computed_at=now,
    )
    lap("store")

    run.customers = len(summary)
    run.model = predictions.method if predictions is not None else None
    run.details = _clean(
        {
            "as_of": as_of.isoformat(),
            "first_order_date": day_to_date(first_day).isoformat(),
            "currency": currency,
            "minor_digits": minor_digits(currency),
            "timezone": zone,
            "calendar": settings.calendar.value,
            "time_unit": options.time_unit.value,
            "clv_months": options.clv_months,
            "annual_discount_rate": options.annual_discount_rate,
            "warnings": warnings,
            "headline": headline(summary),
            "activity": activity_counts(states, thresholds),
            "inter_purchase_days": gaps,
            "cohorts": cohorts.to_dict(max_cohorts=COHORTS_KEPT),
            "on_time_delivery": delivery,
            "rfm": {
                "segments": rfm.segment_table(
                    codes, summary.spend, None if predictions is None else predictions.clv
                ),
                "thresholds": {
                    "recency_days": rfm.thresholds(
                        summary.as_of_day - summary.last_day, higher_is_better=False, scores=r
                    ),
                    "purchases": rfm.thresholds(summary.purchases, scores=f),
                    "spend": rfm.thresholds(summary.spend, scores=m),
                },
                "grid": rfm.grid(r, (f + m + 1) // 2, summary.spend),
            },
            "predictions": None if predictions is None else predictions.totals(),
            "at_risk_value_floor": at_risk.value_floor(
                summary.spend, headline(summary)["average_order_value"]
            ),
            "clv_distribution": None
            if predictions is None or predictions.clv is None
            else clv_distribution(predictions.clv, headline(summary)["average_order_value"]),
            "models": None if fitted is None else fitted.report(),
            "holdout": holdout if holdout is not None else {"days": 0},
            "recommendations": recommendations,
            "timings": timings,
        }
    )
    run.status = RunStatus.succeeded
    run.finished_at = utcnow()
    session.flush()
    return run


def _holdout_check(
    summary: CustomerSummary,
    occasions: Occasions,
    settings: FitSettings,
    cal_day: int,
    as_of_day: int,
    holdout_days: int,
    warnings: list[str],
) -> dict[str, Any] | None:
    """Fit both models on the calibration period and compare them on the holdout.

    With more than :data:`HOLDOUT_SAMPLE` customers the comparison uses a random sample
    of them (seeded: the same data give the same choice).
    """
    calibration = summary.calibration(settings.time_unit.days)
    chosen = calibration.index
    if chosen.shape[0] > HOLDOUT_SAMPLE:
        rng = np.random.default_rng(settings.random_state)
        keep = np.sort(rng.choice(chosen.shape[0], size=HOLDOUT_SAMPLE, replace=False))
        calibration = RFMArrays(
            index=calibration.index[keep],
            frequency=calibration.frequency[keep],
            recency=calibration.recency[keep],
            T=calibration.T[keep],
            monetary=calibration.monetary[keep],
        )
    in_sample = np.zeros(len(summary), dtype=bool)
    in_sample[calibration.index] = True
    sampled = in_sample[occasions.code]
    mine = Occasions(occasions.code[sampled], occasions.day[sampled], occasions.value[sampled])
    early = occasions.day <= cal_day
    thresholds = ActivityThresholds.from_gaps(
        gap_distribution(
            *occasion_gap_counts(
                Occasions(occasions.code[early], occasions.day[early], occasions.value[early])
            )
        )
    )
    try:
        cal_fit = fit_models(calibration, settings)
        data = HoldoutData(
            days=holdout_days,
            actual=summary.holdout_purchases[calibration.index],
            daily=occasion_daily_repeats(
                mine, summary.first_day, calibration_day=cal_day, end_day=as_of_day
            ),
            last_period=last_period_repeats(
                mine, summary.first_day, calibration_day=cal_day, days=holdout_days
            )[calibration.index],
        )
        report = evaluate(cal_fit, calibration, data, thresholds=thresholds).report
    except ModelFailed as exc:
        warnings.append(f"The holdout check was skipped: {exc.detail}")
        return None
    report["sampled_customers"] = int(calibration.index.shape[0])
    return report


#: Lifetime value bands, in multiples of the average order.
CLV_BANDS = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)


def clv_distribution(clv: npt.NDArray[np.float64], average_order: int) -> list[dict[str, Any]]:
    """Count customers and predicted value by lifetime-value band.

    Bands are multiples of the average order value (under half an order, half to one
    order, one to two...), which an owner reads more easily than raw amounts.

    Parameters
    ----------
    clv : numpy.ndarray
        Predicted lifetime value per customer, minor units.
    average_order : int
        Average order value, minor units.

    Returns
    -------
    list of dict
        ``from`` and ``to`` (minor units; ``to`` is ``None`` for the last band),
        ``orders_from``/``orders_to`` (the multiples), ``customers`` and ``value``.
    """
    unit = max(int(average_order), 1)
    edges = [round(m * unit) for m in CLV_BANDS]
    out = []
    for i, low in enumerate(edges):
        high = edges[i + 1] if i + 1 < len(edges) else None
        mask = clv >= low if high is None else (clv >= low) & (clv < high)
        out.append(
            {
                "from": low,
                "to": high,
                "orders_from": CLV_BANDS[i],
                "orders_to": CLV_BANDS[i + 1] if i + 1 < len(CLV_BANDS) else None,
                "customers": int(np.count_nonzero(mask)),
                "value": round(float(clv[mask].sum())),
            }
        )
    return out


def dashboard(session: Session, *, at_risk: int = 20) -> dict[str, Any] | None:
    """Gather what the analytics page shows; ``None`` before the first refresh.

    Returns
    -------
    dict or None
        ``run`` (the latest successful refresh), ``figures`` (its details),
        ``segments``, ``at_risk`` (valuable customers at risk) and ``failed`` (a
        failed refresh newer than it, if any).
    """
    try:
        run = latest_run(session)
    except NoAnalyticsYet:
        return None
    failed = session.scalar(
        select(AnalyticsRun)
        .where(AnalyticsRun.status == RunStatus.failed, AnalyticsRun.started_at > run.started_at)
        .order_by(desc(AnalyticsRun.started_at))
        .limit(1)
    )
    return {
        "run": run,
        "figures": run.details or {},
        "segments": segment_summary(session)["segments"],
        "at_risk": at_risk_customers(session, limit=at_risk),
        "failed": failed,
    }


def segment_members(
    session: Session, segment_key: str, *, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """List a segment's customers, most valuable first, with names.

    Raises
    ------
    NotFound
        On an unknown segment.
    """
    if segment_key not in rfm.SEGMENT_KEYS:
        raise NotFound(f"no segment {segment_key!r}")
    value = func.coalesce(CustomerScore.clv_amount, CustomerScore.spend_amount)
    rows = session.execute(
        select(CustomerScore, Customer.name)
        .join(Customer, Customer.id == CustomerScore.customer_id)
        .where(CustomerScore.segment == segment_key)
        .order_by(desc(value), CustomerScore.customer_id)
        .limit(limit + 1)
        .offset(offset)
    ).all()
    total = session.scalar(
        select(func.count()).select_from(CustomerScore).where(CustomerScore.segment == segment_key)
    )
    return {
        "segment": _segment_info(segment_key),
        "total": int(total or 0),
        "items": [{**score_dict(score), "name": name} for score, name in rows[:limit]],
        "has_more": len(rows) > limit,
    }


def record_failed_run(session: Session, *, settings: Settings, error: str) -> AnalyticsRun:
    """Record that a refresh failed (in its own transaction, after the refresh rolled back).

    The previous scores stay in place; the dashboard shows when the last refresh failed
    and why.
    """
    now = utcnow()
    run = AnalyticsRun(
        id=new_id(),
        status=RunStatus.failed,
        started_at=now,
        finished_at=now,
        as_of=local_date(now, settings.zone),
        currency=settings.currency,
        customers=0,
        details={},
        error=error[:2000],
    )
    session.add(run)
    session.flush()
    return run


def _clean(value: Any) -> Any:
    """JSON-ready data: NumPy scalars to Python, non-finite floats to ``None``."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------- reading


def latest_run(session: Session) -> AnalyticsRun:
    """Return the most recent successful refresh.

    Raises
    ------
    NoAnalyticsYet
        When no refresh has succeeded yet.
    """
    run = session.scalar(
        select(AnalyticsRun)
        .where(AnalyticsRun.status == RunStatus.succeeded)
        .order_by(desc(AnalyticsRun.started_at), desc(AnalyticsRun.id))
        .limit(1)
    )
    if run is None:
        raise NoAnalyticsYet(
            "no analytics yet: run `wafa analytics refresh` (or wait for the nightly job)"
        )
    return run


def _segment_info(key: str) -> dict[str, str]:
    seg = rfm.segment(key)
    return {"key": seg.key, "name": seg.name, "description": seg.description, "action": seg.action}


def score_dict(score: CustomerScore) -> dict[str, Any]:
    """Return a stored score as plain data (money in minor units with its currency).

    Parameters
    ----------
    score : CustomerScore
        The row.

    Returns
    -------
    dict
        Every column, the segment's name and advice included.
    """
    return {
        "customer_id": str(score.customer_id),
        "computed_at": score.computed_at.isoformat(),
        "currency": score.currency,
        "first_order_on": score.first_order_on.isoformat(),
        "last_order_on": score.last_order_on.isoformat(),
        "orders": score.orders,
        "repeat_purchases": score.repeat_purchases,
        "spend": score.spend_amount,
        "average_order": score.average_order_amount,
        "recency_days": score.recency_days,
        "tenure_days": score.tenure_days,
        "activity": score.activity,
        "rfm": {"r": score.r_score, "f": score.f_score, "m": score.m_score},
        "segment": _segment_info(score.segment),
        "p_alive": score.p_alive,
        "churn_risk": score.churn_risk,
        "expected_purchases": {
            "next_30_days": score.expected_purchases_30,
            "next_90_days": score.expected_purchases_90,
            "next_365_days": score.expected_purchases_365,
            "next_30_days_range": _range(
                score.expected_purchases_30_low, score.expected_purchases_30_high
            ),
            "next_90_days_range": _range(
                score.expected_purchases_90_low, score.expected_purchases_90_high
            ),
            "next_365_days_range": _range(
                score.expected_purchases_365_low, score.expected_purchases_365_high
            ),
            "range_level": RANGE_LEVEL,
        },
        "next_order_on": score.next_order_on.isoformat() if score.next_order_on else None,
        "clv": score.clv_amount,
        "clv_range": _range(score.clv_low_amount, score.clv_high_amount),
        "favourite_product_id": (
            str(score.favourite_product_id) if score.favourite_product_id else None
        ),
        "favourite_category": score.favourite_category,
        "channels": list(score.channels or []),
    }


#: Coverage of the stored ranges.
RANGE_LEVEL = 0.9


def _range(low: float | int | None, high: float | int | None) -> list[int] | None:
    """Return a stored range as ``[low, high]`` in whole numbers, or ``None``."""
    if low is None or high is None:
        return None
    return [round(low), round(high)]


def customer_insights(
    session: Session, customer_id: uuid.UUID, *, recommendations: int = 10
) -> dict[str, Any]:
    """Return a customer's stored scores, segment advice and product recommendations.

    A merged customer is answered for the record it was merged into. A customer with
    no purchase yet has ``scored: false``.

    Raises
    ------
    NotFound
        When there is no such customer.
    """
    customer = customers.get_live_customer(session, customer_id)
    score = session.get(CustomerScore, customer.id)
    run = session.get(AnalyticsRun, score.run_id) if score is not None else None
    out: dict[str, Any] = {
        "customer_id": str(customer.id),
        "scored": score is not None,
        "as_of": run.as_of.isoformat() if run is not None else None,
        "model": run.model if run is not None else None,
        "clv_months": (run.details or {}).get("clv_months") if run is not None else None,
        "score": score_dict(score) if score is not None else None,
        "recommendations": recommendations_for(session, customer.id, n=recommendations)
        if recommendations
        else [],
    }
    return out


def list_scores(
    session: Session,
    *,
    segment: str | None = None,
    churn_risk: str | None = None,
    activity_state: str | None = None,
    max_p_alive: float | None = None,
    min_clv: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[CustomerScore], str | None]:
    """Return a page of stored scores matching the filters, by customer id.

    Raises
    ------
    Invalid
        On an unknown segment or churn-risk band.
    """
    stmt = select(CustomerScore)
    if segment is not None:
        if segment not in rfm.SEGMENT_KEYS:
            raise Invalid.field(
                ("segment",), f"unknown segment; use one of {', '.join(rfm.SEGMENT_KEYS)}"
            )
        stmt = stmt.where(CustomerScore.segment == segment)
    if churn_risk is not None:
        if churn_risk not in {c.value for c in ChurnRisk}:
            raise Invalid.field(("churn_risk",), "use low, medium, high or unknown")
        stmt = stmt.where(CustomerScore.churn_risk == churn_risk)
    if activity_state is not None:
        stmt = stmt.where(CustomerScore.activity == activity_state)
    if max_p_alive is not None:
        stmt = stmt.where(CustomerScore.p_alive < max_p_alive)
    if min_clv is not None:
        stmt = stmt.where(CustomerScore.clv_amount >= min_clv)
    if cursor:
        stmt = stmt.where(CustomerScore.customer_id > decode_cursor(cursor))
    rows = list(session.scalars(stmt.order_by(CustomerScore.customer_id).limit(limit + 1)))
    nxt = encode_cursor(rows[limit - 1].customer_id) if len(rows) > limit else None
    return rows[:limit], nxt


def segment_summary(session: Session) -> dict[str, Any]:
    """Count customers, revenue and predicted value per segment from the stored scores.

    Returns
    -------
    dict
        ``as_of``, ``currency`` and ``segments`` (every segment, in a fixed order, with
        its name, description, advice, ``customers``, ``revenue`` and ``clv``).
    """
    run = latest_run(session)
    return copy.deepcopy(_per_run(session, run, "segments", lambda: _segment_summary(session, run)))


def _segment_summary(session: Session, run: AnalyticsRun) -> dict[str, Any]:
    rows = session.execute(
        select(
            CustomerScore.segment,
            func.count(),
            func.coalesce(func.sum(CustomerScore.spend_amount), 0),
            func.sum(CustomerScore.clv_amount),
            func.avg(CustomerScore.p_alive),
        ).group_by(CustomerScore.segment)
    ).all()
    found = {key: (int(n), int(spend), clv, avg) for key, n, spend, clv, avg in rows}
    total = sum(v[0] for v in found.values()) or 1
    total_revenue = sum(v[1] for v in found.values()) or 1
    segments = []
    for seg in rfm.SEGMENTS:
        n, spend, clv, avg = found.get(seg.key, (0, 0, None, None))
        segments.append(
            {
                **_segment_info(seg.key),
                "customers": n,
                "share": n / total,
                "revenue": spend,
                "revenue_share": spend / total_revenue,
                "clv": int(clv) if clv is not None else None,
                "average_p_alive": float(avg) if avg is not None else None,
            }
        )
    return {"as_of": run.as_of.isoformat(), "currency": run.currency, "segments": segments}


def analytics_summary(session: Session) -> dict[str, Any]:
    """Return the latest refresh's business-level figures (KPIs, cohorts, models...).

    Raises
    ------
    NoAnalyticsYet
        Before the first refresh.
    """
    run = latest_run(session)
    return {
        "run_id": str(run.id),
        "as_of": run.as_of.isoformat(),
        "computed_at": run.finished_at.isoformat() if run.finished_at else None,
        "customers": run.customers,
        "model": run.model,
        **(run.details or {}),
    }


def at_risk_customers(session: Session, *, limit: int = 20) -> list[dict[str, Any]]:
    """List valuable customers at risk, most worth a call first (:mod:`~wafa.analytics.at_risk`).

    Medium or high churn risk, spend at least the run's value floor, ranked by spend
    times ``p (1 - p)``: the same definition as the file report's.
    """
    try:
        run = latest_run(session)
    except NoAnalyticsYet:
        return []
    ranked = (
        _per_run(session, run, "at-risk", lambda: _rank_at_risk(session, run, AT_RISK_KEPT))
        if limit <= AT_RISK_KEPT
        else _rank_at_risk(session, run, limit)
    )[:limit]
    if not ranked:
        return []
    rows = session.execute(
        select(CustomerScore, Customer.name)
        .join(Customer, Customer.id == CustomerScore.customer_id)
        .where(CustomerScore.customer_id.in_(ranked))
    ).all()
    found = {score.customer_id: (score, name) for score, name in rows}
    return [{**score_dict(found[i][0]), "name": found[i][1]} for i in ranked if i in found]


def _rank_at_risk(session: Session, run: AnalyticsRun, limit: int) -> list[uuid.UUID]:
    floor = int((run.details or {}).get("at_risk_value_floor") or 1)
    value = CustomerScore.spend_amount
    return list(
        session.scalars(
            select(CustomerScore.customer_id)
            .where(
                CustomerScore.churn_risk.in_(at_risk.AT_RISK_BANDS),
                CustomerScore.spend_amount >= floor,
            )
            .order_by(
                desc(at_risk.rank_expression(value, CustomerScore.p_alive)),
                desc(value),
                CustomerScore.customer_id,
            )
            .limit(limit)
        )
    )


# The stored scores change only with a refresh, which makes a new run: what is read from
# them over every customer (segment totals, the at-risk ranking: a scan of the whole
# table, most of a second on a million customers) is kept per database and run.
AT_RISK_KEPT = 200
_kept: dict[tuple[str, uuid.UUID, str], Any] = {}
_kept_lock = threading.Lock()


def _per_run(session: Session, run: AnalyticsRun, name: str, compute: Callable[[], Any]) -> Any:
    database = database_key(session)
    if database is None:
        return compute()
    key = (database, run.id, name)
    with _kept_lock:
        if key in _kept:
            return _kept[key]
    value = compute()
    with _kept_lock:
        for old in [k for k in _kept if k[0] == database and k[1] != run.id]:
            del _kept[old]  # an earlier run's
        _kept[key] = value
    return value


def recommendations_for(
    session: Session, customer_id: uuid.UUID, *, n: int = 10
) -> list[dict[str, Any]]:
    """Recommend products to a customer from the stored "also bought" lists.

    Scores are the summed similarities of each candidate to what the customer bought
    (the model the refresh evaluated), computed on the customer's current history, so
    a purchase made since the refresh counts. A non-repeatable product the customer
    already owns, and inactive products, are never recommended; the most popular
    products fill the list when the history says too little.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Database session.
    customer_id : uuid.UUID
        The customer.
    n : int
        How many products.

    Returns
    -------
    list of dict
        ``product_id``, ``sku``, ``name``, ``category``, ``price``, ``currency``,
        ``score`` and ``reason`` (``bought_together`` or ``popular``).
    """
    owned = set(
        session.scalars(
            select(OrderLine.product_id)
            .join(Order, Order.id == OrderLine.order_id)
            .where(
                Order.customer_id == customer_id,
                sold(),
                OrderLine.product_id.is_not(None),
                OrderLine.quantity > OrderLine.refunded_quantity,
            )
            .distinct()
        )
    )
    scores: dict[uuid.UUID, float] = defaultdict(float)
    if owned:
        for neighbour_id, score in session.execute(
            select(ProductNeighbour.neighbour_id, ProductNeighbour.score).where(
                ProductNeighbour.product_id.in_(owned)
            )
        ):
            scores[neighbour_id] += float(score)
    popular: list[uuid.UUID] = []
    try:
        details = latest_run(session).details or {}
        popular = [
            uuid.UUID(p)
            for p in (details.get("recommendations") or {}).get("popular_product_ids", [])
        ]
    except NoAnalyticsYet:
        pass
    candidates = set(scores) | set(popular) | owned
    if not candidates:
        return []
    info = {
        row.id: row
        for row in session.execute(
            select(
                Product.id,
                Product.sku,
                Product.name,
                Product.category,
                Product.price_amount,
                Product.currency,
                Product.repeatable,
                Product.active,
            ).where(Product.id.in_(candidates))
        )
    }

    def allowed(pid: uuid.UUID) -> bool:
        row = info.get(pid)
        return row is not None and bool(row.active) and (pid not in owned or bool(row.repeatable))

    ranked = sorted((pid for pid in scores if allowed(pid)), key=lambda p: (-scores[p], str(p)))
    out: list[dict[str, Any]] = []
    for pid in ranked[:n]:
        out.append(_product(info[pid], scores[pid], "bought_together"))
    taken = set(ranked[:n])
    for pid in popular:
        if len(out) >= n:
            break
        if pid not in taken and allowed(pid):
            out.append(_product(info[pid], 0.0, "popular"))
            taken.add(pid)
    return out


def _product(row: Any, score: float, reason: str) -> dict[str, Any]:
    return {
        "product_id": str(row.id),
        "sku": row.sku,
        "name": row.name,
        "category": row.category,
        "price": row.price_amount,
        "currency": row.currency,
        "score": round(score, 6),
        "reason": reason,
    }


def also_bought(session: Session, product_id: uuid.UUID, *, n: int = 10) -> list[dict[str, Any]]:
    """Return "customers who bought this also bought" for a product, most similar first.

    Raises
    ------
    NotFound
        When there is no such product.
    """
    if session.get(Product, product_id) is None:
        raise NotFound(f"product {product_id} not found")
    rows = session.execute(
        select(ProductNeighbour, Product)
        .join(Product, Product.id == ProductNeighbour.neighbour_id)
        .where(ProductNeighbour.product_id == product_id, Product.active.is_(True))
        .order_by(ProductNeighbour.rank)
        .limit(n)
    ).all()
    return [
        {
            "product_id": str(product.id),
            "sku": product.sku,
            "name": product.name,
            "category": product.category,
            "similarity": neighbour.score,
            "customers_both": neighbour.customers_both,
        }
        for neighbour, product in rows
    ]


def personal_data(session: Session, customer_id: uuid.UUID) -> dict[str, Any]:
    """Return what analytics holds on one person, for their data export (GDPR Art. 15).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Database session.
    customer_id : uuid.UUID
        The customer.

    Returns
    -------
    dict
        ``scores``: the stored scores and predictions (``None`` when not scored).
    """
    score = session.get(CustomerScore, customer_id)
    return {"scores": score_dict(score) if score is not None else None}
