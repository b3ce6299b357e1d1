"""The generic order format: one row per order line, with a documented column mapping.

Rows of one order share ``order_id`` and follow each other; order-level cells are read
from the order's first row (later rows may repeat them or leave them blank). Column
names are matched case-insensitively. A file whose columns are named differently is
mapped with ``--mapping FILE.json`` (``{"Order Nr": "order_id", "Internal": null}``) or
``--map "Order Nr=order_id"`` (``--map "Internal="`` skips a column). A column that is
neither a field nor mapped is refused, so that a typo never drops data silently.

Fields (``*`` required):

=========================  =================================================================
``order_id`` *             the order's id in the source system (with ``--source``, the
                           idempotency key)
``placed_at`` *            when the order was placed (ISO 8601; no offset = business zone)
``name`` *                 the line's product name
``quantity`` *             whole number of items (0 = line left out, negative refused)
``unit_price`` *           price of one item, decimal in the order's currency
``sku``, ``category``      product sku and category (products are created on first sight)
``discount``               discount on the line (amount)
``currency``               ISO 4217; the business currency when the column is absent/blank
``customer_email``,
``customer_phone``,
``customer_name``          who ordered (matched to a customer; none of email/phone/id = guest)
``customer_id``            the customer's id in the source system (an external id)
``customer_city``          the customer's city
``status``                 placed, paid, fulfilled, delivered, cancelled, refunded,
                           partially_refunded (default placed)
``channel``                online, in_store, phone (default online; ``pos``/``store`` =
                           in_store)
``location``               code of a Wafa location (shop or channel)
``number``                 the order number shown to people
``order_discount``,
``shipping``, ``tax``      order-level amounts
``total``                  the order's total; computed from the lines when absent
``paid_at``,
``fulfilled_at``,
``delivered_at``,
``promised_at``,
``cancelled_at``           instants of the order's life
``refunded_amount``        an amount-only refund (``refunded_at`` dates it; default the
                           latest known instant)
``accepts_email_marketing``,
``accepts_sms_marketing``  consent (yes/no/true/false/1/0), source ``<source> import: <col>``
``shipping_address``,
``coupon_codes``, ``notes``  kept on the order (coupon codes comma-separated)
=========================  =================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from wafa.customers.service import Contact
from wafa.orders.importing.base import OrderParser, attempt
from wafa.orders.importing.errors import RowError, RowProblem
from wafa.orders.importing.readers import Record
from wafa.orders.importing.records import LineRecord, OrderRecord, RefundRecord
from wafa.orders.importing.values import amount, currency_code, optional_yes_no, quantity

REFUND_ID = "import-refund"

FIELDS = (
    "order_id", "placed_at", "name", "quantity", "unit_price", "sku", "category", "discount",
    "currency", "customer_email", "customer_phone", "customer_name", "customer_id",
    "customer_city", "status", "channel", "location", "number", "order_discount", "shipping",
    "tax", "total", "paid_at", "fulfilled_at", "delivered_at", "promised_at", "cancelled_at",
    "refunded_amount", "refunded_at", "accepts_email_marketing", "accepts_sms_marketing",
    "shipping_address", "coupon_codes", "notes",
)  # fmt: skip

_STATUSES = frozenset(
    {"placed", "paid", "fulfilled", "delivered", "cancelled", "refunded", "partially_refunded"}
)
_CHANNELS = {
    "online": "online",
    "web": "online",
    "in_store": "in_store",
    "in-store": "in_store",
    "store": "in_store",
    "pos": "in_store",
    "shop": "in_store",
    "phone": "phone",
}


class GenericOrders(OrderParser):
    """Parser for the generic, mapped order format."""

    name = "generic"
    columns = FIELDS
    required = ("order_id", "placed_at", "name", "quantity", "unit_price")
    key = "order_id"
    refund_columns = ("refunded_amount", "status")
    price_column = "unit_price"
    total_column = "total"

    def build(self, records: list[Record], errors: list[RowError]) -> OrderRecord | None:
        """One order from its rows."""
        first = records[0]
        get = self.table.getter(first.values)
        raw_currency = get("currency")
        currency = (
            attempt(errors, first, lambda: currency_code(raw_currency, "currency"), "")
            if raw_currency.strip()
            else self.default_currency
        )
        instants: dict[str, datetime | None] = {}
        for field in ("placed_at", "paid_at", "fulfilled_at", "delivered_at", "promised_at",
                      "cancelled_at", "refunded_at"):  # fmt: skip
            instants[field] = attempt(
                errors,
                first,
                partial(self.instant.optional, get(field), field),
                None,
            )
        if instants["placed_at"] is None and not any(e.column == "placed_at" for e in errors):
            errors.append(RowError(first.line, "placed_at", "is empty", first.raw))
        status = get("status").strip().lower() or "placed"
        if status not in _STATUSES:
            errors.append(
                RowError(first.line, "status", f"unknown status {status!r} (use one of "
                         f"{', '.join(sorted(_STATUSES))})", first.raw)
            )  # fmt: skip
        channel_text = get("channel").strip().lower() or "online"
        channel = _CHANNELS.get(channel_text)
        if channel is None:
            errors.append(
                RowError(first.line, "channel", f"unknown channel {channel_text!r} "
                         "(use online, in_store or phone)", first.raw)
            )  # fmt: skip
        money: dict[str, int] = {}
        lines: list[LineRecord] = []
        if currency:
            for field in ("order_discount", "shipping", "tax", "total", "refunded_amount"):
                money[field] = attempt(
                    errors,
                    first,
                    partial(amount, get(field), field, currency),
                    0,
                )
            for record in records:
                line = self._line(record, currency, errors)
                if line is not None:
                    lines.append(line)
        contact = attempt(errors, first, lambda: self._contact(get), None)
        placed_at = instants["placed_at"]
        if errors or placed_at is None or contact is None or channel is None:
            return None
        contact.seen_at = placed_at
        if not lines:
            errors.append(RowError(first.line, "quantity", "the order has no items", first.raw))
            return None
        total = money["total"] if get("total").strip() else None
        order_total = (
            total
            if total is not None
            else sum(ln.total for ln in lines)
            - money["order_discount"]
            + money["shipping"]
            + money["tax"]
        )
        if order_total < 0:
            errors.append(
                RowError(
                    first.line,
                    "order_discount",
                    "the discount is larger than the order",
                    first.raw,
                )
            )
            return None
        refunded = money["refunded_amount"]
        if status == "refunded" and refunded == 0:
            refunded = order_total
        if status == "partially_refunded" and refunded == 0:
            errors.append(
                RowError(
                    first.line,
                    "refunded_amount",
                    "status is partially_refunded but no amount is given",
                    first.raw,
                )
            )
            return None
        if refunded > order_total:
            errors.append(
                RowError(first.line, "refunded_amount", "is larger than the order total", first.raw)
            )
            return None
        refunds: list[RefundRecord] = []
        if refunded:
            known = [t for t in instants.values() if t is not None]
            refunds.append(
                RefundRecord(
                    REFUND_ID, refunded, instants["refunded_at"] or max(known), reason="imported"
                )
            )
        if status in ("refunded", "partially_refunded"):
            status = "paid"
        if status == "cancelled" and instants["cancelled_at"] is None:
            instants["cancelled_at"] = placed_at
        notes = get("notes").strip()
        return OrderRecord(
            external_id=get("order_id").strip()[:200],
            number=get("number").strip()[:100] or None,
            placed_at=placed_at,
            currency=currency,
            lines=lines,
            channel=channel,
            status=status,
            contact=contact,
            discount=money["order_discount"],
            shipping=money["shipping"],
            tax=money["tax"],
            total=total,
            paid_at=instants["paid_at"],
            fulfilled_at=instants["fulfilled_at"],
            delivered_at=instants["delivered_at"],
            promised_at=instants["promised_at"],
            cancelled_at=instants["cancelled_at"],
            location=get("location").strip() or None,
            shipping_address=get("shipping_address").strip() or None,
            coupon_codes=[c.strip()[:64] for c in get("coupon_codes").split(",") if c.strip()],
            attributes={"notes": notes} if notes else {},
            refunds=refunds,
        )  # fmt: skip

    def _line(self, record: Record, currency: str, errors: list[RowError]) -> LineRecord | None:
        get = self.table.getter(record.values)
        before = len(errors)
        qty = attempt(errors, record, lambda: quantity(get("quantity"), "quantity"), 0)
        price = attempt(
            errors,
            record,
            lambda: amount(get("unit_price"), "unit_price", currency, allow_blank=False),
            0,
        )
        discount = attempt(errors, record, lambda: amount(get("discount"), "discount", currency), 0)
        name = get("name").strip()
        if not name:
            errors.append(RowError(record.line, "name", "is empty", record.raw))
        if len(errors) > before or qty == 0:
            return None
        if discount > qty * price:
            errors.append(
                RowError(record.line, "discount", "discount is larger than the line", record.raw)
            )
            return None
        sku = get("sku").strip()[:64] or None
        category = get("category").strip()[:120] or None
        return LineRecord(name=name[:300], quantity=qty, unit_price=price, sku=sku, discount=discount, category=category)  # fmt: skip

    def _contact(self, get: Callable[[str], str]) -> Contact:
        email_opt_in = optional_yes_no(get("accepts_email_marketing"), "accepts_email_marketing")
        sms_opt_in = optional_yes_no(get("accepts_sms_marketing"), "accepts_sms_marketing")
        given = [f for f, v in (("accepts_email_marketing", email_opt_in), ("accepts_sms_marketing", sms_opt_in)) if v is not None]  # fmt: skip
        external = get("customer_id").strip()[:200] or None
        return Contact(
            email=self.email(get("customer_email"), "customer_email"),
            phone=self.phone(get("customer_phone"), "customer_phone"),
            name=get("customer_name").strip()[:200] or None,
            external_source=self.source if external else None,
            external_id=external,
            city=get("customer_city").strip()[:120] or None,
            email_opt_in=email_opt_in,
            sms_opt_in=sms_opt_in,
            consent_source=f"{self.source} import: {', '.join(given)}" if given else None,
        )


__all__ = ["FIELDS", "GenericOrders", "RowProblem"]
