from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from wafa.core import calendars as cal
from wafa.core.settings import CalendarKind

G, J = CalendarKind.gregorian, CalendarKind.jalali


class TestLocalDate:
    def test_uses_the_business_zone_not_utc(self) -> None:
        ts = datetime(2026, 3, 20, 21, 30, tzinfo=UTC)  # 01:00 on the 21st in Tehran
        assert cal.local_date(ts, ZoneInfo("Asia/Tehran")) == date(2026, 3, 21)
        assert cal.local_date(ts, ZoneInfo("America/New_York")) == date(2026, 3, 20)

    def test_naive_instant_is_refused(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            cal.local_date(datetime(2026, 1, 1), ZoneInfo("UTC"))  # noqa: DTZ001


class TestJalali:
    def test_nowruz_1405(self) -> None:
        assert cal.ymd(date(2026, 3, 21), J) == (1405, 1, 1)
        assert cal.from_ymd(1405, 1, 1, J) == date(2026, 3, 21)

    def test_esfand_has_30_days_in_leap_years_only(self) -> None:
        assert cal.days_in_month(1403, 12, J) == 30
        assert cal.days_in_month(1404, 12, J) == 29

    def test_month_start_and_year_start(self) -> None:
        assert cal.month_start(date(2026, 5, 1), J) == date(2026, 4, 21)  # 1 Ordibehesht
        assert cal.year_start(date(2026, 3, 20), J) == date(2025, 3, 21)

    def test_add_months_clamps_to_month_end(self) -> None:
        # 31 Shahrivar + 1 month -> 30 Mehr (Mehr has 30 days)
        start = cal.from_ymd(1405, 6, 31, J)
        assert cal.ymd(cal.add_months(start, 1, J), J) == (1405, 7, 30)


class TestAnniversary:
    def test_29_february_falls_on_28th_in_common_years(self) -> None:
        assert cal.anniversary(2, 29, 2027, G) == date(2027, 2, 28)
        assert cal.anniversary(2, 29, 2028, G) == date(2028, 2, 29)

    def test_30_esfand_falls_on_29th_outside_jalali_leap_years(self) -> None:
        assert cal.anniversary(12, 30, 1404, J) == cal.from_ymd(1404, 12, 29, J)

    def test_a_jalali_birthday_moves_in_the_gregorian_calendar(self) -> None:
        days = {cal.anniversary(1, 1, y, J) for y in (1403, 1404, 1405, 1406)}
        assert {(d.month, d.day) for d in days} == {(3, 20), (3, 21)}

    @pytest.mark.parametrize(
        ("month", "day", "kind", "ok"),
        [
            (2, 29, G, True),
            (2, 30, G, False),
            (4, 31, G, False),
            (12, 30, J, True),
            (7, 31, J, False),
            (13, 1, G, False),
        ],
    )
    def test_valid_month_days(self, month: int, day: int, kind: CalendarKind, ok: bool) -> None:
        assert cal.is_valid_month_day(month, day, kind) is ok
