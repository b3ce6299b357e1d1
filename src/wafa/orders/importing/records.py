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
    #: The shop's own reference of the order across routes (``OrderFormat.shop_reference``).
    shop_ref: str | None = None

    def lines_subtotal(self) -> int:
        """Sum of the line totals."""
        return sum(line.total for line in self.lines)

    def final_total(self) -> int:
        """The total as given, or computed from the lines."""
        if self.total is not None:
            return self.total
        return self.lines_subtotal() - self.discount + self.shipping + self.tax
