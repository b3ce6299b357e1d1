"""Reading HTML forms into the domain's pydantic schemas, and their errors into field messages.

A form field left empty means "no value" (``None``). Validation errors — from
pydantic or from a service's ``Invalid`` — become ``{field: translated message}`` for
the template, so the page shows each message next to its field, in the user's language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from wafa.core.errors import Invalid
from wafa.core.text import ascii_digits
from wafa.web import i18n
from wafa.web.i18n import N_

FIELD_MESSAGES = {
    "email": N_("Enter a valid email address, like name@example.com."),
    "phone": N_(
        "Enter a valid phone number. Add the country code (like +98) if it is not a local number."
    ),
    "birthday": N_("This day does not exist in the chosen calendar."),
}
TYPE_MESSAGES = {
    "string_too_long": N_("This is too long."),
    "string_too_short": N_("This cannot be empty."),
    "missing": N_("This is required."),
    "int_parsing": N_("Enter a whole number."),
    "greater_than_equal": N_("This number is too small."),
    "less_than_equal": N_("This number is too large."),
    "enum": N_("Choose one of the options."),
}
GENERIC = N_("This value is not valid.")
NO_IDENTITY = N_("Give at least a name, an email address or a phone number.")


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
    digits = ascii_digits(value)
    return int(digits) if digits.isdigit() else value


def tags(form: Mapping[str, Any], name: str = "tags") -> list[str]:
    """Comma-separated tags (Arabic and Persian commas too), without blanks or repeats."""
    raw = text(form, name) or ""
    parts = raw.replace("،", ",").replace("؛", ",").split(",")
    seen: dict[str, None] = {}
    for part in parts:
        tag = part.strip()
        if tag:
            seen.setdefault(tag, None)
    return list(seen)


def _field(loc: Iterable[str | int]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "form")]
    return parts[0] if parts else "__all__"


def _message(field: str, kind: str | None, language: str) -> str:
    if field == "__all__":
        return i18n.gettext(language, NO_IDENTITY)
    if field in FIELD_MESSAGES:
        return i18n.gettext(language, FIELD_MESSAGES[field])
    if kind:
        for prefix, msgid in TYPE_MESSAGES.items():
            if kind.startswith(prefix):
                return i18n.gettext(language, msgid)
    return i18n.gettext(language, GENERIC)


def validation_errors(exc: ValidationError, language: str) -> dict[str, str]:
    """Pydantic errors as ``{field: message}`` (first message per field)."""
    out: dict[str, str] = {}
    for error in exc.errors():
        field = _field(error.get("loc", ()))
        out.setdefault(field, _message(field, str(error.get("type", "")), language))
    return out


def invalid_errors(exc: Invalid, language: str) -> dict[str, str]:
    """A service's ``Invalid`` as ``{field: message}``."""
    out: dict[str, str] = {}
    for loc, _msg in exc.errors or [((), exc.detail)]:
        field = _field(loc)
        out.setdefault(field, _message(field, None, language))
    return out
