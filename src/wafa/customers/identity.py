"""Normalising the ways people are known: email, phone, and names for search.

Names typed in Arabic and Persian vary in letter forms (Arabic ي versus Persian ی,
ك versus ک, optional diacritics); search folds them so a cashier finds "علی" however
it was typed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

_FOLD = str.maketrans(
    {
        "ي": "ی",
        "ى": "ی",
        "ئ": "ی",
        "ك": "ک",
        "ة": "ه",
        "ۀ": "ه",
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ؤ": "و",
        "ـ": None,  # tatweel
        "\u200c": " ",  # zero-width non-joiner, common in Persian names
    }
)
_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_MARKS = re.compile(r"[\u064B-\u065F\u0670\u06D6-\u06ED]")
_SPACES = re.compile(r"\s+")


def ascii_digits(text: str) -> str:
    """Replace Persian and Arabic-Indic digits with ASCII ones."""
    return text.translate(_DIGITS)


def search_key(text: str | None) -> str | None:
    """Fold ``text`` for search: case, Arabic/Persian letter forms, diacritics, digits, spaces."""
    if text is None:
        return None
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)
    folded = _MARKS.sub("", ascii_digits(folded))
    return _SPACES.sub(" ", folded).strip() or None


class ContactError(ValueError):
    """A contact detail could not be read; the message says why."""


@lru_cache(maxsize=65536)
def normalize_email(raw: str, *, public: bool = True) -> str:
    """Return the canonical (lower-case, IDNA-decoded) form of an email address.

    ``public=False`` (staff logins) also accepts addresses that need not be deliverable
    on the internet, such as ``owner@shop.test``; customer addresses must be public.
    """
    text = raw.strip()
    try:
        result = validate_email(
            text,
            check_deliverability=False,
            allow_smtputf8=True,
            globally_deliverable=public,
            test_environment=not public,
        )
    except EmailNotValidError as exc:
        raise ContactError(f"{raw!r} is not a valid email address: {exc}") from None
    return str(result.normalized).lower()


@lru_cache(maxsize=65536)
def normalize_phone(raw: str, region: str) -> str:
    """Return ``raw`` as E.164 (``+4915123456789``), reading local numbers in ``region``."""
    text = ascii_digits(raw.strip())
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        raise ContactError(f"{raw!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_possible_number(number):
        raise ContactError(f"{raw!r} is not a possible phone number for region {region}")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def optional_email(raw: str | None) -> str | None:
    """``normalize_email`` for optional input; blank means absent."""
    return normalize_email(raw) if raw and raw.strip() else None


def optional_phone(raw: str | None, region: str) -> str | None:
    """``normalize_phone`` for optional input; blank means absent."""
    return normalize_phone(raw, region) if raw and raw.strip() else None
