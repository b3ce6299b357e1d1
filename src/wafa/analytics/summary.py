"""Per-customer sufficient statistics, computed where the orders are.

The same summary comes from two places:

* the database (:func:`summary_query`): one SQLAlchemy Core statement, a ``GROUP BY``
  over purchase occasions, that runs on SQLite and PostgreSQL;
* an export file loaded into DuckDB by :mod:`wafa.analytics.reading`
  (:func:`duckdb_summary`), for ``wafa analyze``.

Both follow the papers' conventions (Fader, Hardie & Lee 2005): several orders by one
customer on one calendar day (in the business's timezone) are one purchase occasion
whose value is their sum; a cancelled or fully refunded order is no purchase and a
partial refund lowers the value. Days are integers (days since 1970-01-01), so

* ``frequency`` = occasions up to the calibration end, minus the first;
* ``recency`` = (last occasion up to the calibration end - first occasion) / unit;
* ``T`` = (calibration end - first occasion) / unit, the calibration end being the
  *date* itself: a customer whose first purchase was on 1997-01-01 has, for a
  calibration ending 1997-09-30, ``T = 272 / 7 = 38.86`` weeks, as in Hardie's
  published CDNOW data, which reproduces the published estimates;
* ``monetary`` = mean value of the *repeat* occasions (the first purchase excluded), the
  ``z-bar`` of the Gamma-Gamma model.

About 720 lines: one summary computed by two engines (numpy and DuckDB's SQL), kept side
by side so that they stay equal.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from wafa.analytics.sqlfetch import UUID, KeyIndex, fetch_arrays
from wafa.orders.models import Order
from wafa.orders.sales import local_day_expression, sold

__all__ = [
    "CHANNEL_FLAGS",
    "EPOCH",
    "CustomerSummary",
    "Occasions",
    "RFMArrays",
    "day_number",
    "day_to_date",
    "db_summary",
    "duckdb_occasions",
    "duckdb_summary",
    "local_day_expression",
    "summary_query",
]

EPOCH = dt.date(1970, 1, 1)
_EPOCH_ORDINAL = EPOCH.toordinal()

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01 of a calendar date.

    Parameters
    ----------
    day : datetime.date
        A calendar date.

    Returns
    -------
    int
        ``(day - 1970-01-01).days``.
    """
    return day.toordinal() - _EPOCH_ORDINAL


def day_to_date(number: int) -> dt.date:
    """Inverse of :func:`day_number`.

    Parameters
    ----------
    number : int
        Days since 1970-01-01.

    Returns
    -------
    datetime.date
        The calendar date.
    """
    return dt.date.fromordinal(int(number) + _EPOCH_ORDINAL)


@dataclass(frozen=True)
class RFMArrays:
    """Model inputs for the customers known at the cut-off, in the chosen time unit.

    Attributes
    ----------
    index : numpy.ndarray
        Positions of these customers in the :class:`CustomerSummary`.
    frequency, recency, T : numpy.ndarray
        Repeat occasions, time from first to last occasion, time from first occasion to
        the cut-off.
    monetary : numpy.ndarray
        Mean value of the repeat occasions in minor units (0 without repeats).
    """

    index: IntArray
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray
    monetary: FloatArray


@dataclass(frozen=True)
class CustomerSummary:
    """Per-customer statistics up to ``as_of_day``, split at ``calibration_day``.

    Every array has one entry per customer who made a purchase on or before
    ``as_of_day``; days are days since 1970-01-01 and money is integer minor units.

    Attributes
    ----------
    keys : numpy.ndarray
        Customer identifiers (UUIDs from the database, strings from a file).
    first_day, last_day : numpy.ndarray
        First and last purchase occasion.
    purchases : numpy.ndarray
        Number of purchase occasions.
    spend : numpy.ndarray
        Net value of all occasions.
    first_value : numpy.ndarray
        Value of the first occasion.
    cal_purchases, cal_last_day, cal_spend : numpy.ndarray
        The same up to and including ``calibration_day`` (``cal_last_day`` is -1 and the
        others 0 for customers who started after it).
    holdout_purchases : numpy.ndarray
        Occasions in ``(calibration_day, holdout_end_day]``.
    as_of_day, calibration_day, holdout_end_day : int
        The cut-offs (``holdout_end_day`` defaults to ``as_of_day``).
    """

    keys: npt.NDArray[Any]
    first_day: IntArray
    last_day: IntArray
    purchases: IntArray
    spend: IntArray
    first_value: IntArray
    cal_purchases: IntArray
    cal_last_day: IntArray
    cal_spend: IntArray
    holdout_purchases: IntArray
    as_of_day: int
    calibration_day: int
    holdout_end_day: int

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    @property
    def in_calibration(self) -> npt.NDArray[np.bool_]:
        """Whether each customer had bought by the calibration end."""
        return np.asarray(self.first_day <= self.calibration_day)

    def calibration(self, unit_days: float) -> RFMArrays:
        """``(x, t_x, T, z-bar)`` at the calibration end for the customers who had started.

        Parameters
        ----------
        unit_days : float
            Length of the time unit in days (1 or 7).

        Returns
        -------
        RFMArrays
            Model inputs.
        """
        idx = np.flatnonzero(self.in_calibration).astype(np.int64)
        x = self.cal_purchases[idx] - 1
        repeat_spend = self.cal_spend[idx] - self.first_value[idx]
        return RFMArrays(
            index=idx,
            frequency=x.astype(np.float64),
            recency=(self.cal_last_day[idx] - self.first_day[idx]) / unit_days,
            T=(self.calibration_day - self.first_day[idx]) / unit_days,
            monetary=np.divide(
                repeat_spend, x, out=np.zeros(idx.shape[0], dtype=np.float64), where=x > 0
            ),
        )

    def current(self, unit_days: float) -> RFMArrays:
        """``(x, t_x, T, z-bar)`` at ``as_of_day`` for every customer.

        Parameters
        ----------
        unit_days : float
            Length of the time unit in days.

        Returns
        -------
        RFMArrays
            Model inputs.
        """
        idx = np.arange(len(self), dtype=np.int64)
        x = self.purchases - 1
        repeat_spend = self.spend - self.first_value
        return RFMArrays(
            index=idx,
            frequency=x.astype(np.float64),
            recency=(self.last_day - self.first_day) / unit_days,
            T=(self.as_of_day - self.first_day) / unit_days,
            monetary=np.divide(
                repeat_spend, x, out=np.zeros(len(self), dtype=np.float64), where=x > 0
            ),
        )

    def key_strings(self) -> list[str]:
        """Return the keys as text (UUIDs from the database in their usual form)."""
        if self.keys.dtype.kind == "V":
            return [str(uuid.UUID(bytes=bytes(k))) for k in self.keys.tolist()]
        return [str(k) for k in self.keys.tolist()]

    def sorted_by_key(self) -> CustomerSummary:
        """Return a copy ordered by ``keys`` (to compare two summaries row by row)."""
        order = np.argsort(np.asarray(self.key_strings()), kind="stable")
        return CustomerSummary(
            keys=self.keys[order],
            first_day=self.first_day[order],
            last_day=self.last_day[order],
            purchases=self.purchases[order],
            spend=self.spend[order],
            first_value=self.first_value[order],
            cal_purchases=self.cal_purchases[order],
            cal_last_day=self.cal_last_day[order],
            cal_spend=self.cal_spend[order],
            holdout_purchases=self.holdout_purchases[order],
            as_of_day=self.as_of_day,
            calibration_day=self.calibration_day,
            holdout_end_day=self.holdout_end_day,
        )


# --------------------------------------------------------------------------- database


def purchases_filter(currency: str) -> ColumnElement[bool]:
    """Select the orders that count as purchases.

    An order counts when it has a customer, is in ``currency``, and is a sale
    (:func:`wafa.orders.sales.sold`: neither cancelled nor fully refunded; a zero-value
    order that was never refunded still counts, as in the papers' data). Partial refunds
    stay purchases and lower the value.

    Parameters
    ----------
    currency : str
        The analysed currency.

    Returns
    -------
    sqlalchemy.sql.elements.ColumnElement
        A ``WHERE`` condition on ``orders``.
    """
    return and_(Order.customer_id.is_not(None), Order.currency == currency, sold())


def occasions_subquery(session: Session, *, zone: str, currency: str, as_of_day: int) -> Any:
    """One row per (customer, local day) with the day's net value (a subquery).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session (for the dialect).
    zone : str
        Business timezone.
    currency : str
        Only orders in this currency count.
    as_of_day : int
        Last day included.

    Returns
    -------
    sqlalchemy.sql.Subquery
        Columns ``customer_id``, ``day``, ``value``, ``first_day``.
    """
    return _occasions_select(session, zone=zone, currency=currency, as_of_day=as_of_day).subquery(
        "occasions"
    )


#: Bit of each sales channel in the ``channels`` mask of an occasion.
CHANNEL_FLAGS = {"online": 1, "in_store": 2, "phone": 4}


def _occasions_select(
    session: Session, *, zone: str, currency: str, as_of_day: int, first_day: bool = True
) -> Any:
    """Purchase occasions: with each customer's first day (window), or with channel masks."""
    day = local_day_expression(session, Order.placed_at, zone)
    value = cast(func.sum(Order.total_amount - Order.refunded_amount), BigInteger).label("value")
    extra: Any
    if first_day:
        extra = func.min(day).over(partition_by=Order.customer_id).label("first_day")
    else:
        flag = case(*((Order.channel == name, bit) for name, bit in CHANNEL_FLAGS.items()), else_=0)
        extra = cast(func.sum(flag.distinct()), Integer).label("channels")
    return (
        select(Order.customer_id.label("customer_id"), day.label("day"), value, extra)
        .where(purchases_filter(currency), day <= as_of_day)
        .group_by(Order.customer_id, day)
    )


def summary_query(
    session: Session,
    *,
    zone: str,
    currency: str,
    as_of_day: int,
    calibration_day: int,
    holdout_end_day: int | None = None,
) -> Select[Any]:
    """Build the per-customer summary as one ``GROUP BY`` over purchase occasions.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Session whose dialect the statement is built for.
    zone : str
        Business timezone (calendar days are counted in it).
    currency : str
        Currency analysed.
    as_of_day : int
        Last day included (days since 1970-01-01).
    calibration_day : int
        End of the calibration period (``<= as_of_day``).
    holdout_end_day : int, optional
        End of the holdout window counted in ``holdout_purchases`` (default
        ``as_of_day``).

    Returns
    -------
    sqlalchemy.Select
        Columns ``customer_id, first_day, last_day, purchases, spend, first_value,
        cal_purchases, cal_last_day, cal_spend, holdout_purchases``, by customer.
    """
    occ = occasions_subquery(session, zone=zone, currency=currency, as_of_day=as_of_day)
    in_cal = occ.c.day <= calibration_day
    hold_end = as_of_day if holdout_end_day is None else holdout_end_day
    in_holdout = and_(occ.c.day > calibration_day, occ.c.day <= hold_end)
    big = BigInteger
    return (
        select(
            occ.c.customer_id,
            cast(func.min(occ.c.day), big).label("first_day"),
            cast(func.max(occ.c.day), big).label("last_day"),
            cast(func.count(), big).label("purchases"),
            cast(func.sum(occ.c.value), big).label("spend"),
            cast(func.sum(case((occ.c.day == occ.c.first_day, occ.c.value), else_=0)), big).label(
                "first_value"
            ),
            cast(func.sum(case((in_cal, 1), else_=0)), big).label("cal_purchases"),
            cast(func.coalesce(func.max(case((in_cal, occ.c.day))), -1), big).label("cal_last_day"),
            cast(func.sum(case((in_cal, occ.c.value), else_=0)), big).label("cal_spend"),
            cast(func.sum(case((in_holdout, 1), else_=0)), big).label("holdout_purchases"),
        )
        .group_by(occ.c.customer_id)
        .order_by(occ.c.customer_id)
    )


def db_summary(
    session: Session,
    *,
    zone: str,
    currency: str,
    as_of_day: int,
    calibration_day: int,
    holdout_end_day: int | None = None,
) -> CustomerSummary:
    """Run :func:`summary_query` and return its result as arrays.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Database session.
    zone, currency, as_of_day, calibration_day, holdout_end_day
        See :func:`summary_query`.

    Returns
    -------
    CustomerSummary
        One entry per customer with a purchase up to ``as_of_day``.
    """
    stmt = summary_query(
        session,
        zone=zone,
        currency=currency,
        as_of_day=as_of_day,
        calibration_day=calibration_day,
        holdout_end_day=holdout_end_day,
    )
    data = fetch_arrays(session, stmt, SUMMARY_SPEC)
    return CustomerSummary(
        keys=data["customer_id"],
        first_day=data["first_day"],
        last_day=data["last_day"],
        purchases=data["purchases"],
        spend=data["spend"],
        first_value=data["first_value"],
        cal_purchases=data["cal_purchases"],
        cal_last_day=data["cal_last_day"],
        cal_spend=data["cal_spend"],
        holdout_purchases=data["holdout_purchases"],
        as_of_day=as_of_day,
        calibration_day=calibration_day,
        holdout_end_day=as_of_day if holdout_end_day is None else holdout_end_day,
    )


SUMMARY_SPEC = [
    ("customer_id", UUID),
    *(
        (name, "int8")
        for name in (
            "first_day",
            "last_day",
            "purchases",
            "spend",
            "first_value",
            "cal_purchases",
            "cal_last_day",
            "cal_spend",
            "holdout_purchases",
        )
    ),
]


def db_occasions(
    session: Session, keys: npt.NDArray[Any], *, zone: str, currency: str, as_of_day: int
) -> tuple[Occasions, npt.NDArray[np.int64]]:
    """Fetch every purchase occasion as arrays, by customer code and day.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Database session.
    keys : numpy.ndarray
        The summary's customer keys (sorted, as :func:`db_summary` returns them); an
        occasion's ``code`` is its customer's position in them.
    zone, currency : str
        Business timezone and analysed currency.
    as_of_day : int
        Last day included.

    Returns
    -------
    tuple
        The occasions, sorted by customer code then day (the same content as
        :func:`duckdb_occasions` on the same orders), and each customer's channel
        mask (bits of :data:`CHANNEL_FLAGS`).
    """
    occ = _occasions_select(
        session, zone=zone, currency=currency, as_of_day=as_of_day, first_day=False
    ).subquery("occasions")
    data = fetch_arrays(
        session,
        select(occ.c.customer_id, cast(occ.c.day, BigInteger), occ.c.value, occ.c.channels),
        [("customer_id", UUID), ("day", "int8"), ("value", "int8"), ("channels", "int4")],
    )
    code = KeyIndex(keys).find(data["customer_id"])
    keep = code >= 0
    code, day, value = code[keep], data["day"][keep], data["value"][keep]
    order = np.lexsort((day, code))
    masks = np.zeros(keys.shape[0], dtype=np.int64)
    np.bitwise_or.at(masks, code, data["channels"][keep] & 7)
    return Occasions(code[order], day[order], value[order]), masks


# --------------------------------------------------------------------------- DuckDB


def _duckdb_summary_sql(*, split: bool) -> tuple[str, str, str]:
    """Return the SQL of ``wafa_occasions``, ``wafa_customer_rows`` and ``wafa_customers``.

    The purchase occasions (a customer's day and its value) are grouped once into
    ``wafa_occasions``, which both the summary and :func:`duckdb_occasions` read. The
    summary is ordered by customer id, and a customer's ``code`` is the row's position in
    the table (``rowid``), so numbering costs nothing; the occasions, read in the same
    order, get their codes from the summary's counts with no join. Without a split
    (calibration and holdout ending on the last day analysed), the calibration figures
    are the whole history's and the holdout is empty: they are not computed twice.
    """
    if split:
        calibration = """
           count(*) FILTER (WHERE day <= $cal) AS cal_purchases,
           coalesce(max(day) FILTER (WHERE day <= $cal), -1) AS cal_last_day,
           coalesce(sum(value) FILTER (WHERE day <= $cal), 0)::BIGINT AS cal_spend,
           count(*) FILTER (WHERE day > $cal AND day <= $hold) AS holdout_purchases"""
        outer = "*"
    else:
        calibration = ""
        outer = (
            "*, purchases AS cal_purchases, last_day AS cal_last_day, spend AS cal_spend, "
            "0::BIGINT AS holdout_purchases"
        )
    return (
        """
CREATE OR REPLACE TEMP TABLE wafa_occasions AS
SELECT customer_id, day, sum(net)::BIGINT AS value
FROM wafa_orders
WHERE purchase AND day <= $as_of
GROUP BY customer_id, day
""",
        f"""
CREATE OR REPLACE TEMP TABLE wafa_customer_rows AS
SELECT customer_id,
       min(day) AS first_day,
       max(day) AS last_day,
       count(*) AS purchases,
       sum(value)::BIGINT AS spend,
       arg_min(value, day)::BIGINT AS first_value{"," if calibration else ""}{calibration}
FROM wafa_occasions
GROUP BY customer_id
ORDER BY customer_id
""",
        f"CREATE OR REPLACE TEMP VIEW wafa_customers AS SELECT rowid AS code, {outer} "
        "FROM wafa_customer_rows",
    )


def duckdb_summary(
    con: Any, *, as_of_day: int, calibration_day: int, holdout_end_day: int | None = None
) -> CustomerSummary:
    """Summarise each customer of the ``wafa_orders`` table in a DuckDB connection.

    Leaves the view ``wafa_customers`` behind for the later steps: the summary, with
    ``code``, the customer's position in the returned arrays.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection holding ``wafa_orders`` (see :func:`wafa.analytics.reading.load_orders`).
    as_of_day, calibration_day : int
        Cut-offs, days since 1970-01-01.
    holdout_end_day : int, optional
        End of the window counted in ``holdout_purchases`` (default ``as_of_day``).

    Returns
    -------
    CustomerSummary
        Same content as :func:`db_summary` on the same orders, in ``code`` order.
    """
    hold = as_of_day if holdout_end_day is None else holdout_end_day
    split = not calibration_day == hold == as_of_day
    params = {"cal": calibration_day, "hold": hold} if split else None
    occasions, table, view = _duckdb_summary_sql(split=split)
    con.execute(occasions, {"as_of": as_of_day})
    con.execute(table, params)
    con.execute(view)
    columns = "customer_id, first_day, last_day, purchases, spend, first_value"
    if split:
        columns += ", cal_purchases, cal_last_day, cal_spend, holdout_purchases"
    result = con.execute(f"SELECT {columns} FROM wafa_customer_rows ORDER BY rowid").fetchnumpy()
    keys = np.asarray(result["customer_id"], dtype=object)

    def ints(name: str) -> IntArray:
        return np.asarray(result[name], dtype=np.int64)

    purchases, last_day, spend = ints("purchases"), ints("last_day"), ints("spend")
    return CustomerSummary(
        keys=keys,
        first_day=ints("first_day"),
        last_day=last_day,
        purchases=purchases,
        spend=spend,
        first_value=ints("first_value"),
        # Without a split the calibration is the whole history and the holdout is empty.
        cal_purchases=ints("cal_purchases") if split else purchases,
        cal_last_day=ints("cal_last_day") if split else last_day,
        cal_spend=ints("cal_spend") if split else spend,
        holdout_purchases=ints("holdout_purchases") if split else np.zeros_like(purchases),
        as_of_day=as_of_day,
        calibration_day=calibration_day,
        holdout_end_day=hold,
    )


@dataclass(frozen=True)
class Occasions:
    """Every purchase occasion as arrays: customer code, day and value.

    Attributes
    ----------
    code : numpy.ndarray
        Customer position in the :class:`CustomerSummary` arrays.
    day : numpy.ndarray
        Purchase day (days since 1970-01-01).
    value : numpy.ndarray
        Net value of the day's orders, minor units.
    """

    code: IntArray
    day: IntArray
    value: IntArray

    def where(self, keep: npt.NDArray[np.bool_]) -> Occasions:
        """Return the occasions where ``keep`` is true (in the same order)."""
        return Occasions(self.code[keep], self.day[keep], self.value[keep])


def duckdb_occasions(con: Any, summary: CustomerSummary) -> Occasions:
    """Fetch every purchase occasion as arrays, by customer code and day.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection on which :func:`duckdb_summary` ran (its ``wafa_occasions`` holds the
        occasions up to the summary's ``as_of_day``).
    summary : CustomerSummary
        What :func:`duckdb_summary` returned: customers in the order of their ids, so
        the occasions read in that order take their codes from ``summary.purchases``.

    Returns
    -------
    Occasions
        Sorted by customer code, then day.
    """
    result = con.execute(
        "SELECT day, value FROM wafa_occasions ORDER BY customer_id, day"
    ).fetchnumpy()
    day = np.asarray(result["day"], dtype=np.int64)
    if day.shape[0] != int(summary.purchases.sum()):
        raise ValueError("the occasions are not those of this summary")
    code = np.repeat(np.arange(len(summary), dtype=np.int64), summary.purchases)
    return Occasions(code, day, np.asarray(result["value"], dtype=np.int64))
