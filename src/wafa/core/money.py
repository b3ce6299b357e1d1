"""Money is an integer of minor units plus an ISO 4217 code; floats never touch it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import format_currency, get_currency_precision, list_currencies

#: The largest amount Wafa stores, in minor units (10^15: ten trillion in a currency with
#: cents). An order's total, a line's total and every amount read from outside stay
#: within it, so sums of many of them still fit the database's 64-bit integers.
MAX_AMOUNT = 10**15


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined."""


@lru_cache(maxsize=512)
def minor_digits(currency: str) -> int:
    """Number of minor-unit digits of ``currency`` (2 for EUR, 0 for JPY, 3 for KWD)."""
    return int(get_currency_precision(currency))


@lru_cache(maxsize=1)
def known_currencies() -> frozenset[str]:
    """Every ISO 4217 code Babel knows."""
    return frozenset(list_currencies())


def is_currency(code: str) -> bool:
    """Whether ``code`` is a known ISO 4217 currency code (upper case)."""
    return code in known_currencies()


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units of one currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError(f"Money.amount must be int minor units, got {self.amount!r}")
        if not is_currency(self.currency):
            raise ValueError(f"unknown currency {self.currency!r}")

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def to_decimal(self) -> Decimal:
        """The amount in major units, exact."""
        return Decimal(self.amount).scaleb(-minor_digits(self.currency))


def parse_amount(text: str, currency: str) -> int:
    """Read a decimal amount in major units (``"12.50"``) as minor units, exactly.

    More decimal places than the currency has are refused rather than rounded away.
    """
    cleaned = text.strip().replace(",", "") if text.count(".") == 1 else text.strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not an amount")
    digits = minor_digits(currency)
    scaled = value.scaleb(digits)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{text!r} has more than {digits} decimal places for {currency}")
    return int(scaled)


def apply_rate_bp(amount: int, rate_bp: int) -> int:
    """``amount * rate / 10_000`` rounded toward zero: the one rounding rule for rates."""
    product = amount * rate_bp
    return product // 10_000 if product >= 0 else -((-product) // 10_000)


def prorate(total: int, part: int, whole: int) -> int:
    """``total * part / whole`` rounded half-even, for splitting an amount by weights."""
    if whole == 0:
        return 0
    return int((Decimal(total) * part / whole).to_integral_value(ROUND_HALF_EVEN))


def format_money(amount: int, currency: str, locale: str) -> str:
    """Format minor units for display in ``locale`` (digits and symbol as the locale writes them)."""
    value = Decimal(amount).scaleb(-minor_digits(currency))
    return str(format_currency(value, currency, locale=locale, numbering_system="default"))
