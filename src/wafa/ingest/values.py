"""The money, time and word rules of the shop formats, for one cell at a time.

One implementation per rule, shared by every format and by the webhooks' JSON:

* **money**: a decimal in major units (``12.50``), with ``.`` as the decimal point; a
  ``,`` groups thousands only when the amount has a decimal point (``1,000.50``); no
  minus sign (refunds are given as refunds); no more decimal places than the currency
  has (trailing zeros aside: ``12.500`` is 12.50 USD); at most ``core.money.MAX_AMOUNT``
  minor units. The result is integer minor units of the order's currency.
* **time**: ISO 8601 (``2025-10-07T09:50:26+02:00``, ``2025-10-07 09:50``, a bare date),
  Shopify's ``2025-10-07 09:50:26 +0200`` and a trailing `` UTC``/`` GMT``. A time
  without an offset is local time in the business's timezone. Years FIRST_YEAR to
  LAST_YEAR only, before and after the move to UTC.
* **quantities**: whole numbers from 0 to MAX_QUANTITY (``2.0`` is 2).
* **yes/no**: Shopify's ``yes``/``no``, WooCommerce's ``1``/``0``, ``true``/``false`` and
  the consent states of the shops' JSON (``subscribed``, ``not_subscribed``...).

Every reader raises ``CellProblem(column, reason)`` with a reason a shop owner can act
on; the importer turns it into ``line N, column C: reason``. ``wafa analyze`` applies
the same rules in SQL (``analytics.reading``); tests hold the two to the same samples.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from wafa.core.money import MAX_AMOUNT, is_currency, minor_digits, parse_amount


class CellProblem(ValueError):
    """One cell cannot be read: the column (as the reader names it) and why."""

    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


#: Instants are accepted from the first day of FIRST_YEAR to the last of LAST_YEAR (UTC).
FIRST_YEAR, LAST_YEAR = 1970, 2100
#: The most items one line may hold.
MAX_QUANTITY = 1_000_000
_PLAIN_AMOUNT = re.compile(r"(\d{1,15})(?:\.(\d{1,6}))?")
_TRUE = frozenset({"yes", "true", "1", "y", "subscribed", "opted_in", "confirmed"})
_FALSE = frozenset({"no", "false", "0", "n", "", "not_subscribed", "unsubscribed", "pending"})


_AMOUNTS: dict[tuple[str, str], int] = {}


def amount(text: str, column: str, currency: str, *, allow_blank: bool = True) -> int:
    """A non-negative amount in major units (``12.50``) as minor units; blank is 0."""
    # Exports repeat the same few prices and "0.00" endlessly: remember recent answers.
    cached = _AMOUNTS.get((text, currency))
    if cached is not None:
        return cached
    value = _amount(text, column, currency, allow_blank)
    if value > MAX_AMOUNT:
        raise CellProblem(column, f"{text.strip()!r} is larger than {too_large(currency)}")
    if text:
        if len(_AMOUNTS) >= 20_000:
            _AMOUNTS.clear()
        _AMOUNTS[(text, currency)] = value
    return value


def _amount(text: str, column: str, currency: str, allow_blank: bool) -> int:
    text = text.strip()
    if not text:
        if allow_blank:
            return 0
        raise CellProblem(column, "an amount is required")
    digits = _digits(currency)
    match = _PLAIN_AMOUNT.fullmatch(text)
    if match is not None:
        whole, frac = match.group(1), match.group(2) or ""
        scale = int(10**digits)
        if len(frac) <= digits:
            return int(whole) * scale + (int(frac.ljust(digits, "0")) if digits else 0)
        if frac.rstrip("0") and len(frac.rstrip("0")) > digits:
            raise CellProblem(
                column, f"{text!r} has more than {digits} decimal places for {currency}"
            )
        return int(whole) * scale + (int(frac[:digits]) if digits else 0)
    if text.startswith("-"):
        raise CellProblem(column, f"{text!r} is negative")
    try:
        value = parse_amount(text, currency)
    except ValueError:
        raise CellProblem(column, f"{text!r} is not an amount") from None
    if value < 0:
        raise CellProblem(column, f"{text!r} is negative")
    return value


def too_large(currency: str) -> str:
    """The bound on amounts, in words: ``the largest amount Wafa stores (10,000,000,000,000 USD)``."""
    digits = _digits(currency)
    return f"the largest amount Wafa stores ({MAX_AMOUNT // 10**digits:,} {currency})"


@lru_cache(maxsize=256)
def _digits(currency: str) -> int:
    return minor_digits(currency)


def quantity(text: str, column: str) -> int:
    """A whole number of items, zero or more."""
    text = text.strip()
    try:
        value = int(text)
    except ValueError:
        if text.startswith("-"):
            raise CellProblem(column, f"quantity {text!r} is negative") from None
        try:
            as_float = float(text)
        except ValueError:
            raise CellProblem(column, f"quantity {text!r} is not a whole number") from None
        if not as_float.is_integer():
            raise CellProblem(column, f"quantity {text!r} is not a whole number") from None
        value = int(as_float)
    if value < 0:
        raise CellProblem(column, f"quantity {text!r} is negative")
    if value > MAX_QUANTITY:
        raise CellProblem(column, f"quantity {text!r} is implausibly large")
    return value


def currency_code(text: str, column: str) -> str:
    """An ISO 4217 code, upper-cased."""
    code = text.strip().upper()
    if not is_currency(code):
        raise CellProblem(column, f"{text!r} is not an ISO 4217 currency code")
    return code


def yes_no(text: str, column: str) -> bool:
    """Shopify's ``yes``/``no``, WooCommerce's ``1``/``0``, ``true``/``false``."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise CellProblem(column, f"{text!r} is not yes or no")


def optional_yes_no(text: str, column: str) -> bool | None:
    """``yes_no``, with a blank cell meaning "not said"."""
    return None if not text.strip() else yes_no(text, column)


class InstantReader:
    """Read timestamps as aware datetimes.

    Accepted: ISO 8601 (``2025-10-07T09:50:26+02:00``), Shopify's
    ``2025-10-07 09:50:26 +0200``, ``2025-10-07 09:50`` and a bare date. A time without
    an offset is read in the business's timezone (WooCommerce exports local times).
    """

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._cache: dict[str, datetime] = {}

    def __call__(self, text: str, column: str) -> datetime:
        text = text.strip()
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        if not text:
            raise CellProblem(column, "a date and time is required")
        candidate = text
        # "2025-10-07 09:50:26 +0200" -> "2025-10-07 09:50:26+0200"
        if len(candidate) > 20 and candidate[-6] == " " and candidate[-5] in "+-":
            candidate = candidate[:-6] + candidate[-5:]
        elif candidate.endswith((" UTC", " GMT")):
            candidate = candidate[:-4] + "+00:00"
        try:
            value = datetime.fromisoformat(candidate)
        except ValueError:
            raise CellProblem(
                column, f"{text!r} is not a date and time (expected e.g. 2025-10-07 09:50:26 +0200)"
            ) from None
        # Checked before converting: year 1 or 9999 may not survive the move to UTC.
        if not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise CellProblem(column, f"{text!r} is outside {FIRST_YEAR}-{LAST_YEAR}")
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.zone)
        value = value.astimezone(UTC)
        if not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise CellProblem(column, f"{text!r} is outside {FIRST_YEAR}-{LAST_YEAR}")
        if len(self._cache) > 20_000:
            self._cache.clear()
        self._cache[text] = value
        return value

    def optional(self, text: str, column: str) -> datetime | None:
        """The instant, or ``None`` for a blank cell."""
        return self(text, column) if text.strip() else None
