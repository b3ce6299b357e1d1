from __future__ import annotations

import pytest

from wafa.core.contacts import ContactError, normalize_email, normalize_phone
from wafa.core.text import search_key


class TestNormalizeEmail:
    def test_lower_cases_and_strips(self) -> None:
        assert normalize_email("  Sara.K@Example.COM ") == "sara.k@example.com"

    @pytest.mark.parametrize("raw", ["nope", "a@", "@b.com", "a b@c.com"])
    def test_refuses_non_addresses(self, raw: str) -> None:
        with pytest.raises(ContactError, match="not a valid email"):
            normalize_email(raw)


class TestNormalizePhone:
    @pytest.mark.parametrize(
        ("raw", "region", "e164"),
        [
            ("0912 345 6789", "IR", "+989123456789"),
            ("۰۹۱۲۳۴۵۶۷۸۹", "IR", "+989123456789"),  # Persian digits
            ("00971 50 123 4567", "US", "+971501234567"),
            ("(415) 555-0134", "US", "+14155550134"),
            ("+44 20 7946 0958", "IR", "+442079460958"),
        ],
    )
    def test_reads_to_e164(self, raw: str, region: str, e164: str) -> None:
        assert normalize_phone(raw, region) == e164

    @pytest.mark.parametrize("raw", ["12", "call me", "+1 555"])
    def test_refuses_impossible_numbers(self, raw: str) -> None:
        with pytest.raises(ContactError):
            normalize_phone(raw, "US")


class TestSearchKey:
    def test_folds_arabic_and_persian_letter_forms(self) -> None:
        assert search_key("علي") == search_key("علی")
        assert search_key("كامران") == search_key("کامران")
        assert search_key("مُحَمَّد") == search_key("محمد")

    def test_folds_case_and_spaces(self) -> None:
        assert search_key("  Sara   KHAN ") == "sara khan"
