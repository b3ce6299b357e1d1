"""Languages, translations and locale-aware display for the dashboard.

Translations are Babel ``.po`` catalogues under ``src/wafa/locale/<lang>/LC_MESSAGES/``,
one file per domain (``web.po``, ``loyalty.po``, ...). Every ``.po`` found for a
language is read at start-up with ``babel.messages.pofile.read_po``, compiled in memory and
merged (in file-name order) into Babel's ``Translations``, so there is no compile step and
no ``.mo`` file to commit.

Digits. Babel formats numbers with the locale's separators but always writes ASCII
digits, so the dashboard converts them itself, per UI language:

* ``fa``: Persian (extended Arabic-Indic) digits ``۰-۹`` with ``٬``/``٫`` separators,
  as Iranian users read them everywhere (CLDR's ``fa`` default, ``arabext``).
* ``ar``: Arabic-Indic digits ``٠-٩`` with ``٬``/``٫`` separators (CLDR ``arab``), the
  convention of the Mashriq: the Gulf, Iraq, the Levant and Egypt, where a shop's
  receipts and price tags are written that way. CLDR's generic ``ar`` defaults to
  Latin digits, which the Maghreb uses; a Maghreb shop changes one entry in
  ``NUMBERING`` below.
* ``en``: ASCII digits.

Phone numbers, emails, SKUs and order numbers are identifiers, not quantities: they
keep ASCII digits and are isolated left-to-right (``<bdi dir="ltr">``) in templates.

Calendar. Dates are shown in the Jalali (Solar Hijri) calendar when the business
calendar is Jalali *or* the UI language is Persian (Persian readers expect Jalali
dates), with Persian month names; otherwise in the Gregorian calendar through
Babel. Instants are converted to the business's zone first.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import jdatetime
import phonenumbers
from babel import support
from babel.dates import (
    format_skeleton,
    format_time,
    format_timedelta,
    get_datetime_format,
)
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent

from wafa.core.calendars import local_date
from wafa.core.formats import JALALI_MONTHS_EN as JALALI_MONTHS_EN
from wafa.core.formats import JALALI_MONTHS_FA as JALALI_MONTHS_FA
from wafa.core.formats import NUMBERING as NUMBERING
from wafa.core.formats import RTL_LANGUAGES as RTL_LANGUAGES
from wafa.core.formats import DateContext as DateContext
from wafa.core.formats import format_day as format_day
from wafa.core.formats import month_names as month_names
from wafa.core.formats import native_digits as native_digits
from wafa.core.i18n import N_ as N_  # re-exported: the marker every template module uses
from wafa.core.money import minor_digits
from wafa.core.settings import CalendarKind
from wafa.core.time import ensure_utc, utcnow

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

# Language menu: code -> name written in that language.
LANGUAGES: dict[str, str] = {"en": "English", "ar": "العربية", "fa": "فارسی"}
DEFAULT_LANGUAGE = "en"


_LATIN_SYMBOL = re.compile(r"[A-Za-z][A-Za-z.$€£¥]*")


# --------------------------------------------------------------------------- catalogues


class Translations(support.Translations):
    """Babel's translations of one language (what Jinja's i18n extension expects), able to
    say whether a msgid is translated at all (``msgid in catalogue``)."""

    def __init__(self, language: str, fp: BinaryIO | None = None) -> None:
        super().__init__(fp=fp, domain=language)
        self.language = language

    def __contains__(self, msgid: object) -> bool:
        return msgid in self._catalog or (msgid, 0) in self._catalog

    def __len__(self) -> int:
        return len({k[0] if isinstance(k, tuple) else k for k in self._catalog if k})


def catalogue_files(language: str, locale_dir: Path = LOCALE_DIR) -> list[Path]:
    """Every ``.po`` file of ``language``, in the order they are merged."""
    return sorted((locale_dir / language / "LC_MESSAGES").glob("*.po"))


def load_translations(language: str, locale_dir: Path = LOCALE_DIR) -> Translations:
    """Read and merge every ``.po`` of ``language`` (later files win); fuzzy and empty
    entries are skipped.

    Each catalogue is compiled in memory (``babel.messages.mofile.write_mo``) into Babel's
    own ``Translations``, so there is no compile step and no ``.mo`` file to commit.
    """
    merged: Translations | None = None
    for path in catalogue_files(language, locale_dir):
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language, domain=path.stem)
        compiled = io.BytesIO()
        write_mo(compiled, catalog, use_fuzzy=False)
        compiled.seek(0)
        loaded = Translations(language, compiled)
        # The first catalogue brings the language's plural rule; merge() keeps it.
        merged = loaded if merged is None else merged.merge(loaded)
    return merged if merged is not None else Translations(language)


@lru_cache(maxsize=8)
def translations(language: str) -> Translations:
    """The (cached) merged translations of ``language``; English has none."""
    if language == DEFAULT_LANGUAGE:
        return Translations(language)
    return load_translations(language)


def gettext(language: str, message: str, **params: object) -> str:
    """Translate ``message`` into ``language`` and fill its ``%(name)s`` parameters."""
    text = translations(language).gettext(message)
    return text % params if params else text


def ngettext(language: str, singular: str, plural: str, n: int, **params: object) -> str:
    """The plural form for ``n``, with ``%(num)s`` and other parameters filled."""
    text = translations(language).ngettext(singular, plural, n)
    params.setdefault("num", format_number(n, language))
    return text % params


def normalize_language(value: str | None) -> str | None:
    """``value`` if it is a supported UI language (``fa-IR`` reads as ``fa``), else ``None``."""
    if not value:
        return None
    code = value.strip().replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else None


def text_direction(language: str) -> str:
    """``rtl`` for Arabic and Persian, ``ltr`` otherwise."""
    return "rtl" if language in RTL_LANGUAGES else "ltr"


# --------------------------------------------------------------------------- numbers


_NUMERAL = re.compile(r"#?\d+")


def native_numeral(text: str, language: str) -> str:
    """A plain number (``1043``, ``#1043``) in ``language``'s digits; any other text as it is.

    Order numbers of a shop's own till read in the reader's digits; a code that mixes
    letters and digits (``POS-7K2D``, ``SPRING10``) is an identifier and stays Latin.
    """
    return native_digits(text, language) if _NUMERAL.fullmatch(text) else text


def format_number(
    value: int | float | Decimal, language: str, *, decimals: int | None = None
) -> str:
    """A number with the language's separators and digits (``12٬345`` → ``۱۲٬۳۴۵`` in fa)."""
    fmt = None
    if decimals is not None:
        fmt = "#,##0" + ("." + "0" * decimals if decimals else "")
    text = format_decimal(value, format=fmt, locale=language, numbering_system=NUMBERING[language])
    return native_digits(str(text), language)


def format_ratio(value: float | None, language: str, *, decimals: int = 0) -> str:
    """A ratio (0.253) as a percentage in the language (``25%``, ``٪۲۵``)."""
    if value is None:
        return "—"
    fmt = "#,##0" + ("." + "0" * decimals if decimals else "") + "%"
    text = str(
        format_percent(value, format=fmt, locale=language, numbering_system=NUMBERING[language])
    )
    if language in RTL_LANGUAGES:
        text = text.replace("%", "٪")  # Babel keeps the Latin sign; both scripts write ٪
    return native_digits(text, language)


def format_amount(amount: int, currency: str, language: str) -> str:
    """Minor units as money in ``language`` (symbol placement, separators, digits).

    Same rule as ``wafa.core.money.format_money`` (Babel, exact decimals), with the
    numbering system chosen above for the UI language.
    """
    value = Decimal(amount).scaleb(-minor_digits(currency))
    text = str(
        format_currency(value, currency, locale=language, numbering_system=NUMBERING[language])
    )
    if language in RTL_LANGUAGES:
        # A Latin symbol ("US$") must stay one left-to-right run: without a mark after
        # it, the trailing "$" takes the paragraph's direction and shows as "$US".
        text = _LATIN_SYMBOL.sub("\\g<0>\u200e", text)
    return native_digits(text, language)


# --------------------------------------------------------------------------- dates


def format_clock(value: datetime | None, ctx: DateContext) -> str:
    """The time of day of an instant in the business's zone (``1:35 PM``, ``۱۳:۳۵``)."""
    if value is None:
        return "—"
    local = ensure_utc(value).astimezone(ctx.zone)
    return native_digits(
        str(format_time(local, "short", tzinfo=ctx.zone, locale=ctx.language)), ctx.language
    )


def format_moment(value: datetime | None, ctx: DateContext) -> str:
    """An instant as date and time in the business's zone (``1 فروردین 1405، 13:35``)."""
    if value is None:
        return "—"
    local = ensure_utc(value).astimezone(ctx.zone)
    day = format_day(local.date(), ctx)
    clock = format_clock(local, ctx)
    pattern = str(get_datetime_format("medium", locale=ctx.language)).replace("'", "")
    return pattern.replace("{1}", day).replace("{0}", clock)


def format_relative(
    value: datetime | date | None, ctx: DateContext, *, now: datetime | None = None
) -> str:
    """How long ago (or ahead) ``value`` is: ``3 days ago``, ``۳ روز پیش``."""
    if value is None:
        return "—"
    now = now or utcnow()
    if isinstance(value, datetime):
        delta: timedelta = ensure_utc(value) - now
    else:
        delta = timedelta(days=(value - local_date(now, ctx.zone)).days)
    text = format_timedelta(delta, add_direction=True, threshold=1.1, locale=ctx.language)
    return native_digits(str(text), ctx.language)


def format_month_day(
    day: int, month: int, year: int | None, kind: CalendarKind | str, language: str
) -> str:
    """A birthday as written in its own calendar: ``15 Mehr 1370``, ``۲۹ فوریه``."""
    name = month_names(kind, language)[month - 1]
    text = f"{day} {name}" + (f" {year}" if year else "")
    return native_digits(text, language)


def format_month(value: date, ctx: DateContext) -> str:
    """A month label in the display calendar (``Farvardin 1405``, ``Mar 2026``)."""
    if ctx.display_calendar is CalendarKind.jalali:
        j = jdatetime.date.fromgregorian(date=value)
        name = month_names(CalendarKind.jalali, ctx.language)[j.month - 1]
        return native_digits(f"{name} {j.year}", ctx.language)
    return native_digits(str(format_skeleton("yMMM", value, locale=ctx.language)), ctx.language)


# --------------------------------------------------------------------------- identifiers


def format_phone(e164: str | None) -> str:
    """An E.164 number in international format (``+98 912 345 6789``); ASCII digits."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


def initials(name: str | None) -> str:
    """Avatar letters: two Latin initials (``SW``), or the first letter of an Arabic-script name
    (joining letters apart, or taking "ال" as an initial, reads badly)."""
    words = (name or "").split()
    if not words:
        return ""
    if words[0][0].isascii():
        return "".join(w[0] for w in words[:2] if w[0].isalnum()).upper()
    return words[0][0]


# --------------------------------------------------------------------------- labels

# Enum values shown to people; templates use the ``label`` filter.
LABELS: dict[str, dict[str, str]] = {
    "status": {
        "placed": N_("Placed"),
        "paid": N_("Paid"),
        "fulfilled": N_("Fulfilled"),
        "delivered": N_("Delivered"),
        "cancelled": N_("Cancelled"),
        "partially_refunded": N_("Partially refunded"),
        "refunded": N_("Refunded"),
    },
    "channel": {
        "online": N_("Online"),
        "in_store": N_("In store"),
        "phone": N_("Phone"),
    },
    "role": {"owner": N_("Owner"), "manager": N_("Manager"), "cashier": N_("Cashier")},
    "gender": {"female": N_("Female"), "male": N_("Male"), "other": N_("Other")},
    "marital_status": {"single": N_("Single"), "married": N_("Married"), "other": N_("Other")},
    "calendar": {"gregorian": N_("Gregorian"), "jalali": N_("Jalali (Solar Hijri)")},
    "consent_channel": {"email": N_("Email"), "sms": N_("SMS")},
    "language": {"en": N_("English"), "ar": N_("Arabic"), "fa": N_("Persian")},
}


def label(kind: str, value: str | None, language: str) -> str:
    """The translated label of an enum value (the value itself when unknown)."""
    if value is None:
        return "—"
    msgid = LABELS.get(kind, {}).get(str(value))
    return gettext(language, msgid) if msgid else str(value)


def choices(kind: str, language: str) -> list[tuple[str, str]]:
    """``(value, translated label)`` pairs for a select box."""
    return [(value, gettext(language, msgid)) for value, msgid in LABELS[kind].items()]


def extract_labels() -> Iterable[str]:
    """Every label msgid (for the catalogue completeness test)."""
    for group in LABELS.values():
        yield from group.values()
