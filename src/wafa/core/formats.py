"""How numbers' digits and calendar days are written in each language (no web framework).

The dashboard (:mod:`wafa.web.i18n`, which re-exports these) and the file report of
``wafa analyze`` (:mod:`wafa.analytics.report`) write digits and days the same way: Arabic
pages in Arabic-Indic digits, Persian pages in Persian digits, and a day in the display
calendar (Jalali when the business counts in it or the page is Persian).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import jdatetime
from babel.dates import format_date, format_skeleton
from babel.dates import get_month_names as _babel_month_names

from wafa.core.calendars import local_date
from wafa.core.settings import CalendarKind, Locale

__all__ = [
    "JALALI_MONTHS_EN",
    "JALALI_MONTHS_FA",
    "NUMBERING",
    "RTL_LANGUAGES",
    "DateContext",
    "format_day",
    "month_names",
    "native_digits",
]

#: Languages written right to left (pages, reports and messages turn with them).
RTL_LANGUAGES = frozenset({"ar", "fa"})

# Babel numbering system per UI language (separators), and the digits written.
NUMBERING: dict[str, str] = {"en": "latn", "ar": "arab", "fa": "arabext"}
_DIGIT_TABLES: dict[str, dict[int, int]] = {
    "arab": str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"),
    "arabext": str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"),
}

JALALI_MONTHS_FA = tuple(jdatetime.date.j_months_fa)
JALALI_MONTHS_EN = tuple(jdatetime.date.j_months_en)


def native_digits(text: str, language: str) -> str:
    """Write the ASCII digits of ``text`` in the digits of ``language``."""
    table = _DIGIT_TABLES.get(NUMBERING.get(language, "latn"))
    return text.translate(table) if table else text


@dataclass(frozen=True)
class DateContext:
    """What date display depends on: UI language, business zone and business calendar."""

    language: str
    zone: ZoneInfo
    calendar: CalendarKind

    @property
    def display_calendar(self) -> CalendarKind:
        """Jalali when the business calendar is Jalali or the UI is Persian."""
        if self.calendar is CalendarKind.jalali or self.language == Locale.fa:
            return CalendarKind.jalali
        return CalendarKind.gregorian


def month_names(kind: CalendarKind | str, language: str) -> list[str]:
    """The twelve month names of calendar ``kind`` in ``language`` (index 0 = month 1)."""
    if str(kind) == CalendarKind.jalali:
        return list(JALALI_MONTHS_EN if language == "en" else JALALI_MONTHS_FA)
    names = _babel_month_names("wide", context="stand-alone", locale=language)
    return [str(names[m]) for m in range(1, 13)]


def _as_day(value: date | datetime, zone: ZoneInfo) -> date:
    if isinstance(value, datetime):
        return local_date(value, zone)
    return value


def format_day(value: date | datetime | None, ctx: DateContext, *, style: str = "medium") -> str:
    """A calendar day in the display calendar.

    ``style``: ``long`` (``1 فروردین 1405``, ``March 21, 2026``), ``medium`` (abbreviated
    Gregorian month) or ``short`` (``1405/01/01``, ``3/21/26``).
    """
    if value is None:
        return "—"
    day = _as_day(value, ctx.zone)
    lang = ctx.language
    if ctx.display_calendar is CalendarKind.jalali:
        j = jdatetime.date.fromgregorian(date=day)
        if style == "short":
            text = f"{j.year:04d}/{j.month:02d}/{j.day:02d}"
        else:
            text = f"{j.day} {month_names(CalendarKind.jalali, lang)[j.month - 1]} {j.year}"
        return native_digits(text, lang)
    if style == "long":
        return native_digits(str(format_date(day, "long", locale=lang)), lang)
    skeleton = "yMd" if style == "short" else "yMMMd"
    return native_digits(str(format_skeleton(skeleton, day, locale=lang)), lang)
