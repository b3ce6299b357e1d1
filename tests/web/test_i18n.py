from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_file

from wafa.core.settings import CalendarKind
from wafa.web import i18n
from wafa.web.i18n import DateContext
from wafa.web.templating import TEMPLATE_DIR

WEB = Path(i18n.__file__).resolve().parent
TEHRAN = ZoneInfo("Asia/Tehran")
NOWRUZ = datetime(2026, 3, 21, 8, 0, tzinfo=UTC)  # 1 Farvardin 1405 in Tehran


def ctx(language: str, calendar: CalendarKind = CalendarKind.gregorian) -> DateContext:
    return DateContext(language, TEHRAN, calendar)


class TestNumbers:
    def test_persian_digits_and_separators(self) -> None:
        assert i18n.format_number(1234567, "fa") == "۱٬۲۳۴٬۵۶۷"

    def test_arabic_uses_arab_indic_digits(self) -> None:
        assert i18n.format_number(1234567, "ar") == "١٬٢٣٤٬٥٦٧"

    def test_english_keeps_ascii(self) -> None:
        assert i18n.format_number(1234567, "en") == "1,234,567"

    def test_percent_sign_per_script(self) -> None:
        assert i18n.format_ratio(0.25, "en") == "25%"
        assert i18n.format_ratio(0.25, "fa") == "۲۵٪"
        assert i18n.format_ratio(0.25, "ar") == "٢٥٪"

    def test_missing_ratio_is_a_dash(self) -> None:
        assert i18n.format_ratio(None, "fa") == "—"


class TestMoney:
    def test_minor_units_are_exact(self) -> None:
        assert i18n.format_amount(123450, "USD", "en") == "$1,234.50"

    def test_zero_decimal_currency(self) -> None:
        assert i18n.format_amount(1500, "JPY", "en") == "¥1,500"

    def test_three_decimal_currency(self) -> None:
        assert i18n.format_amount(1500, "KWD", "en").endswith("1.500")

    def test_persian_money_has_persian_digits(self) -> None:
        assert "۱٬۲۳۴٫۵۰" in i18n.format_amount(123450, "USD", "fa")

    def test_arabic_latin_symbol_stays_one_run(self) -> None:
        text = i18n.format_amount(123450, "USD", "ar")
        assert "١٬٢٣٤٫٥٠" in text
        assert "US$\u200e" in text  # otherwise shown as "$US" in a right-to-left line


class TestDates:
    def test_persian_ui_shows_jalali_with_persian_digits(self) -> None:
        assert i18n.format_day(NOWRUZ, ctx("fa"), style="long") == "۱ فروردین ۱۴۰۵"

    def test_jalali_business_calendar_in_english(self) -> None:
        assert i18n.format_day(NOWRUZ, ctx("en", CalendarKind.jalali)) == "1 Farvardin 1405"

    def test_jalali_business_calendar_in_arabic(self) -> None:
        text = i18n.format_day(NOWRUZ, ctx("ar", CalendarKind.jalali))
        assert text == "١ فروردین ١٤٠٥"

    def test_gregorian_in_english(self) -> None:
        assert i18n.format_day(NOWRUZ, ctx("en"), style="long") == "March 21, 2026"

    def test_gregorian_in_arabic(self) -> None:
        assert i18n.format_day(NOWRUZ, ctx("ar"), style="long") == "٢١ مارس ٢٠٢٦"

    def test_short_jalali(self) -> None:
        assert i18n.format_day(NOWRUZ, ctx("fa"), style="short") == "۱۴۰۵/۰۱/۰۱"

    def test_instant_falls_on_the_business_day(self) -> None:
        # 22:00 UTC on 20 March is already 21 March (1 Farvardin) in Tehran.
        late = datetime(2026, 3, 20, 22, 0, tzinfo=UTC)
        assert i18n.format_day(late, ctx("fa"), style="long") == "۱ فروردین ۱۴۰۵"
        assert i18n.format_day(
            late, DateContext("en", ZoneInfo("UTC"), CalendarKind.gregorian)
        ) == ("Mar 20, 2026")

    def test_moment_has_the_local_time(self) -> None:
        assert i18n.format_moment(NOWRUZ, ctx("en")) == "Mar 21, 2026, 11:30\u202fAM"
        assert i18n.format_moment(NOWRUZ, ctx("fa")).endswith("۱۱:۳۰")

    def test_relative_time(self) -> None:
        now = datetime(2026, 3, 24, 8, 0, tzinfo=UTC)
        assert i18n.format_relative(NOWRUZ, ctx("en"), now=now) == "3 days ago"
        assert i18n.format_relative(NOWRUZ, ctx("fa"), now=now) == "۳ روز پیش"

    def test_month_label(self) -> None:
        assert i18n.format_month(date(2026, 3, 21), ctx("fa")) == "فروردین ۱۴۰۵"
        assert i18n.format_month(date(2026, 3, 21), ctx("en")) == "Mar 2026"

    def test_missing_date_is_a_dash(self) -> None:
        assert i18n.format_day(None, ctx("en")) == "—"


class TestMonthDay:
    def test_jalali_birthday_in_persian(self) -> None:
        assert i18n.format_month_day(15, 7, 1370, "jalali", "fa") == "۱۵ مهر ۱۳۷۰"

    def test_gregorian_birthday_without_year(self) -> None:
        assert i18n.format_month_day(29, 2, None, "gregorian", "en") == "29 February"

    def test_gregorian_month_in_persian_is_the_standalone_name(self) -> None:
        assert i18n.format_month_day(29, 2, None, "gregorian", "fa") == "۲۹ فوریه"


class TestInitials:
    def test_latin_names_take_two_letters(self) -> None:
        assert i18n.initials("sara walker") == "SW"

    def test_arabic_script_names_take_one_letter(self) -> None:
        assert i18n.initials("هدى الخطيب") == "ه"

    def test_empty(self) -> None:
        assert i18n.initials(None) == ""


class TestCatalogues:
    def test_every_po_of_a_language_is_merged(self, tmp_path: Path) -> None:
        folder = tmp_path / "fa" / "LC_MESSAGES"
        folder.mkdir(parents=True)
        header = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n"Plural-Forms: nplurals=2; plural=(n > 1);\\n"\n\n'
        (folder / "a.po").write_text(header + 'msgid "Points"\nmsgstr "امتیاز"\n', "utf-8")
        (folder / "b.po").write_text(
            header
            + 'msgid "Tier"\nmsgstr "سطح"\n\n#, fuzzy\nmsgid "Draft"\nmsgstr "پیش‌نویس"\n\n'
            + 'msgid "%(num)s visit"\nmsgid_plural "%(num)s visits"\nmsgstr[0] "یک بار"\nmsgstr[1] "%(num)s بار"\n',
            "utf-8",
        )
        merged = i18n.load_translations("fa", tmp_path)
        assert merged.gettext("Points") == "امتیاز"
        assert merged.gettext("Tier") == "سطح"
        assert merged.gettext("Draft") == "Draft"  # fuzzy entries are not used
        assert merged.ngettext("%(num)s visit", "%(num)s visits", 1) == "یک بار"
        assert merged.ngettext("%(num)s visit", "%(num)s visits", 4) == "%(num)s بار"

    def test_missing_message_falls_back_to_english(self) -> None:
        assert i18n.gettext("fa", "A sentence nobody translated") == "A sentence nobody translated"

    def test_arabic_plural_forms(self) -> None:
        forms = [
            i18n.ngettext("ar", "%(num)s item", "%(num)s items", n) for n in (1, 2, 3, 11, 100)
        ]
        assert forms == ["صنف واحد", "صنفان", "٣ أصناف", "١١ صنفًا", "١٠٠ صنف"]

    def test_language_codes_are_normalised(self) -> None:
        assert i18n.normalize_language("fa-IR") == "fa"
        assert i18n.normalize_language("AR_sa") == "ar"
        assert i18n.normalize_language("de") is None
        assert i18n.normalize_language(None) is None


def _dashboard_msgids() -> set[str]:
    """Every msgid in the foundation's templates and web modules."""
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: set[str] = set()
    mine = [
        "base.html",
        "public.html",
        "_macros.html",
        "home.html",
        "auth",
        "errors",
        "customers",
        "people",
        "orders",
    ]
    templates = [
        path
        for name in mine
        for path in (
            [TEMPLATE_DIR / name]
            if name.endswith(".html")
            else (TEMPLATE_DIR / name).rglob("*.html")
        )
    ]
    for path in templates:
        for _, msg, _, _ in extract_from_file(
            "jinja2", str(path), keywords=keywords, options={"extensions": "jinja2.ext.do"}
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    sources = [
        *WEB.glob("*.py"),
        WEB.parent / "customers" / "web.py",
        *(WEB.parent / "people" / "web").glob("*.py"),
        WEB.parent / "orders" / "web.py",
    ]
    for path in sources:
        for _, msg, _, _ in extract_from_file("python", str(path), keywords=keywords):
            found.add(msg if isinstance(msg, str) else msg[0])
    return found


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_every_dashboard_string_is_translated(language: str) -> None:
    catalogue = i18n.translations(language)
    msgids = _dashboard_msgids()
    assert len(msgids) > 200
    missing = sorted(m for m in msgids if m not in catalogue)
    assert not missing, f"untranslated in {language}: {missing}"
