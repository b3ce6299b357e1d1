"""Normalised orders: what every format turns its rows into, and what the writer stores.

Money is integer minor units in the order's currency; instants are aware datetimes.
The demo store builds these directly, so it goes through the same writer as imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wafa.customers.service import Contact


@dataclass(slots=True)
class LineRecord:
    """One order line; ``total`` is ``quantity * unit_price - discount``."""

    name: str
    quantity: int
    unit_price: int
    sku: str | None = None
    discount: int = 0
    category: str | None = None

    @property
    def total(self) -> int:
        """The line's amount after its discount."""
        return self.quantity * self.unit_price - self.discount


@dataclass(slots=True)
class RefundRecord:
    """A refund found in the export; ``external_id`` is stable so a re-import adds nothing.

    ``lines`` optionally names which lines it returned: ``(line index, quantity)``.
    """

    external_id: str
    amount: int
    refunded_at: datetime
    reason: str | None = None
    lines: list[tuple[int, int]] = field(default_factory=list)


@dataclass(slots=True)
class OrderRecord:
    """One order, ready to store. ``total`` defaults to lines - discount + shipping + tax."""

    external_id: str
    placed_at: datetime
    currency: str
    lines: list[LineRecord]
    channel: str = "online"
    status: str = "placed"
    number: str | None = None
    contact: Contact = field(default_factory=Contact)
    discount: int = 0
    shipping: int = 0
    tax: int = 0
    total: int | None = None
    subtotal: int | None = None
    paid_at: datetime | None = None
    fulfilled_at: datetime | None = None
    delivered_at: datetime | None = None
    promised_at: datetime | None = None
    cancelled_at: datetime | None = None
    location: str | None = None
    shipping_address: str | None = None
    coupon_codes: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    refunds: list[RefundRecord] = field(default_factory=list)
    # The physical line where the order starts in its file (0 when not from a file).
    line: int = 0

    def lines_subtotal(self) -> int:
        """Sum of the line totals."""
        return sum(line.total for line in self.lines)

    def final_total(self) -> int:
        """The total as given, or computed from the lines."""
        if self.total is not None:
            return self.total
        return self.lines_subtotal() - self.discount + self.shipping + self.tax


# Positions in a packed order (``pack``), which the bulk writer reads directly.
(
    P_EXTERNAL_ID, P_PLACED_AT, P_CURRENCY, P_LINES, P_CHANNEL, P_STATUS, P_NUMBER, P_CONTACT,
    P_DISCOUNT, P_SHIPPING, P_TAX, P_TOTAL, P_SUBTOTAL, P_PAID_AT, P_FULFILLED_AT,
    P_DELIVERED_AT, P_PROMISED_AT, P_CANCELLED_AT, P_LOCATION, P_SHIPPING_ADDRESS, P_COUPONS,
    P_ATTRIBUTES, P_REFUNDS, P_LINE,
) = range(24)  # fmt: skip
# Positions in a packed contact, a packed line and a packed refund.
C_EMAIL, C_PHONE, C_NAME, C_EXT_SOURCE, C_EXT_ID, C_CITY, C_ADDRESS, C_EMAIL_OPT, C_SMS_OPT = range(
    9
)
L_NAME, L_QUANTITY, L_UNIT_PRICE, L_SKU, L_DISCOUNT, L_CATEGORY = range(6)
R_EXTERNAL_ID, R_AMOUNT, R_REFUNDED_AT, R_REASON, R_LINES = range(5)
Packed = tuple[Any, ...]


def pack(record: OrderRecord) -> tuple[Any, ...]:
    """``record`` as nested tuples: several times cheaper to pickle than the dataclasses."""
    c = record.contact
    return (
        record.external_id, record.placed_at, record.currency,
        [(ln.name, ln.quantity, ln.unit_price, ln.sku, ln.discount, ln.category) for ln in record.lines],
        record.channel, record.status, record.number,
        (c.email, c.phone, c.name, c.external_source, c.external_id, c.city, c.address,
         c.email_opt_in, c.sms_opt_in, c.consent_source, c.seen_at, c.language),
        record.discount, record.shipping, record.tax, record.total, record.subtotal,
        record.paid_at, record.fulfilled_at, record.delivered_at, record.promised_at,
        record.cancelled_at, record.location, record.shipping_address, record.coupon_codes,
        record.attributes,
        [(f.external_id, f.amount, f.refunded_at, f.reason, f.lines) for f in record.refunds],
        record.line,
    )  # fmt: skip


def unpack(row: tuple[Any, ...]) -> OrderRecord:
    """The inverse of ``pack``."""
    return OrderRecord(
        row[0], row[1], row[2], [LineRecord(*ln) for ln in row[3]], row[4], row[5], row[6],
        Contact(*row[7]), row[8], row[9], row[10], row[11], row[12], row[13], row[14], row[15],
        row[16], row[17], row[18], row[19], row[20], row[21],
        [RefundRecord(*f) for f in row[22]], row[23],
    )  # fmt: skip
