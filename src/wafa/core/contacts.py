"""Normalising the ways people are known: email addresses and phone numbers.

Every domain that takes a contact detail (customers, orders, the importer, staff
logins, messaging) reads it through these functions, so one person has one stored form.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from wafa.core.text import ascii_digits


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
    if number.extension:
        # E.164 has no room for one: dropping it would store another number than given.
        raise ContactError(
            f"{raw!r} has an extension ({number.extension}); give the number without it"
        )
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def optional_email(raw: str | None) -> str | None:
    """``normalize_email`` for optional input; blank means absent."""
    return normalize_email(raw) if raw and raw.strip() else None


def optional_phone(raw: str | None, region: str) -> str | None:
    """``normalize_phone`` for optional input; blank means absent."""
    return normalize_phone(raw, region) if raw and raw.strip() else None
