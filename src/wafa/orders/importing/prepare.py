"""Orders made ready for the bulk writer before the database is involved.

``prepare`` turns an ``OrderRecord`` into a ``Prepared`` order: plain tuples of the
values the writer stores, in the database's own form (instants as text, JSON as text,
line totals, the refunded amount and the resulting status worked out). Only what
depends on the database is left to the writer: ids, the customer (matching), the
product of each sku, the location, and whether the order is stored already.

The validating pass prepares orders as it reads them, in a worker process when the
file is big, so that the writer, in the main process, only joins ids to these tuples
and hands them to ``executemany`` (SQLite) or ``COPY`` (PostgreSQL). Prepared orders
are tuples of strings, integers, booleans and ``None`` (``marshal`` can write them,
and reads them back several times faster than ``pickle`` reads dataclasses and
datetimes) on their way from one process to the other.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from wafa.core.money import prorate
from wafa.customers.service import Contact
from wafa.orders.importing.records import OrderRecord

Dialect = Literal["sqlite", "postgresql"]

# Columns of the rows the writer inserts: the writer supplies the head, ``prepare`` the tail.
ORDER_HEAD = ("id", "location_id", "customer_id", "created_at")
ORDER_TAIL = (
    "source", "external_id", "number", "channel", "status", "currency", "subtotal_amount",
    "discount_amount", "shipping_amount", "tax_amount", "total_amount", "refunded_amount",
    "contact_email", "contact_phone", "contact_name", "shipping_address", "coupon_codes",
    "placed_at", "paid_at", "fulfilled_at", "delivered_at", "promised_at", "cancelled_at",
    "attributes",
)  # fmt: skip
LINE_HEAD = ("id", "order_id", "product_id", "category")
LINE_TAIL = (
    "line_no", "sku", "name", "quantity", "unit_price_amount", "discount_amount",
    "total_amount", "refunded_quantity",
)  # fmt: skip
T_STATUS = ORDER_TAIL.index("status")
T_CANCELLED_AT = ORDER_TAIL.index("cancelled_at")
LT_NAME = LINE_TAIL.index("name")
LT_UNIT_PRICE = LINE_TAIL.index("unit_price_amount")

# Positions in a prepared order.
(
    KEY,  # the order's external id
    LINE,  # the physical line where it starts in its file (0 when not from a file)
    CONTACT,  # the packed contact (``pack_contact``), or None for a guest
    LOCATION,  # the location code or name as given, or None
    CURRENCY,
    ORDER,  # the order row's values in ``ORDER_TAIL`` order
    LINES,  # [(sku, category or None, values in LINE_TAIL order)]
    REFUNDS,  # [(external id, amount, refunded_at (db), reason, [(line index, qty, amount)])]
    PLACED,  # the ``order.placed`` JSON after its customer_id
    REFUNDED,  # the refunded amount (capped at the total)
    TOTAL,
) = range(11)
Prepared = tuple[Any, ...]

# Positions in a packed contact (the fields of ``customers.service.Contact`` but ``extra``).
(
    C_EMAIL, C_PHONE, C_NAME, C_EXT_SOURCE, C_EXT_ID, C_CITY, C_ADDRESS, C_EMAIL_OPT, C_SMS_OPT,
    C_CONSENT_SOURCE, C_SEEN_AT, C_LANGUAGE,
) = range(12)  # fmt: skip
# Positions in a prepared refund and in its lines.
R_EXTERNAL_ID, R_AMOUNT, R_REFUNDED_AT, R_REASON, R_LINES = range(5)


def _json_default(value: Any) -> Any:
    """UUIDs and instants as ``outbox.emit`` writes them."""
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "hex") and type(value).__name__ == "UUID":
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


dumps = json.JSONEncoder(default=_json_default).encode


def json_text(value: Any) -> str:
    """A JSON column's text (``[]``/``{}`` for empty values)."""
    if not value:
        return "[]" if isinstance(value, list) else "{}"
    return dumps(value)


class InstantText:
    """Aware instants as the database stores them (``core.db.UtcDateTime``).

    SQLite keeps naive UTC text (``2025-10-07 07:50:26.000000``), which is how
    SQLAlchemy writes ``UtcDateTime`` there; PostgreSQL reads the same text with its
    ``+00:00`` offset. An export repeats the same instants (created, paid, fulfilled),
    so recent answers are remembered (a bounded memory).
    """

    def __init__(self, dialect: Dialect) -> None:
        self.sqlite = dialect == "sqlite"
        self._cache: dict[datetime, str] = {}

    def __call__(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        found = self._cache.get(value)
        if found is not None:
            return found
        utc = value.astimezone(UTC)
        if self.sqlite:
            text = utc.replace(tzinfo=None).isoformat(" ", "microseconds")
        else:
            text = utc.isoformat(" ", "microseconds")
        if len(self._cache) >= 4096:
            self._cache.clear()
        self._cache[value] = text
        return text


def stored_instant(text: str | datetime) -> datetime:
    """An instant read back from ``InstantText`` or from the database, as aware UTC."""
    value = text if isinstance(text, datetime) else datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def pack_contact(record: OrderRecord) -> tuple[Any, ...] | None:
    """The order's contact as a tuple, or ``None`` for a guest (nothing to know them by).

    ``seen_at`` is kept as ISO text; ``unpack_contact`` makes it an instant again.
    """
    c = record.contact
    if not (c.email or c.phone or (c.external_source and c.external_id)):
        return None
    seen_at = c.seen_at.isoformat() if c.seen_at is not None else None
    return (
        c.email, c.phone, c.name, c.external_source, c.external_id, c.city, c.address,
        c.email_opt_in, c.sms_opt_in, c.consent_source, seen_at, c.language,
    )  # fmt: skip


def unpack_contact(packed: tuple[Any, ...]) -> Contact:
    """The ``customers.service.Contact`` of a packed contact."""
    seen_at = packed[C_SEEN_AT]
    return Contact(
        email=packed[C_EMAIL],
        phone=packed[C_PHONE],
        name=packed[C_NAME],
        external_source=packed[C_EXT_SOURCE],
        external_id=packed[C_EXT_ID],
        city=packed[C_CITY],
        address=packed[C_ADDRESS],
        email_opt_in=packed[C_EMAIL_OPT],
        sms_opt_in=packed[C_SMS_OPT],
        consent_source=packed[C_CONSENT_SOURCE],
        seen_at=datetime.fromisoformat(seen_at) if seen_at is not None else None,
        language=packed[C_LANGUAGE],
    )


class Preparer:
    """Prepares the orders of one source for one database (``sqlite``/``postgresql``)."""

    def __init__(self, *, source: str, dialect: Dialect, imported: bool = True) -> None:
        self.source = source
        self.instant = InstantText(dialect)
        self._imported = "true" if imported else "false"

    def __call__(self, record: OrderRecord) -> Prepared:
        """``record`` ready for the writer; see the module docstring."""
        t = self.instant
        lines = record.lines
        totals = [ln.quantity * ln.unit_price - ln.discount for ln in lines]
        lines_total = sum(totals)
        total = record.total
        if total is None:
            total = lines_total - record.discount + record.shipping + record.tax
        refunds = record.refunds
        refunded = min(sum(f.amount for f in refunds), total) if refunds else 0
        status = str(record.status)
        if refunded and status != "cancelled":
            status = "refunded" if refunded >= total else "partially_refunded"
        refunded_qty = [0] * len(lines)
        prepared_refunds = []
        left = total
        for refund in refunds:
            for index, qty in refund.lines:
                refunded_qty[index] += qty
            amount = min(refund.amount, left)
            if amount <= 0:
                continue
            left -= amount
            prepared_refunds.append(
                (
                    refund.external_id, amount, t(refund.refunded_at), refund.reason,
                    [
                        (index, qty, prorate(totals[index], qty, lines[index].quantity))
                        for index, qty in refund.lines
                    ],
                )
            )  # fmt: skip
        c = record.contact
        currency = record.currency
        channel = str(record.channel)
        placed_at = record.placed_at
        order = (
            self.source, record.external_id, record.number, channel, status, currency,
            record.subtotal if record.subtotal is not None else lines_total, record.discount,
            record.shipping, record.tax, total, refunded, c.email, c.phone, c.name,
            record.shipping_address, json_text(record.coupon_codes), t(placed_at),
            t(record.paid_at), t(record.fulfilled_at), t(record.delivered_at),
            t(record.promised_at), t(record.cancelled_at), json_text(record.attributes),
        )  # fmt: skip
        prepared_lines = [
            (
                ln.sku, ln.category,
                (no + 1, ln.sku, ln.name, ln.quantity, ln.unit_price, ln.discount, totals[no],
                 refunded_qty[no]),
            )
            for no, ln in enumerate(lines)
        ]  # fmt: skip
        # The tail of ``orders.service.order_placed_payload`` as JSON; channel and currency
        # are validated codes (``online``, ``USD``…), so they need no escaping.
        placed = (
            f'"channel": "{channel}", "currency": "{currency}", "total": {int(total)}, '
            f'"placed_at": "{placed_at.isoformat()}", "imported": {self._imported}}}'
        )
        return (
            record.external_id, record.line, pack_contact(record), record.location, currency,
            order, prepared_lines, prepared_refunds, placed, refunded, total,
        )  # fmt: skip
