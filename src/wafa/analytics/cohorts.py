"""Monthly acquisition cohorts: who keeps buying, month by month since their first order.

A cohort is the customers whose first purchase fell in one month of the business
calendar (Gregorian, or Jalali when the business uses it); column ``k`` counts how
many of them bought in the ``k``-th month after it (``k = 0`` is the first month) and
what they spent. Months come from :func:`wafa.core.calendars.month_key` through a
day-to-month lookup array, so both calendars are served alike, from the purchase
occasions that the database or an export file gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from wafa.analytics.summary import Occasions, day_to_date
from wafa.core.calendars import from_ymd, month_key
from wafa.core.settings import CalendarKind

__all__ = ["CohortMatrix", "month_table", "occasion_cohorts"]

IntArray = npt.NDArray[np.int64]


def month_table(first_day: int, last_day: int, calendar: CalendarKind) -> tuple[IntArray, IntArray]:
    """List every day of a range with its month key in the business calendar.

    Parameters
    ----------
    first_day, last_day : int
        Range of days since 1970-01-01 (inclusive).
    calendar : CalendarKind
        Gregorian or Jalali.

    Returns
    -------
    tuple of numpy.ndarray
        ``(days, month_keys)`` with ``month_key = year * 12 + month - 1``.
    """
    days = np.arange(first_day, last_day + 1, dtype=np.int64)
    keys = np.fromiter(
        (month_key(day_to_date(int(d)), calendar) for d in days), dtype=np.int64, count=days.size
    )
    return days, keys


@dataclass(frozen=True)
class CohortMatrix:
    """Cohorts by month of first purchase.

    Attributes
    ----------
    months : numpy.ndarray
        Month key of each cohort (``year * 12 + month - 1`` in the business calendar).
    customers : numpy.ndarray
        ``(cohorts, offsets)`` distinct customers buying ``k`` months after joining.
    revenue : numpy.ndarray
        ``(cohorts, offsets)`` their net spend (minor units).
    last_month : int
        Month key of the last day analysed (later cells are in the future).
    calendar : CalendarKind
        Calendar of the month keys.
    """

    months: IntArray
    customers: IntArray
    revenue: IntArray
    last_month: int
    calendar: CalendarKind

    @classmethod
    def from_rows(
        cls, rows: list[tuple[int, int, int, int]], last_month: int, calendar: CalendarKind
    ) -> CohortMatrix:
        """Build the matrix from ``(cohort month, month, customers, revenue)`` rows.

        Parameters
        ----------
        rows : list of tuple
            Aggregated rows from SQL.
        last_month : int
            Month key of the analysis date.
        calendar : CalendarKind
            Calendar of the keys.

        Returns
        -------
        CohortMatrix
            The matrix (empty when there are no rows).
        """
        if not rows:
            empty = np.zeros((0, 0), dtype=np.int64)
            return cls(np.zeros(0, dtype=np.int64), empty, empty, last_month, calendar)
        cohorts = np.array(sorted({int(r[0]) for r in rows}), dtype=np.int64)
        width = max(last_month - int(cohorts[0]) + 1, 1)
        customers = np.zeros((cohorts.size, width), dtype=np.int64)
        revenue = np.zeros((cohorts.size, width), dtype=np.int64)
        index = {int(m): i for i, m in enumerate(cohorts)}
        for cohort, month, n, value in rows:
            offset = int(month) - int(cohort)
            if 0 <= offset < width:
                customers[index[int(cohort)], offset] = int(n)
                revenue[index[int(cohort)], offset] = int(value)
        return cls(cohorts, customers, revenue, last_month, calendar)

    def label(self, key: int) -> str:
        """Return ``YYYY-MM`` of a month key in the matrix's calendar."""
        year, month = divmod(int(key), 12)
        return f"{year:04d}-{month + 1:02d}"

    def returning_revenue_by_month(self) -> list[dict[str, Any]]:
        """Split each calendar month's revenue into first-month and returning customers.

        Returns
        -------
        list of dict
            ``month``, ``new`` (revenue of customers in their first month), ``returning``
            (everyone else) and ``returning_share``.
        """
        if self.months.size == 0:
            return []
        first = int(self.months[0])
        width = self.last_month - first + 1
        new = np.zeros(width, dtype=np.int64)
        returning = np.zeros(width, dtype=np.int64)
        for i, cohort in enumerate(self.months):
            start = int(cohort) - first
            row = self.revenue[i, : width - start]
            new[start] += int(row[0]) if row.size else 0
            returning[start + 1 : start + row.size] += row[1:]
        out = []
        for k in range(width):
            total = int(new[k] + returning[k])
            year, month = divmod(first + k, 12)
            out.append(
                {
                    "month": self.label(first + k),
                    "start": from_ymd(year, month + 1, 1, self.calendar).isoformat(),
                    "new": int(new[k]),
                    "returning": int(returning[k]),
                    "returning_share": (int(returning[k]) / total) if total else 0.0,
                }
            )
        return out

    def to_dict(self, *, max_cohorts: int | None = None) -> dict[str, Any]:
        """Return the matrix as JSON-ready data (the most recent ``max_cohorts`` cohorts).

        Parameters
        ----------
        max_cohorts : int, optional
            Keep only the most recent cohorts.

        Returns
        -------
        dict
            ``calendar``, ``cohorts`` (each with ``month``, ``start`` (its first day, ISO
            Gregorian), ``size``, ``customers``,
            ``retention`` and ``revenue`` per month since the first order, up to the
            analysis date), and ``returning_revenue_by_month``.
        """
        start = 0 if max_cohorts is None else max(0, self.months.size - max_cohorts)
        cohorts = []
        for i in range(start, self.months.size):
            months_known = self.last_month - int(self.months[i]) + 1
            row_c = self.customers[i, :months_known]
            row_r = self.revenue[i, :months_known]
            size = int(row_c[0]) if row_c.size else 0
            year, month = divmod(int(self.months[i]), 12)
            cohorts.append(
                {
                    "month": self.label(int(self.months[i])),
                    "start": from_ymd(year, month + 1, 1, self.calendar).isoformat(),
                    "size": size,
                    "customers": [int(v) for v in row_c],
                    "retention": [(int(v) / size) if size else 0.0 for v in row_c],
                    "revenue": [int(v) for v in row_r],
                }
            )
        return {
            "calendar": self.calendar.value,
            "cohorts": cohorts,
            "returning_revenue_by_month": self.returning_revenue_by_month(),
        }


def occasion_cohorts(
    occasions: Occasions,
    first_day: IntArray,
    *,
    calendar: CalendarKind,
    start_day: int,
    as_of_day: int,
) -> CohortMatrix:
    """Compute the cohort matrix from occasion arrays (the ``wafa analyze`` path).

    Parameters
    ----------
    occasions : Occasions
        Every purchase occasion (customer code, day, value), sorted by customer and day.
    first_day : numpy.ndarray
        First purchase day per customer code.
    calendar : CalendarKind
        Month boundaries.
    start_day, as_of_day : int
        Range of purchase days.

    Returns
    -------
    CohortMatrix
        The matrix.
    """
    _, keys = month_table(start_day, as_of_day, calendar)
    if occasions.day.size == 0:
        return CohortMatrix.from_rows([], int(keys[-1]) if keys.size else 0, calendar)
    month_of = keys[occasions.day - start_day]
    cohort_of = keys[first_day[occasions.code] - start_day]
    base = int(keys[0])
    span = int(keys[-1]) - base + 1
    cell = (cohort_of - base) * span + (month_of - base)
    revenue = np.bincount(cell, weights=occasions.value.astype(np.float64), minlength=span * span)
    # A customer counts once per month, however often they bought in it: occasions are
    # sorted by customer and day, so a customer's repeats within a month are adjacent.
    first_in_month = np.ones(cell.size, dtype=bool)
    first_in_month[1:] = (occasions.code[1:] != occasions.code[:-1]) | (
        month_of[1:] != month_of[:-1]
    )
    customers = np.bincount(cell[first_in_month], minlength=span * span)
    present = np.flatnonzero(customers)
    rows = [
        (base + int(c) // span, base + int(c) % span, int(customers[c]), round(float(revenue[c])))
        for c in present
    ]
    return CohortMatrix.from_rows(rows, int(keys[-1]), calendar)
