"""``wafa analyze``: every figure of the retention report from an order export, no database.

The file is read into an in-memory DuckDB (:mod:`wafa.analytics.reading`), and
:class:`FileSource` hands the shared pipeline (:mod:`wafa.analytics.pipeline`) the
per-customer summary and purchase occasions computed there in SQL. The models are fitted
on the calibration period (orders up to and including ``calibration_end``, by default the
last order date); what follows is the holdout. The result is one JSON-ready dict
(:attr:`Analysis.figures`) that the HTML report renders and ``--json`` writes, plus
per-customer arrays for ``--customers-out``.

The file source's whole interface to the reader is :func:`~wafa.analytics.reading.connect`,
:func:`~wafa.analytics.reading.load_orders` and the ``wafa_orders`` table it leaves.

The models' modules (SciPy's among them) are imported in a thread while DuckDB reads
the file (:func:`analyze_file`): DuckDB releases the GIL, so the imports cost no time of
their own. This module therefore imports them only where they are used.
"""

from __future__ import annotations

import datetime as dt
import importlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import numpy.typing as npt

from wafa import __version__
from wafa.analytics import rfm
from wafa.analytics.choices import TimeUnit
from wafa.analytics.reading import BadInput, InputFormat, LoadedOrders, connect, load_orders
from wafa.analytics.reading.files import scalar
from wafa.core.choices import CalendarKind
from wafa.core.money import minor_digits

if TYPE_CHECKING:
    from wafa.analytics import pipeline
    from wafa.analytics.predicting import Predictions
    from wafa.analytics.simple_rules import WindowForecast
    from wafa.analytics.summary import CustomerSummary, Occasions

__all__ = [
    "CUSTOMER_COLUMNS",
    "Analysis",
    "AnalyzeOptions",
    "FileSource",
    "analyze_file",
    "customer_rows",
]

Progress = Callable[[str], None]

#: What the steps after the read import (SQLAlchemy, which the summary's module and the
#: sale rule's need, the models and SciPy): see :func:`_import_steps`. The read itself
#: needs none of them.
STEP_MODULES = ("wafa.analytics.pipeline", "wafa.analytics.recommend")

#: Valuable customers at risk listed in the report.
AT_RISK_LISTED = 25
#: Products whose "also bought" lists appear in the report.
ALSO_BOUGHT_LISTED = 15


@dataclass(frozen=True)
class AnalyzeOptions:
    """What ``wafa analyze`` was asked to do.

    Attributes
    ----------
    path : pathlib.Path
        The export.
    fmt : InputFormat
        Its layout.
    calibration_end : datetime.date or None
        Last day of the calibration period (default: the last order date).
    holdout_days : int or None
        Holdout length: without ``calibration_end`` the calibration ends this many days
        before the last order; with it, only this many days after it are evaluated.
    time_unit : TimeUnit
        Unit of time for the models.
    timezone : str
        Business timezone (calendar days are counted in it).
    calendar : CalendarKind
        Business calendar for the monthly cohorts.
    currency : str or None
        Currency to analyse (default: the file's most common).
    default_currency : str
        Currency of a file without a currency column.
    clv_months : int
        Lifetime value horizon in months.
    annual_discount_rate : float
        Yearly discount rate of future revenue.
    """

    path: Path
    fmt: InputFormat = InputFormat.generic
    calibration_end: dt.date | None = None
    holdout_days: int | None = None
    time_unit: TimeUnit = TimeUnit.week
    timezone: str = "UTC"
    calendar: CalendarKind = CalendarKind.gregorian
    currency: str | None = None
    default_currency: str = "USD"
    clv_months: int = 12
    annual_discount_rate: float = 0.10


@dataclass
class Analysis:
    """The result: JSON-ready figures and per-customer arrays.

    Attributes
    ----------
    figures : dict
        Everything the report shows (also written by ``--json``).
    summary : CustomerSummary
        Per-customer statistics up to the analysis date.
    predictions : Predictions
        Per-customer predictions, aligned with ``summary``.
    segments : numpy.ndarray
        RFM segment key per customer.
    scores : tuple of numpy.ndarray
        R, F and M scores.
    holdout : tuple or None
        With a holdout: the calibration customers' positions in ``summary``, the chosen
        method's forecast of the holdout window for each, and what they actually bought.
    timings : dict
        Seconds spent per step.
    """

    figures: dict[str, Any]
    summary: CustomerSummary
    predictions: Predictions
    segments: npt.NDArray[np.str_]
    scores: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]
    holdout: tuple[npt.NDArray[np.int64], WindowForecast, npt.NDArray[np.int64]] | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _import_steps() -> None:
    """Import :data:`STEP_MODULES` (in a thread, while DuckDB reads the file)."""
    for name in STEP_MODULES:
        importlib.import_module(name)


def _cut_offs(options: AnalyzeOptions, first_day: int, last_day: int) -> tuple[int, int, int]:
    """Return ``(calibration_day, as_of_day, holdout_end_day)``."""
    from wafa.analytics.summary import day_number, day_to_date

    if options.holdout_days is not None and options.holdout_days < 1:
        raise BadInput("--holdout-days must be 1 or more")
    if options.calibration_end is not None:
        cal = day_number(options.calibration_end)
        if cal < first_day:
            raise BadInput(
                f"--calibration-end {options.calibration_end.isoformat()} is before the first "
                f"order ({day_to_date(first_day).isoformat()}): nothing to fit on"
            )
        as_of = max(last_day, cal)
        hold_end = as_of if options.holdout_days is None else min(as_of, cal + options.holdout_days)
        return cal, as_of, hold_end
    if options.holdout_days is not None:
        cal = last_day - options.holdout_days
        if cal < first_day:
            raise BadInput(
                f"--holdout-days {options.holdout_days} leaves no calibration period: the "
                f"orders span only {last_day - first_day} days"
            )
        return cal, last_day, last_day
    return last_day, last_day, last_day


def _customer_keys(con: duckdb.DuckDBPyConnection, *, hashed: bool = True) -> str:
    """Key ``wafa_customers`` by an integer hash of the id when no two ids share one.

    Leaves ``wafa_customer_keys`` (``code``, ``key``, ``last_day``, ``purchases``) and
    returns the SQL of an order's key. Joining millions of order lines to the customers
    on a 64-bit integer costs a fraction of joining them on the text id; the hash is
    used only when the summary's customers all have different ones (checked here), so
    the join finds the same customer either way. Every line joined belongs to one of
    these customers (the summary is made of the same purchases), so no other id can
    share a hash with it unnoticed. ``hashed=False`` keys them by the text id.
    """
    table = (
        "CREATE OR REPLACE TEMP TABLE wafa_customer_keys AS "
        "SELECT code, {key} AS key, last_day, purchases FROM wafa_customers"
    )
    if hashed:
        con.execute(table.format(key="hash(customer_id)"))
        if scalar(con, "SELECT count(DISTINCT key) = count(*) FROM wafa_customer_keys"):
            return "hash(customer_id)"
    con.execute(table.format(key="customer_id"))
    return "customer_id"


def _recommendations(
    con: duckdb.DuckDBPyConnection, as_of_day: int, n_customers: int, *, hashed: bool = True
) -> dict[str, Any] | None:
    """Evaluate and describe product recommendations from the orders' products.

    Customers are the codes of ``wafa_customers`` (left by the summary); a customer's
    last purchase occasion is held out for the evaluation. One row per order line (a
    customer, a product, whether it was bought before the last occasion or in it): the
    matrices built from them count a product once per customer however often it was
    bought, so the lines need no grouping first. ``hashed`` as in :func:`_customer_keys`.
    """
    from wafa.analytics.recommend import evaluate_and_fit

    key = _customer_keys(con, hashed=hashed)
    # The order lines, split out of the orders' product lists once for both queries
    # below (splitting them in each cost 0.2 CPU s more on 5.7 million lines).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE wafa_lines AS
        SELECT {key} AS key, day, unnest(skus) AS sku
        FROM wafa_orders WHERE purchase AND day <= $as_of
        """,
        {"as_of": as_of_day},
    )
    try:
        skus = [
            str(r[0])
            for r in con.execute("SELECT DISTINCT sku FROM wafa_lines ORDER BY 1").fetchall()
        ]
        if len(skus) < 2:
            return None
        con.register(
            "wafa_sku_codes", {"sku": np.asarray(skus, dtype=object), "code": np.arange(len(skus))}
        )
        result = con.execute(
            """
            SELECT c.code AS customer, s.code AS item,
                   o.day < c.last_day OR c.purchases = 1 AS in_train,
                   o.day = c.last_day AND c.purchases > 1 AS in_last
            FROM wafa_lines o
            JOIN wafa_customer_keys c USING (key)
            JOIN wafa_sku_codes s USING (sku)
            """
        ).fetchnumpy()
        con.unregister("wafa_sku_codes")
    finally:
        con.execute("DROP TABLE IF EXISTS wafa_lines")
    customers = np.asarray(result["customer"], dtype=np.int64)
    items = np.asarray(result["item"], dtype=np.int64)
    n_items = len(skus)
    quality, model = evaluate_and_fit(
        customers,
        items,
        np.asarray(result["in_train"], dtype=bool),
        np.asarray(result["in_last"], dtype=bool),
        n_customers=n_customers,
        n_items=n_items,
    )
    top = np.argsort(-model.popularity_, kind="stable")[:ALSO_BOUGHT_LISTED]
    also = [
        {
            "sku": skus[int(i)],
            "customers": int(model.popularity_[int(i)]),
            "also_bought": [
                {"sku": skus[j], "similarity": round(score, 4), "customers_both": both}
                for j, score, both in model.also_bought(int(i), 5)
            ],
        }
        for i in top
    ]
    return {"products": n_items, "evaluation": quality.to_dict(), "also_bought": also}


class FileSource:
    """The pipeline's source for an export file loaded into DuckDB.

    With ``products``, once the pipeline has read the last it needs from the connection
    (:meth:`delivery`), the recommendations are learnt from it in a background thread
    (NumPy and DuckDB release the GIL for their work): :meth:`products` returns them.
    With ``after``, that thread first waits for the event (set when the models are
    fitted: the fit, which every later step waits for, then has the processor to itself
    and the descriptive figures; the recommendations share it with the forecasts).
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        loaded: LoadedOrders,
        *,
        products: bool = False,
        after: threading.Event | None = None,
    ) -> None:
        self.con = con
        self.loaded = loaded
        self._products = products
        self._after = after
        self._closing = False
        self._summary: CustomerSummary | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._learning: Future[dict[str, Any] | None] | None = None

    def summary(
        self, *, as_of_day: int, calibration_day: int, holdout_end_day: int
    ) -> CustomerSummary:
        """Return every customer's summary, computed by DuckDB."""
        from wafa.analytics.summary import duckdb_summary

        self._summary = duckdb_summary(
            self.con,
            as_of_day=as_of_day,
            calibration_day=calibration_day,
            holdout_end_day=holdout_end_day,
        )
        return self._summary

    def occasions(self, summary: CustomerSummary, *, as_of_day: int) -> Occasions:
        """Return every purchase occasion by the summary's customer codes."""
        from wafa.analytics.summary import duckdb_occasions

        del as_of_day  # DuckDB's summary left its occasions (up to its as_of_day)
        return duckdb_occasions(self.con, summary)

    def delivery(self) -> dict[str, Any] | None:
        """Return on-time delivery when the file has delivery dates.

        The pipeline's last use of the connection: the recommendations start here.
        """
        from wafa.analytics.retention import duckdb_delivery

        found = duckdb_delivery(self.con) if self.loaded.has_delivery else None
        if self._products and self._summary is not None and self._learning is None:
            summary = self._summary
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wafa-products")
            self._learning = self._pool.submit(self._learn, summary.as_of_day, len(summary))
        return found

    def _learn(self, as_of_day: int, n_customers: int) -> dict[str, Any] | None:
        """Learn the recommendations (in the products thread), once ``after`` is set."""
        if self._after is not None:
            self._after.wait()
        if self._closing:  # the analysis failed: nobody will read them
            return None
        return _recommendations(self.con, as_of_day, n_customers)

    def products(self) -> dict[str, Any] | None:
        """Wait for the recommendations (``None`` without products or never started)."""
        if self._learning is None:
            return None
        try:
            return self._learning.result()
        finally:
            self.close()

    def close(self) -> None:
        """Wait for the background work to end (before the connection is closed).

        Work still waiting for ``after`` is not started.
        """
        self._closing = True
        if self._after is not None:
            self._after.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def analyze_file(options: AnalyzeOptions, progress: Progress | None = None) -> Analysis:
    """Analyse an order export: summary, descriptive retention, models, holdout, RFM.

    Parameters
    ----------
    options : AnalyzeOptions
        File, format, cut-offs and settings.
    progress : callable, optional
        Called with a short description before each step.

    Returns
    -------
    Analysis
        Figures and per-customer arrays.

    Raises
    ------
    BadInput
        When the file cannot be read (the message names the line and column).
    ModelFailed
        When no purchase model can be fitted (the message says what to try).
    """
    started = time.perf_counter(), time.process_time()
    hugepages = _set_madvise_hugepage(False)
    try:
        return _analyze_file(options, progress, started)
    finally:
        _set_madvise_hugepage(hugepages)


def _set_madvise_hugepage(enabled: bool) -> bool:
    """Set whether NumPy asks the kernel for huge pages for big arrays; return the old value.

    ``wafa analyze`` makes and drops arrays of millions of values many times over: with
    huge pages each first touch of a fresh array makes the kernel clear (and, with
    ``defrag`` on ``madvise``, first compact) 2 MB of memory. Without them, one analysis
    of a million customers spends about a second less in the kernel (system CPU 3.4 →
    2.3 s, medians of 5) for the same results. The switch is NumPy's
    (``NUMPY_MADVISE_HUGEPAGE`` at import); the command restores it when it is done.
    """
    return bool(np._core.multiarray._set_madvise_hugepage(enabled))  # type: ignore[attr-defined]


def _analyze_file(
    options: AnalyzeOptions, progress: Progress | None, started: tuple[float, float]
) -> Analysis:
    """Run :func:`analyze_file` (``started``: its clocks at the call)."""
    con = connect()
    closing: threading.Thread | None = None
    try:
        if progress is not None:
            progress("Reading the orders")
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wafa-imports") as imports:
            importing = imports.submit(_import_steps)
            loaded = load_orders(
                con,
                options.path,
                fmt=options.fmt,
                timezone=options.timezone,
                currency=options.currency,
                default_currency=options.default_currency,
            )
            importing.result()
        from wafa.analytics import pipeline
        from wafa.analytics.fitting import FitSettings

        timer = pipeline.Timer(progress, started=started)
        timer.lap("read")
        cal_day, as_of_day, hold_end = _cut_offs(options, loaded.first_day, loaded.last_day)
        settings = FitSettings(
            time_unit=options.time_unit,
            clv_months=options.clv_months,
            annual_discount_rate=options.annual_discount_rate,
            money_scale=float(10 ** minor_digits(loaded.currency)),
        )
        cutoffs = pipeline.Cutoffs(loaded.first_day, cal_day, hold_end, as_of_day, refit=False)
        # Without a holdout the models fit beside the descriptive figures, and the
        # recommendations wait for them (FileSource); with one, everything after the
        # description runs in this thread, and the recommendations run beside it.
        fitted = None if cutoffs.has_holdout else threading.Event()
        source = FileSource(con, loaded, products=loaded.has_items, after=fitted)
        try:
            result = pipeline.run(
                source,
                cutoffs,
                settings,
                calendar=options.calendar,
                timer=timer,
                forecast_required=True,
                on_fitted=None if fitted is None else fitted.set,
            )
            recommendations = None
            if loaded.has_items:
                # Learnt in the background (FileSource): the lap is the wait after the
                # predictions, not the whole work.
                timer.step("Learning which products go together")
                recommendations = source.products()
                timer.lap("recommend")
        finally:
            source.close()
        # Nothing uses the connection any more: DuckDB frees its tables (about 0.2 s on a
        # million customers, without the GIL) while the figures are gathered.
        closing = threading.Thread(target=con.close, name="wafa-close")
        closing.start()
        assert result.predictions is not None  # forecast_required
        figures = _figures(options, loaded, result, recommendations)
    finally:
        if closing is None:
            con.close()
        else:
            closing.join()
    figures["timings"] = timer.timings
    figures["cpu_timings"] = timer.cpu_timings
    return Analysis(
        figures,
        result.summary,
        result.predictions,
        result.segments,
        result.scores,
        result.holdout_rows,
        timer.timings,
    )


def _figures(
    options: AnalyzeOptions,
    loaded: LoadedOrders,
    result: pipeline.Result,
    recommendations: dict[str, Any] | None,
) -> dict[str, Any]:
    from wafa.analytics import pipeline

    assert result.predictions is not None
    shared = pipeline.figures(result)
    return {
        "generator": f"wafa {__version__}",
        "file": options.path.name,
        "format": options.fmt.value,
        "currency": loaded.currency,
        "minor_digits": minor_digits(loaded.currency),
        "timezone": options.timezone,
        "calendar": options.calendar.value,
        "customers": result.calibration_customers,
        "input": {
            "rows": loaded.rows,
            "orders": loaded.orders,
            "purchases": loaded.purchases,
            "cancelled": loaded.cancelled,
            "refunded": loaded.refunded,
            "partially_refunded": loaded.partially_refunded,
            "other_currency_orders": loaded.other_currency_orders,
            "guest_orders": loaded.guest_orders,
        },
        **shared,
        "warnings": [*loaded.warnings, *result.warnings],
        "customers_at_risk": _at_risk(
            result.summary, result.predictions, result.codes, shared["at_risk_value_floor"]
        ),
        "recommendations": recommendations,
    }


def _at_risk(
    summary: CustomerSummary, predictions: Predictions, codes: npt.NDArray[np.int64], floor: int
) -> list[dict[str, Any]]:
    """Valuable customers at risk (:mod:`wafa.analytics.at_risk`), most worth a call first.

    ``floor``: the store's :func:`~wafa.analytics.at_risk.value_floor`.
    """
    from wafa.analytics import at_risk
    from wafa.analytics.summary import day_to_date

    order = at_risk.rank(
        summary.spend, predictions.p_alive, predictions.churn_risk, floor, AT_RISK_LISTED
    )
    return [
        {
            "customer_id": str(summary.keys[i]),
            "segment": rfm.SEGMENT_KEYS[int(codes[i])],
            "purchases": int(summary.purchases[i]),
            "spend": int(summary.spend[i]),
            "last_order": day_to_date(int(summary.last_day[i])).isoformat(),
            "p_alive": None if predictions.p_alive is None else float(predictions.p_alive[i]),
            "churn_risk": str(predictions.churn_risk[i]),
            "clv": None if predictions.clv is None else round(float(predictions.clv[i])),
        }
        for i in order.tolist()
    ]


#: Columns of ``wafa analyze --customers-out`` (one row per customer).
CUSTOMER_COLUMNS = (
    "customer_id",
    "purchases",
    "spend",
    "first_order",
    "last_order",
    "segment",
    "window_days",
    "expected_purchases",
    "purchases_low",
    "purchases_high",
    "purchases_chance",
    "actual_purchases",
    "p_alive",
    "churn_risk",
    "clv",
    "clv_low",
    "clv_high",
)


def customer_rows(analysis: Analysis) -> list[list[object]]:
    """Return the rows of ``--customers-out``, in the order of :data:`CUSTOMER_COLUMNS`.

    The purchase forecast and its 90 % range cover the holdout window when there is one
    (made at the calibration end, for the customers known then, beside what they actually
    bought; empty for later customers), else the next 365 days. ``p_alive`` and the
    lifetime value (minor units, with its range) are as of the analysis date; a column
    the method does not give is empty.
    """
    s, p = analysis.summary, analysis.predictions
    n = len(s)
    got: Any = None
    if analysis.holdout is not None:
        index, forecast_, actual = analysis.holdout
        days = int(analysis.figures["holdout"]["days"])
        expected = np.full(n, np.nan)
        low = np.full(n, -1)
        high = np.full(n, -1)
        chance = np.full(n, np.nan)
        got = np.full(n, -1)
        expected[index], low[index], high[index] = forecast_.expected, forecast_.low, forecast_.high
        chance[index], got[index] = forecast_.chance, actual
    else:
        days = 365
        expected, low, high, chance = (
            p.expected["365"],
            p.low["365"],
            p.high["365"],
            p.chance["365"],
        )

    def number(values: Any, i: int, digits: int = 4) -> object:
        if values is None:
            return ""
        value = float(values[i])
        return "" if not np.isfinite(value) else round(value, digits)

    def whole(values: Any, i: int) -> object:
        if values is None:
            return ""
        value = int(values[i])
        return "" if value < 0 else value

    from wafa.analytics.summary import day_to_date

    keys = s.key_strings()
    rows: list[list[object]] = []
    for i in range(n):
        rows.append(
            [
                keys[i],
                int(s.purchases[i]),
                int(s.spend[i]),
                day_to_date(int(s.first_day[i])).isoformat(),
                day_to_date(int(s.last_day[i])).isoformat(),
                str(analysis.segments[i]),
                days,
                number(expected, i),
                whole(low, i),
                whole(high, i),
                number(chance, i, 3),
                whole(got, i),
                number(p.p_alive, i),
                str(p.churn_risk[i]),
                "" if p.clv is None else round(float(p.clv[i])),
                "" if p.clv_low is None else round(float(p.clv_low[i])),
                "" if p.clv_high is None else round(float(p.clv_high[i])),
            ]
        )
    return rows
