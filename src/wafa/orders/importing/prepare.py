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
import re
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from wafa.core.money import prorate
from wafa.core.time import ensure_utc
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
    "attributes", "shop_ref",
)  # fmt: skip
LINE_HEAD = ("id", "order_id", "product_id", "category")
LINE_TAIL = (
    "line_no", "sku", "name", "quantity", "unit_price_amount", "discount_amount",
    "total_amount", "refunded_quantity",
)  # fmt: skip

# Positions in a prepared order.
(
    KEY,  # the order's external id
    LINE,  # the physical line where it starts in its file (0 when not from a file)
    CONTACT,  # the packed contact (``pack_contact``), or None for a guest
    LOCATION,  # the location code or name as given, or None
    CURRENCY,
    ORDER,  # the order row's values in ``ORDER_TAIL`` order (PostgreSQL: COPY text)
    # [(sku, category or None, name, unit price, values in LINE_TAIL order (PostgreSQL: COPY text))]
    LINES,
    REFUNDS,  # [(external id, amount, refunded_at (db), reason, [(line index, qty, amount)])]
    PLACED,  # the ``order.placed`` JSON after its customer_id (PostgreSQL: COPY text)
    REFUNDED,  # the refunded amount (capped at the total)
    TOTAL,
    STATUS,  # the order's status as stored
    CANCELLED_AT,  # when it was cancelled (db), or None
    FINGERPRINT,  # (hash, checksum) of the contact's identity, or None for a guest
    CONSENT_KEY,  # hash of who gives the contact's consent
    SHOP_REF,  # the shop's own reference of the order (``Order.shop_ref``), or None
) = range(16)
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


_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_field(value: Any) -> str:
    """One value in PostgreSQL's ``COPY … FROM STDIN`` text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(value) else value
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def copy_row(values: Sequence[Any]) -> str:
    """Values as a ``COPY`` text row, without its line end."""
    return "\t".join([copy_field(v) for v in values])


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
        utc = ensure_utc(value)  # a naive value is refused, never guessed
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


def fingerprint(packed: tuple[Any, ...]) -> tuple[int, int]:
    """Two independent fingerprints of who a packed contact is (all but consent and time).

    The writer remembers resolved people by these, so that a collision of one
    fingerprint between two different people can never hand one the other's orders.
    """
    key = packed[:C_EMAIL_OPT]
    return hash(key), zlib.crc32("\x1f".join(map(str, key)).encode())


def consent_key(packed: tuple[Any, ...]) -> int:
    """Who gives a packed contact's consent: email, else phone, else external id."""
    return hash(packed[C_EMAIL] or packed[C_PHONE] or (packed[C_EXT_SOURCE], packed[C_EXT_ID]))


class Preparer:
    """Prepares the orders of one source for one database (``sqlite``/``postgresql``)."""

    def __init__(self, *, source: str, dialect: Dialect, imported: bool = True) -> None:
        self.source = source
        self.instant = InstantText(dialect)
        self._imported = "true" if imported else "false"
        # PostgreSQL's rows travel as COPY text, ready to be joined to the writer's ids.
        self._row: Any = copy_row if dialect == "postgresql" else tuple
        self._text: Any = copy_field if dialect == "postgresql" else str

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
        cancelled_at = t(record.cancelled_at)
        row = self._row
        order = row(
            (
                self.source, record.external_id, record.number, channel, status, currency,
                record.subtotal if record.subtotal is not None else lines_total,
                record.discount, record.shipping, record.tax, total, refunded, c.email,
                c.phone, c.name, record.shipping_address, json_text(record.coupon_codes),
                t(placed_at), t(record.paid_at), t(record.fulfilled_at), t(record.delivered_at),
                t(record.promised_at), cancelled_at, json_text(record.attributes),
                record.shop_ref,
            )
        )  # fmt: skip
        prepared_lines = [
            (
                ln.sku, ln.category, ln.name, ln.unit_price,
                row((no + 1, ln.sku, ln.name, ln.quantity, ln.unit_price, ln.discount,
                     totals[no], refunded_qty[no])),
            )
            for no, ln in enumerate(lines)
        ]  # fmt: skip
        # The tail of ``orders.events.OrderPlaced`` as JSON; channel and currency
        # are validated codes (``online``, ``USD``…), so they need no JSON escaping.
        placed = self._text(
            f'"channel": "{channel}", "currency": "{currency}", "total": {int(total)}, '
            f'"placed_at": "{placed_at.isoformat()}", "imported": {self._imported}}}'
        )
        contact = pack_contact(record)
        return (
            record.external_id, record.line, contact, record.location, currency, order,
            prepared_lines, prepared_refunds, placed, refunded, total, status, cancelled_at,
            fingerprint(contact) if contact is not None else None,
            consent_key(contact) if contact is not None else None,
            record.shop_ref,
        )  # fmt: skip
