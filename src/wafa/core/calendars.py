"""The business calendar: local dates in the business's zone, in Gregorian or Jalali.

Every calendar rule (birthday month, "daily" jobs, tier periods, monthly reports)
goes through these functions, never through the server's clock or zone.
"""

from __future__ import annotations

import calendar as _gregorian
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as _holidays
import jdatetime

from wafa.core.settings import CalendarKind
from wafa.core.time import ensure_utc


def local_date(ts: datetime, zone: ZoneInfo) -> date:
    """The calendar day (Gregorian ``date``) on which instant ``ts`` falls in ``zone``."""
    return ensure_utc(ts).astimezone(zone).date()


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``zone``, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=zone)


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The end of local ``day`` in ``zone``: the first instant of the next day (exclusive).

    The one rule for "valid until ``day``": usable at every instant before this one,
    wherever the reader is. ``last_day`` turns it back into ``day``.
    """
    return start_of_day(day + timedelta(days=1), zone)


def last_day(until: datetime, zone: ZoneInfo) -> date:
    """The last local day an exclusive end instant still covers (``end_of_day``'s inverse)."""
    return local_date(ensure_utc(until) - timedelta(microseconds=1), zone)


def ymd(day: date, kind: CalendarKind) -> tuple[int, int, int]:
    """Year, month, day of a Gregorian ``date`` in calendar ``kind``."""
    if kind is CalendarKind.jalali:
        j = jdatetime.date.fromgregorian(date=day)
        return int(j.year), int(j.month), int(j.day)
    return day.year, day.month, day.day


def days_in_month(year: int, month: int, kind: CalendarKind) -> int:
    """Number of days of ``month`` of ``year`` in calendar ``kind``."""
    if kind is CalendarKind.jalali:
        if month <= 6:
            return 31
        if month <= 11:
            return 30
        return 30 if jdatetime.date(year, 1, 1).isleap() else 29
    return _gregorian.monthrange(year, month)[1]


def from_ymd(year: int, month: int, day: int, kind: CalendarKind) -> date:
    """The Gregorian ``date`` of ``year-month-day`` in calendar ``kind``."""
    if kind is CalendarKind.jalali:
        return jdatetime.date(year, month, day).togregorian()  # type: ignore[no-any-return]
    return date(year, month, day)


def month_start(day: date, kind: CalendarKind) -> date:
    """First day of the calendar month containing ``day``."""
    y, m, _ = ymd(day, kind)
    return from_ymd(y, m, 1, kind)


def add_months(day: date, months: int, kind: CalendarKind) -> date:
    """``day`` moved by ``months`` calendar months, clamped to the month's last day."""
    y, m, d = ymd(day, kind)
    index = y * 12 + (m - 1) + months
    ny, nm = divmod(index, 12)
    nm += 1
    return from_ymd(ny, nm, min(d, days_in_month(ny, nm, kind)), kind)


def year_start(day: date, kind: CalendarKind) -> date:
    """First day of the calendar year containing ``day`` (1 Farvardin in Jalali)."""
    y, _, _ = ymd(day, kind)
    return from_ymd(y, 1, 1, kind)


def month_key(day: date, kind: CalendarKind) -> int:
    """A sortable integer for the calendar month of ``day``: ``year * 12 + month - 1``."""
    y, m, _ = ymd(day, kind)
    return y * 12 + (m - 1)


def week_start(day: date, first_weekday: int = 0) -> date:
    """The first day of the week containing ``day`` (0 = Monday ... 5 = Saturday)."""
    return day - timedelta(days=(day.weekday() - first_weekday) % 7)


def anniversary(month: int, day: int, year: int, kind: CalendarKind) -> date:
    """The Gregorian date of a yearly ``month/day`` occasion in calendar ``year``.

    A day that the year lacks (29 February outside leap years, 30 Esfand outside
    Jalali leap years) falls on the month's last day, so it is never skipped.
    """
    return from_ymd(year, month, min(day, days_in_month(year, month, kind)), kind)


def is_valid_month_day(month: int, day: int, kind: CalendarKind) -> bool:
    """Whether ``month/day`` exists in some year of calendar ``kind`` (29 Feb does)."""
    if not 1 <= month <= 12 or day < 1:
        return False
    if kind is CalendarKind.jalali:
        return day <= (31 if month <= 6 else 30)
    return day <= (29 if month == 2 else _gregorian.monthrange(2001, month)[1])


@lru_cache(maxsize=64)
def closed_days(country: str, year: int) -> tuple[frozenset[date], frozenset[int]]:
    """Public holidays of ``country`` (ISO 3166) in ``year``, and its weekend weekdays.

    From the ``holidays`` package (Iran's follow the Persian calendar). A country the
    package does not know has no holidays and a Saturday-Sunday weekend. Messaging's
    quiet days and feedback's business hours both read it.
    """
    try:
        found = _holidays.country_holidays(country, years=year)
    except NotImplementedError:
        return frozenset(), frozenset({5, 6})
    return frozenset(found.keys()), frozenset(found.weekend)
