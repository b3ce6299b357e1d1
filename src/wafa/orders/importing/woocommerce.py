"""WooCommerce order exports, as the common export plugins write them.

The layout is that of "Order Export & Order Import for WooCommerce" (WebToffee), which
"Customer / Order / Coupon CSV Import Suite" shares: one row per order, snake_case
headers, and the line items in ``line_item_1``, ``line_item_2``… cells written as
``name:Flat white|product_id:13|sku:FW-1|quantity:2|total:9.00|sub_total:9.00|tax:0.00``.
The plugin's "one row per line item" option (``line_item_name``, ``line_item_sku``,
``line_item_quantity``, ``line_item_subtotal``, ``line_item_total`` … columns, the order
repeated on each row) is read too; rows are grouped by ``order_id``.

Columns read, and what each becomes:

=====================================  =========================================================
``order_id``                           the order's external id (the group key)
``order_number``                       the order number shown to people
``order_date``                         ``placed_at`` (WooCommerce writes local time: read in
                                       the business's timezone unless it carries an offset)
``paid_date``, ``completed_date``      ``paid_at``, ``fulfilled_at``
``status``                             pending/on-hold -> placed, processing -> paid,
                                       completed -> fulfilled, cancelled/failed -> cancelled,
                                       refunded -> paid plus its refunds (``wc-`` prefix ok)
``order_currency``                     the currency (business currency when blank)
``order_total``, ``shipping_total``,
``tax_total``, ``discount_total``
(or ``cart_discount``)                 the order's amounts
``line_item_N``                        the lines: unit price = ``sub_total / quantity``
                                       (rounded up), discount = ``sub_total - total``
``coupon_items``                       coupon codes (``code:SAVE10|amount:10.00;…``)
``refund_items``                       one Refund record per refund
                                       (``amount:5.00|reason:…|date:2024-01-02 10:00:00``),
                                       external id ``woocommerce-refund-N``
``billing_email`` (else
``customer_email``)                    the customer's email
``billing_phone`` (else
``shipping_phone``)                    the customer's phone
``billing_first_name`` +
``billing_last_name``                  the customer's name
``billing_city``                       the customer's city
``customer_id`` / ``customer_user``    the customer's WooCommerce id (external id; 0 = guest)
``shipping_*``                         the shipping address
``payment_method_title``,
``customer_note``, ``shipping_method`` kept in the order's attributes
=====================================  =========================================================

WooCommerce exports carry no marketing opt-in column, so no consent is recorded.
Every other column the plugin writes (``meta:…`` included) is accepted and ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

from wafa.customers.service import Contact
from wafa.orders.importing.base import OrderParser, attempt, join_address
from wafa.orders.importing.errors import RowError, RowProblem
from wafa.orders.importing.readers import Record
from wafa.orders.importing.records import LineRecord, OrderRecord, RefundRecord
from wafa.orders.importing.values import amount, currency_code, quantity

COLUMNS = (
    "order_id", "order_number", "order_date", "paid_date", "completed_date", "status",
    "shipping_total", "shipping_tax_total", "fee_total", "fee_tax_total", "tax_total",
    "cart_discount", "order_discount", "discount_total", "order_total", "order_subtotal",
    "order_key", "order_currency", "payment_method", "payment_method_title", "transaction_id",
    "customer_ip_address", "customer_user_agent", "shipping_method", "customer_id",
    "customer_user", "customer_email", "billing_first_name", "billing_last_name",
    "billing_company", "billing_email", "billing_phone", "billing_address_1",
    "billing_address_2", "billing_postcode", "billing_city", "billing_state", "billing_country",
    "shipping_first_name", "shipping_last_name", "shipping_company", "shipping_phone",
    "shipping_address_1", "shipping_address_2", "shipping_postcode", "shipping_city",
    "shipping_state", "shipping_country", "customer_note", "wt_import_key", "shipping_items",
    "fee_items", "tax_items", "coupon_items", "refund_items", "order_notes",
    "download_permissions", "line_item_product_id", "line_item_name", "line_item_sku",
    "line_item_quantity", "line_item_subtotal", "line_item_subtotal_tax", "line_item_total",
    "line_item_total_tax", "item_refunded", "item_refunded_qty", "item_meta",
)  # fmt: skip

_STATUS = {
    "pending": "placed",
    "on-hold": "placed",
    "processing": "paid",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "failed": "cancelled",
    "refunded": "paid",
}
_KEY = re.compile(r"[a-z_]{1,40}")


def split_pairs(text: str, separator: str = "|") -> dict[str, str]:
    """``name:A|sku:B`` -> ``{"name": "A", "sku": "B"}``; a ``|`` inside a value is kept."""
    pairs: dict[str, str] = {}
    last: str | None = None
    for part in text.split(separator):
        key, colon, value = part.partition(":")
        if colon and _KEY.fullmatch(key.strip()):
            last = key.strip()
            pairs[last] = value
        elif last is not None:
            pairs[last] += separator + part
    return pairs


class WooCommerceOrders(OrderParser):
    """Parser for WooCommerce order exports."""

    name = "woocommerce"
    columns = COLUMNS
    required = ("order_id", "order_date", "status", "order_total")
    key = "order_id"
    refund_columns = ("refund_items", "status")
    price_column = None
    total_column = "order_total"
    patterns = (
        re.compile(r"line_item_\d+"),
        re.compile(r"meta:.+"),
        re.compile(r"line_item_\d+_\w+"),
    )

    def build(self, records: list[Record], errors: list[RowError]) -> OrderRecord | None:
        """One order from its row (or rows, in the one-row-per-item layout)."""
        first = records[0]
        get = self.table.getter(first.values)
        raw_currency = get("order_currency")
        currency = (
            attempt(errors, first, lambda: currency_code(raw_currency, "order_currency"), "")
            if raw_currency.strip()
            else self.default_currency
        )
        placed_at = attempt(
            errors, first, lambda: self.instant(get("order_date"), "order_date"), None
        )
        paid_at = attempt(
            errors, first, lambda: self.instant.optional(get("paid_date"), "paid_date"), None
        )
        completed_at = attempt(
            errors,
            first,
            lambda: self.instant.optional(get("completed_date"), "completed_date"),
            None,
        )
        raw_status = get("status").strip().lower().removeprefix("wc-")
        status = _STATUS.get(raw_status)
        if status is None:
            errors.append(
                RowError(first.line, "status", f"unknown order status {raw_status!r}", first.raw)
            )
        money: dict[str, int] = {}
        lines: list[LineRecord] = []
        refunds: list[RefundRecord] = []
        if currency:
            discount_col = "discount_total" if get("discount_total").strip() else "cart_discount"
            for field in ("order_total", "shipping_total", "tax_total", discount_col):
                money[field] = attempt(
                    errors,
                    first,
                    partial(amount, get(field), field, currency),
                    0,
                )
            money["discount"] = money.pop(discount_col)
            if self.table.has("line_item_name"):
                for record in records:
                    line = self._row_line(record, currency, errors)
                    if line is not None:
                        lines.append(line)
            else:
                if len(records) > 1:
                    for extra in records[1:]:
                        errors.append(
                            RowError(
                                extra.line,
                                "order_id",
                                "the same order appears on more than one row",
                                extra.raw,
                            )
                        )
                lines = self._cell_lines(first, currency, errors)
            refunds = self._refunds(first, currency, errors)
        contact = attempt(errors, first, lambda: self._contact(get), None)
        if errors or placed_at is None or status is None or contact is None:
            return None
        contact.seen_at = placed_at
        if not lines:
            errors.append(RowError(first.line, None, "the order has no line items", first.raw))
            return None
        total = money["order_total"]
        if sum(r.amount for r in refunds) > total:
            errors.append(
                RowError(
                    first.line,
                    "refund_items",
                    "refunds add up to more than the order total",
                    first.raw,
                )
            )
            return None
        if raw_status == "refunded" and not refunds and total > 0:
            refunds.append(
                RefundRecord(
                    "woocommerce-refund-1",
                    total,
                    completed_at or paid_at or placed_at,
                    reason="order refunded",
                )
            )
        attributes = {
            key: value
            for key, value in (
                ("woocommerce_status", raw_status),
                ("payment_method", get("payment_method_title").strip()),
                ("shipping_method", get("shipping_method").strip()),
                ("notes", get("customer_note").strip()),
            )
            if value
        }
        return OrderRecord(
            external_id=get("order_id").strip()[:200],
            number=get("order_number").strip()[:100] or None,
            placed_at=placed_at,
            currency=currency,
            lines=lines,
            channel="online",
            status=status,
            contact=contact,
            discount=money["discount"],
            shipping=money["shipping_total"],
            tax=money["tax_total"],
            total=total,
            paid_at=paid_at,
            fulfilled_at=completed_at,
            cancelled_at=(completed_at or placed_at) if status == "cancelled" else None,
            shipping_address=join_address(
                get("shipping_address_1"), get("shipping_address_2"), get("shipping_city"),
                get("shipping_postcode"), get("shipping_state"), get("shipping_country"),
            ),
            coupon_codes=[
                split_pairs(item).get("code", "").strip()[:64]
                for item in get("coupon_items").split(";")
                if split_pairs(item).get("code", "").strip()
            ],
            attributes=attributes,
            refunds=refunds,
        )  # fmt: skip

    def _make_line(
        self, record: Record, column: str, name: str, sku: str, qty_text: str,
        subtotal_text: str, total_text: str, currency: str, errors: list[RowError],
    ) -> LineRecord | None:  # fmt: skip
        before = len(errors)
        qty = attempt(errors, record, lambda: quantity(qty_text, column), 0)
        total = attempt(
            errors, record, lambda: amount(total_text, column, currency, allow_blank=False), 0
        )
        subtotal = (
            attempt(errors, record, lambda: amount(subtotal_text, column, currency), 0)
            if subtotal_text.strip()
            else total
        )
        if not name.strip():
            errors.append(RowError(record.line, column, "the line item has no name", record.raw))
        if len(errors) > before or qty == 0:
            return None
        subtotal = max(subtotal, total)
        unit = -(-subtotal // qty)
        return LineRecord(
            name=name.strip()[:300], quantity=qty, unit_price=unit,
            sku=sku.strip()[:64] or None, discount=unit * qty - total,
        )  # fmt: skip

    def _cell_lines(
        self, record: Record, currency: str, errors: list[RowError]
    ) -> list[LineRecord]:
        lines: list[LineRecord] = []
        cells = sorted(
            (
                (int(name[10:]), pos)
                for name, pos in self.table.index.items()
                if re.fullmatch(r"line_item_\d+", name)
            ),
        )
        for _, pos in cells:
            text = record.values[pos]
            if not text.strip():
                continue
            column = self.table.header_cell(pos)
            item = split_pairs(text)
            line = self._make_line(
                record, column, item.get("name", ""), item.get("sku", ""), item.get("quantity", ""),
                item.get("sub_total", item.get("subtotal", "")), item.get("total", ""), currency, errors,
            )  # fmt: skip
            if line is not None:
                lines.append(line)
        return lines

    def _row_line(self, record: Record, currency: str, errors: list[RowError]) -> LineRecord | None:
        get = self.table.getter(record.values)
        return self._make_line(
            record, "line_item_quantity", get("line_item_name"), get("line_item_sku"),
            get("line_item_quantity"), get("line_item_subtotal"), get("line_item_total"), currency, errors,
        )  # fmt: skip

    def _refunds(self, record: Record, currency: str, errors: list[RowError]) -> list[RefundRecord]:
        get = self.table.getter(record.values)
        column = "refund_items"
        refunds: list[RefundRecord] = []
        for index, item in enumerate((i for i in get("refund_items").split(";") if i.strip()), 1):
            pairs = split_pairs(item)
            value = attempt(
                errors,
                record,
                partial(amount, pairs.get("amount", ""), column, currency, allow_blank=False),
                0,
            )
            when = attempt(
                errors, record, partial(self.instant, pairs.get("date", ""), column), None
            )
            if value and when is not None:
                refunds.append(
                    RefundRecord(
                        f"woocommerce-refund-{index}",
                        value,
                        when,
                        reason=pairs.get("reason", "").strip()[:1000] or None,
                    )
                )
        return refunds

    def _contact(self, get: Callable[[str], str]) -> Contact:
        email_field = "billing_email" if get("billing_email").strip() else "customer_email"
        phone_field = "billing_phone" if get("billing_phone").strip() else "shipping_phone"
        external = (get("customer_id").strip() or get("customer_user").strip()).removesuffix(".0")
        if external == "0":
            external = ""
        name = " ".join(
            p for p in (get("billing_first_name").strip(), get("billing_last_name").strip()) if p
        )
        return Contact(
            email=self.email(get(email_field), email_field),
            phone=self.phone(get(phone_field), phone_field),
            name=name[:200] or None,
            external_source=self.source if external else None,
            external_id=external[:200] or None,
            city=get("billing_city").strip()[:120] or None,
        )


__all__ = ["RowProblem", "WooCommerceOrders", "split_pairs"]
