"""Shopify's Orders export (Admin > Orders > Export), read as it comes out of Shopify.

The export has one row per line item. Order-level cells are filled on the first row of
each order and blank on the rows after it; rows are grouped by ``Name`` (``#1001``).
Timestamps look like ``2025-10-07 09:50:26 +0200``; amounts are decimals in the
order's ``Currency``.

Columns read, and what each becomes:

=========================================  ===================================================
``Name``                                   the order's external id and number (the group key)
``Created at``                             ``placed_at`` (required)
``Paid at`` / ``Fulfilled at``             ``paid_at`` / ``fulfilled_at``
``Cancelled at``                           ``cancelled_at``; the order's status is ``cancelled``
``Financial Status``                       ``paid``/``partially_paid``/``refunded``/
                                           ``partially_refunded`` -> status ``paid`` (then
                                           refunded); ``pending``/``authorized``/``voided`` ->
                                           ``placed``
``Fulfillment Status``                     ``fulfilled`` -> status ``fulfilled``
``Currency``                               the order's currency (ISO 4217, required)
``Subtotal``/``Shipping``/``Taxes``/
``Total``/``Discount Amount``              the order's amounts (minor units)
``Discount Code``                          coupon codes (comma-separated)
``Refunded Amount``                        one Refund record of that amount (external id
                                           ``shopify-export-refund``); with status
                                           ``refunded`` and no amount, the whole total
``Lineitem quantity/name/price/sku/
discount``                                 the order lines (quantity 0 = removed by an edit:
                                           left out)
``Email``                                  the customer's email
``Phone``, else ``Billing Phone``, else
``Shipping Phone``                         the customer's phone (E.164, business region)
``Billing Name``, else ``Shipping Name``   the customer's name
``Billing City``, else ``Shipping City``   the customer's city
``Shipping Address1/2/City/Zip/Province/
Country``                                  the order's shipping address
``Accepts Marketing`` (or ``Accepts Email
Marketing``)                               email consent, source
                                           ``shopify import: Accepts Marketing``
``Accepts SMS Marketing``                  SMS consent, likewise
``Source``                                 ``pos`` -> channel ``in_store``; anything else
                                           ``online``
``Location``                               the location whose code or name matches, if any
``Id``, ``Tags``, ``Notes``,
``Payment Method``, ``Vendor``, ``Employee``,
``Risk Level``                             kept in the order's attributes
=========================================  ===================================================

Every other documented export column is accepted and ignored. A column Shopify does
not export is refused (``unknown column``) unless ``--map`` renames or skips it. There
is no refund date in the export: a refund is dated at ``Cancelled at`` when there is one,
else at the latest of ``Fulfilled at``, ``Paid at`` and ``Created at``. An order with no
email and no phone is kept as a guest order without a customer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import partial

from wafa.customers.service import Contact
from wafa.orders.importing.base import OrderParser, attempt, join_address
from wafa.orders.importing.errors import RowError, RowProblem
from wafa.orders.importing.readers import Record
from wafa.orders.importing.records import LineRecord, OrderRecord, RefundRecord
from wafa.orders.importing.values import amount, currency_code, optional_yes_no, quantity

REFUND_ID = "shopify-export-refund"

COLUMNS = (
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Accepts Marketing", "Accepts Email Marketing", "Accepts SMS Marketing", "Currency",
    "Subtotal", "Shipping", "Taxes", "Total", "Discount Code", "Discount Amount",
    "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price",
    "Lineitem compare at price", "Lineitem sku", "Lineitem requires shipping",
    "Lineitem taxable", "Lineitem fulfillment status", "Billing Name", "Billing Street",
    "Billing Address1", "Billing Address2", "Billing Company", "Billing City", "Billing Zip",
    "Billing Province", "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street",
    "Shipping Address1", "Shipping Address2", "Shipping Company", "Shipping City",
    "Shipping Zip", "Shipping Province", "Shipping Country", "Shipping Phone", "Notes",
    "Note Attributes", "Cancelled at", "Payment Method", "Payment Reference",
    "Refunded Amount", "Vendor", "Outstanding Balance", "Employee", "Location", "Device ID",
    "Id", "Tags", "Risk Level", "Source", "Lineitem discount", "Phone", "Receipt Number",
    "Duties", "Billing Province Name", "Shipping Province Name", "Payment ID",
    "Payment Terms Name", "Next Payment Due At", "Payment References",
)  # fmt: skip

_MONEY = ("Subtotal", "Shipping", "Taxes", "Total", "Discount Amount", "Refunded Amount")
_PAID = frozenset({"paid", "partially_paid", "refunded", "partially_refunded"})
_FINANCIAL = _PAID | frozenset({"pending", "authorized", "voided", "expired", ""})


class ShopifyOrders(OrderParser):
    """Parser for Shopify's Orders export."""

    name = "shopify"
    columns = COLUMNS
    required = ("Name", "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price")
    key = "Name"
    refund_columns = ("Refunded Amount", "Financial Status")
    price_column = "Lineitem price"
    total_column = "Total"
    patterns = (re.compile(r"Tax \d+ (Name|Value)"),)

    def build(self, records: list[Record], errors: list[RowError]) -> OrderRecord | None:
        """One order from its rows (order-level cells from the first row)."""
        first = records[0]
        get = self.table.getter(first.values)
        name = get("Name").strip()
        try:
            currency, placed, paid_at, fulfilled_at, cancelled_at, money = self._order_cells(get)
            placed_at: datetime | None = placed
        except RowProblem:
            currency, placed_at, paid_at, fulfilled_at, cancelled_at, money = (
                self._careful_order_cells(first, get, errors)
            )
        lines: list[LineRecord] = []
        if currency:
            for record in records:
                line = self._line(record, currency, errors)
                if line is not None:
                    lines.append(line)
        if errors or placed_at is None:
            return None
        if not lines:
            errors.append(
                RowError(first.line, "Lineitem quantity", f"order {name} has no items", first.raw)
            )
            return None
        financial = get("Financial Status").strip().lower()
        if financial not in _FINANCIAL:
            errors.append(
                RowError(
                    first.line,
                    "Financial Status",
                    f"unknown financial status {financial!r}",
                    first.raw,
                )
            )
            return None
        try:
            contact = self._contact(get, placed_at)
        except RowProblem as exc:
            errors.append(RowError(first.line, exc.column, exc.reason, first.raw))
            return None
        total = money["Total"] if get("Total").strip() else None
        status = "placed"
        if cancelled_at is not None:
            status = "cancelled"
        elif get("Fulfillment Status").strip().lower() == "fulfilled":
            status = "fulfilled"
        elif financial in _PAID:
            status = "paid"
        refunds: list[RefundRecord] = []
        refunded = money["Refunded Amount"]
        order_total = (
            total
            if total is not None
            else sum(ln.total for ln in lines)
            - money["Discount Amount"]
            + money["Shipping"]
            + money["Taxes"]
        )
        if refunded == 0 and financial == "refunded":
            refunded = order_total
        if financial == "partially_refunded" and refunded == 0:
            errors.append(
                RowError(
                    first.line,
                    "Refunded Amount",
                    "financial status is partially_refunded but no amount is given",
                    first.raw,
                )
            )
            return None
        if refunded > order_total:
            errors.append(
                RowError(
                    first.line,
                    "Refunded Amount",
                    "refunded amount is larger than the order total",
                    first.raw,
                )
            )
            return None
        if refunded > 0:
            refunded_at = cancelled_at or max(
                t for t in (placed_at, paid_at, fulfilled_at) if t is not None
            )
            refunds.append(
                RefundRecord(REFUND_ID, refunded, refunded_at, reason="from the Shopify export")
            )
        attributes = {
            key: value
            for key, value in (
                ("shopify_id", get("Id").strip()),
                ("tags", get("Tags").strip()),
                ("notes", get("Notes").strip()),
                ("payment_method", get("Payment Method").strip()),
                ("financial_status", financial),
                ("employee", get("Employee").strip()),
                ("location", get("Location").strip()),
                ("risk_level", get("Risk Level").strip()),
            )
            if value
        }
        return OrderRecord(
            external_id=name[:200],
            number=name[:100],
            placed_at=placed_at,
            currency=currency,
            lines=lines,
            channel="in_store" if get("Source").strip().lower() == "pos" else "online",
            status=status,
            contact=contact,
            discount=money["Discount Amount"],
            shipping=money["Shipping"],
            tax=money["Taxes"],
            total=total,
            subtotal=money["Subtotal"] if get("Subtotal").strip() else None,
            paid_at=paid_at,
            fulfilled_at=fulfilled_at,
            cancelled_at=cancelled_at,
            location=get("Location").strip() or None,
            shipping_address=join_address(
                get("Shipping Address1"), get("Shipping Address2"), get("Shipping City"),
                get("Shipping Zip"), get("Shipping Province"), get("Shipping Country"),
            ),
            coupon_codes=[c.strip()[:64] for c in get("Discount Code").split(",") if c.strip()],
            attributes=attributes,
            refunds=refunds,
        )  # fmt: skip

    def _order_cells(
        self, get: Callable[[str], str]
    ) -> tuple[str, datetime, datetime | None, datetime | None, datetime | None, dict[str, int]]:
        """The first row's order-level cells; the first problem raises ``RowProblem``."""
        raw_currency = get("Currency")
        currency = (
            currency_code(raw_currency, "Currency")
            if raw_currency.strip()
            else self.default_currency
        )
        instant = self.instant
        money = {field: amount(get(field), field, currency) for field in _MONEY}
        return (
            currency,
            instant(get("Created at"), "Created at"),
            instant.optional(get("Paid at"), "Paid at"),
            instant.optional(get("Fulfilled at"), "Fulfilled at"),
            instant.optional(get("Cancelled at"), "Cancelled at"),
            money,
        )

    def _careful_order_cells(
        self, first: Record, get: Callable[[str], str], errors: list[RowError]
    ) -> tuple[
        str, datetime | None, datetime | None, datetime | None, datetime | None, dict[str, int]
    ]:
        """``_order_cells``, collecting every problem of the row instead of stopping."""
        raw_currency = get("Currency")
        currency = (
            attempt(errors, first, partial(currency_code, raw_currency, "Currency"), "")
            if raw_currency.strip()
            else self.default_currency
        )
        instants = [
            attempt(errors, first, partial(read, get(field), field), None)
            for read, field in (
                (self.instant, "Created at"),
                (self.instant.optional, "Paid at"),
                (self.instant.optional, "Fulfilled at"),
                (self.instant.optional, "Cancelled at"),
            )
        ]
        money = (
            {
                field: attempt(errors, first, partial(amount, get(field), field, currency), 0)
                for field in _MONEY
            }
            if currency
            else dict.fromkeys(_MONEY, 0)
        )
        return currency, instants[0], instants[1], instants[2], instants[3], money

    def bind(self, header: Record) -> None:
        """Read the header and remember where the line-item cells are."""
        super().bind(header)
        index = self.table.index
        self._line_at = (
            index["Lineitem quantity"],
            index["Lineitem name"],
            index["Lineitem price"],
            index.get("Lineitem sku"),
            index.get("Lineitem discount"),
        )

    def _line(self, record: Record, currency: str, errors: list[RowError]) -> LineRecord | None:
        # The common case, read straight from the cells; any doubt takes the careful path.
        values = record.values
        at_qty, at_name, at_price, at_sku, at_discount = self._line_at
        try:
            qty = quantity(values[at_qty], "Lineitem quantity")
            price = amount(values[at_price], "Lineitem price", currency, allow_blank=False)
            discount = (
                amount(values[at_discount], "Lineitem discount", currency)
                if at_discount is not None
                else 0
            )
        except RowProblem:
            return self._careful_line(record, currency, errors)
        name = values[at_name].strip()
        if not name or discount > qty * price:
            return self._careful_line(record, currency, errors)
        if qty == 0:
            return None
        sku = (values[at_sku].strip()[:64] or None) if at_sku is not None else None
        return LineRecord(name[:300], qty, price, sku, discount)

    def _careful_line(
        self, record: Record, currency: str, errors: list[RowError]
    ) -> LineRecord | None:
        get = self.table.getter(record.values)
        before = len(errors)
        qty = attempt(
            errors, record, lambda: quantity(get("Lineitem quantity"), "Lineitem quantity"), 0
        )
        price = attempt(
            errors,
            record,
            lambda: amount(get("Lineitem price"), "Lineitem price", currency, allow_blank=False),
            0,
        )
        discount = attempt(
            errors,
            record,
            lambda: amount(get("Lineitem discount"), "Lineitem discount", currency),
            0,
        )
        name = get("Lineitem name").strip()
        if not name:
            errors.append(RowError(record.line, "Lineitem name", "is empty", record.raw))
        if len(errors) > before or qty == 0:
            return None
        if discount > qty * price:
            errors.append(
                RowError(
                    record.line,
                    "Lineitem discount",
                    "discount is larger than the line",
                    record.raw,
                )
            )
            return None
        sku = get("Lineitem sku").strip() or None
        return LineRecord(
            name=name[:300],
            quantity=qty,
            unit_price=price,
            sku=sku[:64] if sku else None,
            discount=discount,
        )

    def _contact(self, get: Callable[[str], str], placed_at: datetime) -> Contact:
        email = self.email(get("Email"), "Email")
        phone = None
        for field in ("Phone", "Billing Phone", "Shipping Phone"):
            if get(field).strip().lstrip("'").strip():
                phone = self.phone(get(field), field)
                break
        email_field = (
            "Accepts Marketing"
            if self.table.has("Accepts Marketing")
            else "Accepts Email Marketing"
        )
        email_opt_in = optional_yes_no(get(email_field), email_field)
        sms_opt_in = optional_yes_no(get("Accepts SMS Marketing"), "Accepts SMS Marketing")
        sources = [
            f
            for f, v in ((email_field, email_opt_in), ("Accepts SMS Marketing", sms_opt_in))
            if v is not None
        ]
        return Contact(
            email=email,
            phone=phone,
            name=(get("Billing Name").strip() or get("Shipping Name").strip())[:200] or None,
            city=(get("Billing City").strip() or get("Shipping City").strip())[:120] or None,
            email_opt_in=email_opt_in,
            sms_opt_in=sms_opt_in,
            consent_source=f"shopify import: {', '.join(sources)}" if sources else None,
            seen_at=placed_at,
        )  # fmt: skip


__all__ = ["REFUND_ID", "RowProblem", "ShopifyOrders"]  # RowProblem: raised by the readers
