"""The generic order format: one row per order line, columns named for what they hold.

For a shop whose system is neither Shopify nor WooCommerce, or a spreadsheet. The same
file is read by ``wafa import orders`` and ``wafa analyze``.

Rows of one order share ``order_id`` and follow each other. Order-level cells are read
from the order's first row; later rows repeat them or leave them blank (a different
value is refused). Column names are case-insensitive; the importer maps other names
with ``--map``/``--mapping``. Amounts are decimals in major units (``12.50``). A time
without an offset is local time in the business's timezone.

To store an order the importer needs its lines (``name``, ``quantity``, ``unit_price``);
to analyse, ``wafa analyze`` needs who bought (``customer_id``, ``customer_email`` or
``customer_phone``) and the order's value: ``total``, or else the lines
(``quantity`` x ``unit_price`` - ``discount``) less ``order_discount`` plus ``shipping``
and ``tax``, as the importer computes it.

Statuses: ``placed`` (a blank cell), ``paid``, ``fulfilled``, ``delivered``,
``cancelled``, ``refunded`` (the whole total when ``refunded_amount`` is blank) and
``partially_refunded`` (``refunded_amount`` required), with the usual other spellings
(``canceled``, ``voided``, ``failed``, ``completed``, ``shipped``…). A refund is dated at
``refunded_at``, else at the latest instant the order carries; a cancelled order without
``cancelled_at`` is cancelled when it was placed.
"""

from __future__ import annotations

from wafa.ingest.describe import (
    Column,
    Kind,
    Level,
    OrderFormat,
    RefundMeaning,
    Refunds,
    Role,
    Vocabulary,
    Word,
)

__all__ = ["GENERIC", "REFUND_ID", "STATUS"]

REFUND_ID = "import-refund"

_CANCELLED = Word("cancelled")
_FULFILLED = Word("fulfilled")
STATUS = Vocabulary(
    Role.status,
    {
        "placed": Word("placed"),
        "pending": Word("placed"),
        "paid": Word("paid"),
        "processing": Word("paid"),
        "fulfilled": _FULFILLED,
        "completed": _FULFILLED,
        "complete": _FULFILLED,
        "shipped": _FULFILLED,
        "delivered": Word("delivered"),
        "cancelled": _CANCELLED,
        "canceled": _CANCELLED,
        "voided": _CANCELLED,
        "void": _CANCELLED,
        "failed": _CANCELLED,
        "declined": _CANCELLED,
        "refunded": Word("paid", RefundMeaning.whole),
        "partially_refunded": Word("paid", RefundMeaning.partial),
        "partially-refunded": Word("paid", RefundMeaning.partial),
    },
    blank=Word("placed"),
)

_MONEY = Kind.money
_INSTANT = Kind.instant
_LINE = Level.line

GENERIC = OrderFormat(
    name="generic",
    title="generic order lines",
    columns=(
        Column(Role.order_key, ("order_id",)),
        Column(Role.number, ("number",)),
        Column(Role.placed_at, ("placed_at",), _INSTANT),
        Column(Role.paid_at, ("paid_at",), _INSTANT),
        Column(Role.fulfilled_at, ("fulfilled_at",), _INSTANT),
        Column(Role.delivered_at, ("delivered_at",), _INSTANT),
        Column(Role.promised_at, ("promised_at",), _INSTANT),
        Column(Role.cancelled_at, ("cancelled_at",), _INSTANT),
        Column(Role.refunded_at, ("refunded_at",), _INSTANT),
        Column(Role.currency, ("currency",), Kind.currency),
        Column(Role.status, ("status",), Kind.word),
        Column(Role.channel, ("channel",), Kind.word),
        Column(Role.location, ("location",)),
        Column(Role.total, ("total",), _MONEY),
        Column(Role.order_discount, ("order_discount",), _MONEY),
        Column(Role.shipping, ("shipping",), _MONEY),
        Column(Role.tax, ("tax",), _MONEY),
        Column(Role.refunded, ("refunded_amount", "refunded"), _MONEY),
        Column(Role.coupon_codes, ("coupon_codes",), Kind.words),
        Column(Role.shipping_address, ("shipping_address",)),
        Column(Role.customer_id, ("customer_id",)),
        Column(Role.email, ("customer_email",), Kind.email),
        Column(Role.phone, ("customer_phone",), Kind.phone),
        Column(Role.customer_name, ("customer_name",)),
        Column(Role.city, ("customer_city",)),
        Column(Role.email_consent, ("accepts_email_marketing",), Kind.flag),
        Column(Role.sms_consent, ("accepts_sms_marketing",), Kind.flag),
        Column(Role.line_name, ("name",), level=_LINE),
        Column(Role.line_sku, ("sku",), level=_LINE),
        Column(Role.line_category, ("category",), level=_LINE),
        Column(Role.line_quantity, ("quantity",), Kind.quantity, _LINE),
        Column(Role.line_price, ("unit_price",), _MONEY, _LINE),
        Column(Role.line_discount, ("discount",), _MONEY, _LINE),
    ),
    required=(Role.order_key, Role.placed_at),
    line_roles=(Role.line_name, Role.line_quantity, Role.line_price),
    statuses=(STATUS,),
    refunds=Refunds(
        amount=Role.refunded,
        external_id=REFUND_ID,
        item_id=REFUND_ID,
        reason="imported",
        dated_by=(Role.refunded_at,),
    ),
    customer=(Role.customer_id, Role.email, Role.phone),
    cancel_dated_by=(Role.cancelled_at, Role.placed_at),
    channels={
        "online": "online",
        "web": "online",
        "in_store": "in_store",
        "in-store": "in_store",
        "store": "in_store",
        "pos": "in_store",
        "shop": "in_store",
        "phone": "phone",
    },
    kept=(("notes", "notes"),),
)
