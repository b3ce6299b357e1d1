"""The rule models and the calendar tables the compiler builds, without a database."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from wafa.core.calendars import anniversary, ymd
from wafa.core.settings import CalendarKind
from wafa.messaging.segments.compiler import Context, birthday_days
from wafa.messaging.segments.rules import MAX_CONDITIONS, MAX_DEPTH, parse_rules


def errors(data: Any) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        parse_rules(data)
    return [(tuple(e["loc"]), e["msg"]) for e in caught.value.errors()]


class TestRules:
    def test_values_are_kept_as_json_in_a_canonical_form(self) -> None:
        rule = parse_rules(
            {
                "any": [
                    {"field": "city", "op": "=", "value": "  Tehran "},
                    {"field": "orders_count", "op": "in", "value": [1, 2, 2, 3.0]},
                    {"field": "created_on", "op": ">=", "value": "2026-01-05"},
                ]
            }
        )
        assert rule.as_json() == {
            "any": [
                {"field": "city", "op": "=", "value": "Tehran"},
                {"field": "orders_count", "op": "in", "value": [1, 2, 3]},
                {"field": "created_on", "op": ">=", "value": "2026-01-05"},
            ]
        }
        assert parse_rules(rule.as_json()) == rule

    def test_booleans_are_not_numbers(self) -> None:
        assert errors({"all": [{"field": "orders_count", "op": "=", "value": True}]}) == [
            (("all", 0, "value"), "expected a whole number")
        ]
        assert errors({"all": [{"field": "consent_email", "op": "=", "value": 1}]}) == [
            (("all", 0, "value"), "expected true or false")
        ]

    def test_choices_and_lists(self) -> None:
        [(loc, msg)] = errors({"all": [{"field": "language", "op": "in", "value": ["fa", "de"]}]})
        assert loc == ("all", 0, "value") and "'de' is not one of" in msg
        [(loc, msg)] = errors({"all": [{"field": "city", "op": "=", "value": ["a"]}]})
        assert "use 'in' for a list" in msg
        [(loc, msg)] = errors({"all": [{"field": "birthday_month", "op": "=", "value": 13}]})
        assert msg == "must be at most 12"

    def test_a_group_is_a_group_or_a_condition(self) -> None:
        [(loc, msg)] = errors({"all": [{"all": [], "field": "city", "op": "=", "value": "x"}]})
        assert loc == ("all", 0) and "not both" in msg

    def test_size_is_bounded(self) -> None:
        deep: dict[str, Any] = {"all": []}
        for _ in range(MAX_DEPTH):
            deep = {"all": [deep]}
        assert "nest at most" in errors(deep)[0][1]
        wide = {"all": [{"field": "city", "op": "=", "value": "x"}] * (MAX_CONDITIONS + 1)}
        assert "at most" in errors(wide)[0][1]


def _ctx(today: date, calendar: CalendarKind) -> Context:
    return Context(
        today=today, zone=ZoneInfo("UTC"), calendar=calendar, currency="USD", dialect="sqlite"
    )


class TestBirthdayDays:
    @pytest.mark.parametrize("calendar", list(CalendarKind))
    @pytest.mark.parametrize("today", [date(2026, 3, 15), date(2024, 2, 29), date(2025, 3, 20)])
    def test_every_birthday_falls_in_the_month_of_its_anniversary(
        self, calendar: CalendarKind, today: date
    ) -> None:
        table = birthday_days(_ctx(today, calendar))
        other = next(k for k in CalendarKind if k is not calendar)
        other_year = ymd(today, other)[0]
        for month in range(1, 13):
            for day in range(1, 32):
                # A birthday kept in the business calendar falls in its own month.
                assert table[(calendar.value, month, day)] == month
                # One kept in the other calendar: where its anniversary falls this year.
                on = anniversary(month, day, other_year, other)
                assert table[(other.value, month, day)] == ymd(on, calendar)[1]
        assert table[("gregorian", 3, 25)] == (3 if calendar is CalendarKind.gregorian else 1)
