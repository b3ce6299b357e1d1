"""Dashboard forms: posted text read into the domains' schemas, refusals shown by their fields.

Every dashboard form uses the three parts of this module:

* **Reading.** ``FormReader`` reads typed values from posted text: whole numbers,
  amounts typed in major units (``12.50``), days typed as year-month-day in the
  calendar the user reads (Jalali for Persian), in any script's digits. A field left
  empty means "no value". Each problem is collected per field (the first one wins) and
  raised once, as ``Invalid`` whose locations are the form's field names.
* **Messages.** ``field_errors`` turns an ``Invalid`` (a service's refusal) or a
  ``ValidationError`` (a schema's) into ``{form field: message in the user's
  language}``. A message that is a translatable sentence (a msgid of the catalogues,
  such as the domains' rules raise) is shown translated; any other is replaced by the
  words for its kind of error.
* **Submitting.** ``submit`` runs a form's work. When the input is refused it rolls
  the request's transaction back — nothing half-written stays — and redraws the form
  with its errors (422, or the refusal's status). Routes never roll back themselves.

The rules themselves (what a reward needs, which dates may follow which) live in the
domains' schemas and services; a form only reads text and shows what they answer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from wafa.core.calendars import end_of_day, from_ymd, last_day, local_date, start_of_day, ymd
from wafa.core.errors import Invalid, Loc, WafaError
from wafa.core.money import minor_digits, parse_amount
from wafa.core.settings import CalendarKind, Settings
from wafa.core.text import ascii_number
from wafa.web import i18n
from wafa.web.i18n import N_
from wafa.web.templating import flash, request_language

# --------------------------------------------------------------------------- messages

REQUIRED = N_("This is required.")
WHOLE = N_("Enter a whole number.")
TOO_SMALL = N_("This number is too small.")
TOO_LARGE = N_("This number is too large.")
AMOUNT = N_("Enter an amount, like 12.50.")
AMOUNT_PLACES = N_("This amount has more decimal places than the currency has.")
DATE = N_("Enter a date as year-month-day.")
CHOICE = N_("Choose one of the options.")
TOO_LONG = N_("This is too long.")
NOT_EMPTY = N_("This cannot be empty.")
GENERIC = N_("This value is not valid.")
NO_IDENTITY = N_("Give at least a name, an email address or a phone number.")

# Fields whose every error means the same to the person typing.
FIELD_MESSAGES = {
    "email": N_("Enter a valid email address, like name@example.com."),
    "phone": N_(
        "Enter a valid phone number. Add the country code (like +98) if it is not a local number."
    ),
    "birthday": N_("This day does not exist in the chosen calendar."),
}
# Pydantic's kinds of error and the words for them (the longest matching prefix wins).
TYPE_MESSAGES = {
    "missing": REQUIRED,
    "string_too_short": NOT_EMPTY,
    "string_too_long": TOO_LONG,
    "string_pattern_mismatch": GENERIC,
    "int_parsing": WHOLE,
    "int_type": WHOLE,
    "greater_than_equal": TOO_SMALL,
    "greater_than": TOO_SMALL,
    "less_than_equal": TOO_LARGE,
    "less_than": TOO_LARGE,
    "enum": CHOICE,
    "literal_error": CHOICE,
    "uuid_parsing": CHOICE,
}
WHOLE_FORM = "__all__"

FieldFor = Callable[[Loc], str]


def is_sentence(message: str) -> bool:
    """Whether ``message`` is a sentence written for people (a msgid the catalogues translate).

    Every dashboard msgid is translated into Persian (a test checks it), so the
    Persian catalogue is the list of sentences the dashboard may show.
    """
    return message in i18n.translations("fa")


def _default_field(loc: Loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "form")]
    return parts[0] if parts else WHOLE_FORM


def _words(field: str, message: str, kind: str, language: str, whole_form: str) -> str:
    if message and is_sentence(message):
        return i18n.gettext(language, message)
    if field in FIELD_MESSAGES:
        return i18n.gettext(language, FIELD_MESSAGES[field])
    if field == WHOLE_FORM:
        return i18n.gettext(language, whole_form)
    best = max((p for p in TYPE_MESSAGES if kind.startswith(p)), key=len, default=None)
    return i18n.gettext(language, TYPE_MESSAGES[best] if best else GENERIC)


def field_errors(
    exc: Invalid | ValidationError,
    language: str,
    *,
    field_for: FieldFor | None = None,
    whole_form: str = GENERIC,
) -> dict[str, str]:
    """``{form field: message}`` for a refusal (the first message of a field wins).

    ``field_for`` maps an error's location to the form's field name (by default the
    location's first part); ``whole_form`` is said when the error names no field.
    """
    where = field_for or _default_field
    found: list[tuple[Loc, str, str]]
    if isinstance(exc, ValidationError):
        found = [
            (tuple(e.get("loc", ())), str(e.get("msg", "")), str(e.get("type", "")))
            for e in exc.errors()
        ]
    else:
        found = [(loc, msg, "") for loc, msg in exc.errors] or [((), exc.detail, "")]
    out: dict[str, str] = {}
    for loc, message, kind in found:
        field = where(loc) if loc else WHOLE_FORM
        out.setdefault(field, _words(field, message, kind, language, whole_form))
    return out


def validation_errors(exc: ValidationError, language: str) -> dict[str, str]:
    """A customer form's schema errors as ``{field: message}``."""
    return field_errors(exc, language, whole_form=NO_IDENTITY)


def invalid_errors(exc: Invalid, language: str) -> dict[str, str]:
    """A customer service's ``Invalid`` as ``{field: message}``."""
    return field_errors(exc, language, whole_form=NO_IDENTITY)


# --------------------------------------------------------------------------- submitting

Redraw = Callable[[dict[str, str], int], Response]


@dataclass(frozen=True)
class Refusal:
    """How a form shows a refusal that is not about its input (a ``Conflict`` and its kin).

    ``message`` is a msgid; ``params(exc)`` gives its ``%(name)s`` values, read after
    the rollback (numbers are written in the reader's digits).
    """

    error: type[WafaError]
    message: str
    field: str = WHOLE_FORM
    params: Callable[[Any], Mapping[str, object]] | None = None


def _fill(refusal: Refusal, exc: WafaError, language: str) -> str:
    raw = refusal.params(exc) if refusal.params else {}
    values = {
        k: i18n.format_number(v, language) if isinstance(v, int) else str(v) for k, v in raw.items()
    }
    return i18n.gettext(language, refusal.message, **values)


def submit(
    request: Request,
    session: Session,
    work: Callable[[], Response],
    *,
    redraw: Redraw,
    field_for: FieldFor | None = None,
    refusals: Sequence[Refusal] = (),
) -> Response:
    """Run a form's ``work`` (read, call the service, answer); redraw the form if refused.

    ``Invalid`` and ``ValidationError`` become field messages with status 422; an
    error of a ``refusals`` kind becomes its message with its own status. In both
    cases the request's transaction is rolled back first, so nothing of the refused
    attempt is kept, and ``redraw(errors, status)`` answers from a clean session.
    """
    language = request_language(request)
    try:
        return work()
    except (Invalid, ValidationError) as exc:
        session.rollback()
        return redraw(field_errors(exc, language, field_for=field_for), 422)
    except WafaError as exc:
        refusal = next((r for r in refusals if isinstance(exc, r.error)), None)
        if refusal is None:
            raise
        session.rollback()
        return redraw({refusal.field: _fill(refusal, exc, language)}, exc.status)


def back_with_message(request: Request, path: str) -> Redraw:
    """A ``redraw`` for a button (no form to draw again): say why on the next page."""
    from wafa.web.auth import see_other  # auth's routes use this module's readers

    def answer(errors: dict[str, str], status: int) -> Response:
        message = errors.get(WHOLE_FORM) or next(iter(errors.values()), "")
        # Already in the reader's language: flash translates a msgid, and leaves this as it is.
        flash(request, message, kind="error")
        return see_other(path)

    return answer


# --------------------------------------------------------------------------- reading


async def _form_data(request: Request) -> dict[str, str]:
    """The posted form as ``{name: text}`` (files ignored; the CSRF check read it already)."""
    data = await request.form()
    return {k: v for k, v in data.items() if isinstance(v, str)}


FormData = Annotated[dict[str, str], Depends(_form_data)]
"""A route's posted form fields, as text."""


def form_calendar(request: Request, settings: Settings) -> CalendarKind:
    """The calendar the user types and reads dates in (Jalali for Persian or a Jalali shop)."""
    ctx = i18n.DateContext(request_language(request), settings.zone, settings.calendar)
    return ctx.display_calendar


_DAY = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")


def text(form: Mapping[str, Any], name: str) -> str | None:
    """The stripped text of field ``name``, or ``None`` when empty or absent."""
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def number(form: Mapping[str, Any], name: str) -> int | str | None:
    """Field ``name`` as an int (Persian/Arabic digits accepted); text that is not a number
    is returned as is, for the schema to refuse with a message."""
    value = text(form, name)
    if value is None:
        return None
    digits = ascii_number(value)
    return int(digits) if digits.isdigit() else value


def tags(form: Mapping[str, Any], name: str = "tags") -> list[str]:
    """Comma-separated tags (Arabic and Persian commas too), without blanks or repeats."""
    return FormReader(form).words(name, max_length=10_000)


class FormReader:
    """Read typed values from posted form text, collecting one message per field."""

    def __init__(
        self,
        form: Mapping[str, Any],
        *,
        currency: str = "USD",
        calendar: CalendarKind = CalendarKind.gregorian,
        zone: ZoneInfo | None = None,
    ) -> None:
        self.form = form
        self.currency = currency
        self.calendar = calendar
        self.zone = zone or ZoneInfo("UTC")
        self.errors: dict[str, str] = {}

    def error(self, name: str, message: str) -> None:
        """Record ``message`` (a msgid) for field ``name``; the first message of a field wins."""
        self.errors.setdefault(name, message)

    def raw(self, name: str) -> str:
        """The stripped text of ``name`` ("" when absent)."""
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else ""

    def text(self, name: str, *, required: bool = False, max_length: int = 200) -> str | None:
        """Text, or ``None`` when empty."""
        value = self.raw(name)
        if not value:
            if required:
                self.error(name, REQUIRED)
            return None
        if len(value) > max_length:
            self.error(name, TOO_LONG)
            return None
        return value

    def flag(self, name: str) -> bool:
        """A checkbox: ticked when present with any value but ``false``/``0``."""
        return self.raw(name).lower() not in ("", "false", "0", "no", "off")

    def integer(
        self,
        name: str,
        *,
        required: bool = False,
        minimum: int | None = 0,
        maximum: int | None = 10**9,
        default: int | None = None,
    ) -> int | None:
        """A whole number (sign and digits in any script)."""
        value = ascii_number(self.raw(name)).replace(",", "").replace(" ", "")
        if not value:
            if required:
                self.error(name, REQUIRED)
            return default
        body = value[1:] if value[:1] in "+-" else value
        if not body.isdigit():
            self.error(name, WHOLE)
            return default
        found = int(value)
        if minimum is not None and found < minimum:
            self.error(name, TOO_SMALL)
        elif maximum is not None and found > maximum:
            self.error(name, TOO_LARGE)
        return found

    def money(self, name: str, *, required: bool = False, default: int | None = None) -> int | None:
        """An amount in major units (``12.50``) as minor units, exactly; never negative."""
        value = ascii_number(self.raw(name)).replace(" ", "")
        if not value:
            if required:
                self.error(name, REQUIRED)
            return default
        if value.count(",") and not value.count("."):
            value = value.replace(",", "")
        try:
            amount = parse_amount(value, self.currency)
        except ValueError as exc:
            self.error(name, AMOUNT_PLACES if "decimal places" in str(exc) else AMOUNT)
            return default
        if amount < 0:
            self.error(name, TOO_SMALL)
            return default
        if amount > 10**15:
            self.error(name, TOO_LARGE)
            return default
        return amount

    def decimal(self, name: str, *, required: bool = False) -> Decimal | None:
        """A plain decimal number (``1.25``)."""
        value = ascii_number(self.raw(name)).replace(" ", "").replace(",", "")
        if not value:
            if required:
                self.error(name, REQUIRED)
            return None
        try:
            found = Decimal(value)
        except InvalidOperation:
            self.error(name, GENERIC)
            return None
        if not found.is_finite():
            self.error(name, GENERIC)
            return None
        return found

    def choice(self, name: str, options: Iterable[str]) -> str | None:
        """One of ``options``, or ``None`` when empty."""
        value = self.raw(name)
        if not value:
            return None
        if value not in set(options):
            self.error(name, CHOICE)
            return None
        return value

    def clock(self, name: str, message: str) -> time | None:
        """A time of day typed as hours:minutes (digits in any script), or ``None`` with
        ``message`` (the page's own example of the form) when it is not one."""
        raw = ascii_number(self.raw(name))
        try:
            hours, minutes = raw.split(":")
            return time(int(hours), int(minutes))
        except ValueError:
            self.error(name, message)
            return None

    def day(self, name: str) -> date | None:
        """A day typed as year-month-day in the reader's calendar."""
        value = ascii_number(self.raw(name)).replace(" ", "")
        if not value:
            return None
        found = _DAY.match(value)
        if not found:
            self.error(name, DATE)
            return None
        y, m, d = (int(g) for g in found.groups())
        try:
            return from_ymd(y, m, d, self.calendar)
        except ValueError:
            self.error(name, DATE)
            return None

    def start(self, name: str) -> datetime | None:
        """The first instant of the typed day, in the business's zone."""
        day = self.day(name)
        return start_of_day(day, self.zone) if day is not None else None

    def until(self, name: str) -> datetime | None:
        """ "Valid until" the typed (last, inclusive) day: the end of that local day."""
        day = self.day(name)
        return end_of_day(day, self.zone) if day is not None else None

    def words(self, name: str, *, max_length: int = 120) -> list[str]:
        """Comma-separated words (Arabic and Persian commas too), without blanks or repeats."""
        raw = self.raw(name).replace("،", ",").replace("؛", ",").replace("\n", ",")
        seen: dict[str, None] = {}
        for part in raw.split(","):
            word = part.strip()
            if word:
                if len(word) > max_length:
                    self.error(name, TOO_LONG)
                    continue
                seen.setdefault(word, None)
        return list(seen)

    def reference(self, name: str) -> uuid.UUID | None:
        """A UUID picked in a select box, or ``None``."""
        value = self.raw(name)
        if not value:
            return None
        try:
            return uuid.UUID(value)
        except ValueError:
            self.error(name, CHOICE)
            return None

    def check(self) -> None:
        """Raise the collected problems, if any."""
        if self.errors:
            raise Invalid(
                "some fields are not valid", [((name,), msg) for name, msg in self.errors.items()]
            )


# --------------------------------------------------------------------------- writing back


def plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros (``1.50`` → ``1.5``)."""
    return format(value.normalize(), "f")


def amount_text(amount: int | None, currency: str) -> str:
    """Minor units as the plain decimal a form shows (``1250`` → ``12.50``)."""
    if amount is None:
        return ""
    digits = minor_digits(currency)
    return f"{Decimal(amount).scaleb(-digits):.{digits}f}"


def day_text(value: datetime | date | None, *, calendar: CalendarKind, zone: ZoneInfo) -> str:
    """A day as a form shows it: ``2026-04-30``, or ``1405/02/10`` in Jalali."""
    if value is None:
        return ""
    day = local_date(value, zone) if isinstance(value, datetime) else value
    y, m, d = ymd(day, calendar)
    sep = "/" if calendar is CalendarKind.jalali else "-"
    return f"{y:04d}{sep}{m:02d}{sep}{d:02d}"


def until_text(value: datetime | None, *, calendar: CalendarKind, zone: ZoneInfo) -> str:
    """The last day a "valid until" instant covers, as a form shows it."""
    if value is None:
        return ""
    return day_text(last_day(value, zone), calendar=calendar, zone=zone)
