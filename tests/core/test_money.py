from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wafa.core.money import CurrencyMismatch, Money, apply_rate_bp, parse_amount, prorate


class TestParseAmount:
    @pytest.mark.parametrize(
        ("text", "currency", "minor"),
        [
            ("12.50", "USD", 1250),
            ("12", "USD", 1200),
            ("1,234.5", "EUR", 123450),
            ("1500", "JPY", 1500),
            ("1.234", "KWD", 1234),
            ("0", "IRR", 0),
        ],
    )
    def test_reads_major_units_exactly(self, text: str, currency: str, minor: int) -> None:
        assert parse_amount(text, currency) == minor

    def test_refuses_more_decimals_than_the_currency_has(self) -> None:
        with pytest.raises(ValueError, match="decimal places"):
            parse_amount("1.005", "USD")

    @pytest.mark.parametrize("text", ["abc", "", "NaN", "1e400x"])
    def test_refuses_non_amounts(self, text: str) -> None:
        with pytest.raises(ValueError, match="not an amount"):
            parse_amount(text, "USD")


class TestMoney:
    def test_mixing_currencies_raises(self) -> None:
        with pytest.raises(CurrencyMismatch):
            _ = Money(100, "USD") + Money(100, "EUR")

    def test_float_amount_is_refused(self) -> None:
        with pytest.raises(TypeError):
            Money(1.5, "USD")  # type: ignore[arg-type]


class TestRates:
    @given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=100_000))
    def test_rate_rounds_down_and_never_exceeds_exact(self, amount: int, rate: int) -> None:
        points = apply_rate_bp(amount, rate)
        assert points * 10_000 <= amount * rate < (points + 1) * 10_000

    @given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=1000))
    def test_prorating_all_parts_of_one_gives_the_total(self, total: int, whole: int) -> None:
        assert prorate(total, whole, whole) == total
