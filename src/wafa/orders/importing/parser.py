"""Orders from a shop export, read through the format's description (``wafa.ingest``).

``OrderParser(fmt)`` binds the header to the format's roles (``binding.OrderTable``),
groups consecutive rows with the same order key into orders and turns each into an
``OrderRecord``, or a ``Rejected`` order with every problem found in it. Nothing here
names a column: the format says which cells play which role, what its status words
mean and where its refunds are; the rules below are the same for every format.

* Order-level cells are read from the order's first row. A later row repeats them or
  leaves them blank; for the cells that decide what the order is worth, whether it is a
  sale and whose it is (``CHECKED``), a later row that says otherwise is refused, and a
  cell left blank on the first row is taken from the first later row that fills it.
* The status is the furthest (``ingest.describe.STATUS_RANK``) of what the format's
  status columns say; a filled cancel column cancels. A cancelled order without a
  cancel date is cancelled at the first filled of the format's ``cancel_dated_by``.
* The total is the ``total`` cell, else the lines less the order's discount plus
  shipping and tax. Refunds are the listed ones, else the refunded amount; a status
  word saying "refunded in full" with nothing listed refunds the whole total, one
  saying "in part" needs an amount; refunds never exceed the total.
* Lines come from each row (a ``line_price``, or WooCommerce's subtotal and total) or
  from numbered cells of ``key:value`` pairs (WooCommerce's ``line_item_N``). A line of
  quantity 0 was removed by an edit and is left out.

About 840 lines, in one module on purpose: one class reads one order at a time through
the format's description, and its helpers share the bound header's positions; apart,
they would pass those around on every row of the hot loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any, TypeVar

from wafa.core.money import MAX_AMOUNT
from wafa.core.settings import Settings
from wafa.customers.service import Contact
from wafa.ingest.describe import (
    STATUS_RANK,
    Kind,
    Level,
    OrderFormat,
    Pick,
    RefundMeaning,
    Role,
    Word,
)
from wafa.ingest.pairs import item_list, split_pairs
from wafa.ingest.values import (
    CellProblem,
    InstantReader,
    amount,
    currency_code,
    optional_yes_no,
    quantity,
    too_large,
)
from wafa.orders.importing.base import Rejected, read_email, read_phone
from wafa.orders.importing.binding import OrderTable
from wafa.orders.importing.errors import FileRefused, RowError
from wafa.orders.importing.readers import Record
from wafa.orders.importing.records import LineRecord, OrderRecord, RefundRecord

__all__ = ["CHECKED", "OrderParser"]

T = TypeVar("T")
_RANK = {status: rank for rank, status in enumerate(STATUS_RANK)}
_INSTANTS = (
    Role.placed_at,
    Role.paid_at,
    Role.fulfilled_at,
    Role.delivered_at,
    Role.promised_at,
    Role.cancelled_at,
    Role.refunded_at,
)
_MONEY = (Role.total, Role.subtotal, Role.order_discount, Role.shipping, Role.tax, Role.refunded)
#: Order-level roles a later row of an order may not contradict (see the module docstring).
CHECKED = (
    Role.currency,
    Role.placed_at,
    Role.cancelled_at,
    Role.total,
    Role.order_discount,
    Role.shipping,
    Role.tax,
    Role.refunded,
    Role.refund_items,
    Role.status,
    Role.financial_status,
    Role.fulfillment_status,
    Role.customer_id,
    Role.email,
    Role.phone,
)
# Roles as module constants: the hot loops read them hundreds of thousands of times.
_CANCELLED_AT = Role.cancelled_at
_CHANNEL = Role.channel
_CITY = Role.city
_COUPON_CODES = Role.coupon_codes
_CURRENCY = Role.currency
_CUSTOMER_ID = Role.customer_id
_CUSTOMER_NAME = Role.customer_name
_DELIVERED_AT = Role.delivered_at
_EMAIL = Role.email
_EMAIL_CONSENT = Role.email_consent
_FIRST_NAME = Role.first_name
_FULFILLED_AT = Role.fulfilled_at
_LAST_NAME = Role.last_name
_LINE_CATEGORY = Role.line_category
_LINE_DISCOUNT = Role.line_discount
_LINE_ITEMS = Role.line_items
_LINE_NAME = Role.line_name
_LINE_PRICE = Role.line_price
_LINE_QUANTITY = Role.line_quantity
_LINE_SKU = Role.line_sku
_LINE_SUBTOTAL = Role.line_subtotal
_LINE_TOTAL = Role.line_total
_LOCATION = Role.location
_NUMBER = Role.number
_ORDER_DISCOUNT = Role.order_discount
_ORDER_KEY = Role.order_key
_PAID_AT = Role.paid_at
_PHONE = Role.phone
_PLACED_AT = Role.placed_at
_PROMISED_AT = Role.promised_at
_REFUNDED = Role.refunded
_SHIPPING = Role.shipping
_SHIPPING_ADDRESS = Role.shipping_address
_SMS_CONSENT = Role.sms_consent
_SUBTOTAL = Role.subtotal
_TAX = Role.tax
_TOTAL = Role.total


class OrderParser:
    """Reads the orders of one format's export (see the module docstring)."""

    def __init__(
        self,
        fmt: OrderFormat,
        *,
        settings: Settings,
        source: str,
        mapping: Mapping[str, str | None] | None = None,
    ) -> None:
        self.format = fmt
        self.name = fmt.name
        self.settings = settings
        self.source = source
        self.region = settings.phone_region
        self.default_currency = settings.currency
        self.instant = InstantReader(settings.zone)
        self.mapping = mapping or {}
        self.table: OrderTable

    # ------------------------------------------------------------------ the header

    def bind(self, header: Record) -> None:
        """Read the header; unknown or missing columns refuse the file."""
        table = self.table = OrderTable(header, self.format, mapping=self.mapping)
        fmt = self.format
        self.key_at = table.positions[_ORDER_KEY][0]
        self.cell_lines = table.has(_LINE_ITEMS) and not table.has(_LINE_NAME)
        if not self.cell_lines:
            missing = [r for r in fmt.line_roles if not table.has(r)]
            if missing:
                raise FileRefused(
                    f"the header (line 1) does not fit the {fmt.name} format",
                    row_errors=[
                        RowError(1, fmt.primary(r), "required column is missing") for r in missing
                    ],
                )
        self._checked = tuple(pos for role in CHECKED for pos in table.positions.get(role, ()))
        self._pick_checked = _getter(self._checked)
        at = table.at
        self._line_at = (
            at(_LINE_QUANTITY),
            at(_LINE_NAME),
            at(_LINE_PRICE),
            at(_LINE_SKU),
            at(_LINE_DISCOUNT),
            at(_LINE_CATEGORY),
            at(_LINE_SUBTOTAL),
            at(_LINE_TOTAL),
        )
        self._status_at = tuple(
            (vocabulary, table.positions[vocabulary.role][0])
            for vocabulary in fmt.statuses
            if table.has(vocabulary.role)
        )
        # Order-level roles read by position (see ``build``).
        plan = [
            (column.role, table.positions[column.role])
            for column in fmt.columns
            if column.level is Level.order
            and column.pick is Pick.first
            and column.role in table.positions
        ]
        singles = [(role, found[0]) for role, found in plan if len(found) == 1]
        self._single_roles = tuple(role for role, _ in singles)
        self._single_at = tuple(pos for _, pos in singles)
        self._pick = _getter(self._single_at)
        self._several = tuple((role, found) for role, found in plan if len(found) > 1)
        customer = fmt.column(_CUSTOMER_ID)
        self._no_customer = frozenset(customer.none_words if customer else ())
        self._words: dict[tuple[int, str], tuple[Word | None, str]] = {}
        self._instants_at = tuple(r for r in _INSTANTS if table.has(r))
        self._money_at = tuple(r for r in _MONEY if table.has(r))
        self._money_roles = frozenset(self._money_at)

    def refund_column(self) -> str | None:
        """The file's column (as written) that holds refunds, if it has one."""
        refunds = self.format.refunds
        for role in (refunds.items, refunds.amount, *(v.role for v in self.format.statuses)):
            if role is not None and self.table.has(role):
                return self.table.col(role)
        return None

    def key_column(self) -> str:
        """The order key's column, as written."""
        return self.table.col(_ORDER_KEY)

    # ------------------------------------------------------------------ grouping

    def orders(self, records: Iterator[Record]) -> Iterator[OrderRecord | Rejected]:
        """Group consecutive rows with the same key into orders and build each one."""
        at = self.key_at
        group: list[Record] = []
        current = ""
        for record in records:
            values = record.values
            key = values[at].strip() if at < len(values) else ""
            if group and key == current and key:
                group.append(record)
                continue
            if group:
                yield self._finish(current, group)
            group, current = [record], key
        if group:
            yield self._finish(current, group)

    def _finish(self, key: str, group: list[Record]) -> OrderRecord | Rejected:
        errors: list[RowError] = []
        for record in group:
            problem = self.table.width_error(record)
            if problem is not None:
                errors.append(problem)
        if not key:
            errors.append(RowError(group[0].line, self.key_column(), "is empty", group[0].raw))
        if errors:
            return Rejected(key, errors, group)
        try:
            order = self.build(group, errors)
        except CellProblem as exc:
            errors.append(RowError(group[0].line, exc.column, exc.reason, group[0].raw))
            order = None
        if order is not None and not errors:
            errors.extend(self._out_of_bounds(order, group[0]))
        if errors or order is None:
            return Rejected(key, errors, group)
        order.line = group[0].line
        return order

    # ------------------------------------------------------------------ one order

    def build(self, records: list[Record], errors: list[RowError]) -> OrderRecord | None:
        """One order from its rows, appending every problem to ``errors``."""
        first = records[0]
        values = self._order_values(records, errors)
        # Where each order-level role is filled: one pass over the plan, so that what
        # follows reads cells by position (a big export has hundreds of thousands of orders).
        filled = {
            role: pos
            for role, pos, text in zip(
                self._single_roles, self._single_at, self._pick(values), strict=True
            )
            if text and not text.isspace()
        }
        for role, positions in self._several:
            for pos in positions:
                text = values[pos]
                if text and not text.isspace():
                    filled[role] = pos
                    break
        cells = self.table.cells
        try:  # the common case: every cell reads; any doubt takes the careful path
            at = filled.get(_CURRENCY)
            currency = (
                currency_code(values[at], cells[at]) if at is not None else self.default_currency
            )
            instants = self._instants(values, filled)
            money = {
                role: amount(values[at], cells[at], currency)
                for role, at in filled.items()
                if role in self._money_roles
            }
        except CellProblem:
            currency, instants, money = self._careful_cells(values, filled, first, errors)
        lines: list[LineRecord] = []
        if currency:
            if self.cell_lines:
                for extra in records[1:]:
                    errors.append(
                        RowError(
                            extra.line,
                            self.key_column(),
                            "the same order appears on more than one row",
                            extra.raw,
                        )
                    )
                lines = self._cell_lines(first, currency, errors)
            else:
                for record in records:
                    line = self._row_line(record, currency, errors)
                    if line is not None:
                        lines.append(line)
        status, meaning, attributes = self._status(values, filled, first, errors)
        placed_at = instants.get(_PLACED_AT)
        contact = None
        if placed_at is not None:
            contact = _attempt(errors, first, None, self._contact, values, filled, placed_at)
        if errors or placed_at is None or contact is None or status is None:
            return None
        if not lines:
            errors.append(RowError(first.line, None, "the order has no line items", first.raw))
            return None
        total = money.get(_TOTAL)
        order_total = (
            total
            if total is not None
            else sum(ln.total for ln in lines)
            - money.get(_ORDER_DISCOUNT, 0)
            + money.get(_SHIPPING, 0)
            + money.get(_TAX, 0)
        )
        if order_total < 0:
            errors.append(
                RowError(
                    first.line,
                    self.table.col(_ORDER_DISCOUNT),
                    "the discount is larger than the order",
                    first.raw,
                )
            )
            return None
        refunds = self._refunds(
            values, filled, first, currency, instants, money, meaning, order_total
        )
        if refunds is None:
            errors.append(self._refund_problem)
            return None
        if status == "cancelled" and instants.get(_CANCELLED_AT) is None:
            instants[_CANCELLED_AT] = next(
                (instants[r] for r in self.format.cancel_dated_by if instants.get(r)), placed_at
            )
        for key, pos in self.table.kept:
            kept = values[pos].strip()
            if kept:
                attributes[key] = kept
        key = values[self.key_at].strip()
        if self.format.key_is_number:
            number = key
        else:
            at = filled.get(_NUMBER)
            number = values[at].strip() if at is not None else ""
        at = filled.get(_LOCATION)
        return OrderRecord(
            external_id=key[:200],
            number=number[:100] or None,
            placed_at=placed_at,
            currency=currency,
            lines=lines,
            channel=self._channel(values, filled),
            status=status,
            contact=contact,
            discount=money.get(_ORDER_DISCOUNT, 0),
            shipping=money.get(_SHIPPING, 0),
            tax=money.get(_TAX, 0),
            total=total,
            subtotal=money.get(_SUBTOTAL),
            paid_at=instants.get(_PAID_AT),
            fulfilled_at=instants.get(_FULFILLED_AT),
            delivered_at=instants.get(_DELIVERED_AT),
            promised_at=instants.get(_PROMISED_AT),
            cancelled_at=instants.get(_CANCELLED_AT),
            location=values[at].strip() or None if at is not None else None,
            shipping_address=self.table.joined(values, _SHIPPING_ADDRESS),
            coupon_codes=self._coupons(values, filled),
            attributes=attributes,
            refunds=refunds,
            shop_ref=(
                self.format.shop_reference(str(attributes[self.format.shop_ref]))
                if self.format.shop_ref in attributes
                else None
            ),
        )

    def _order_values(self, records: list[Record], errors: list[RowError]) -> Sequence[str]:
        """The first row's cells, with ``CHECKED`` cells checked against the later rows."""
        values = records[0].values
        if len(records) == 1 or not self._checked:
            return values
        merged: list[str] | None = None
        checked, pick = self._checked, self._pick_checked
        for record in records[1:]:
            later = record.values
            if not any(pick(later)):
                continue  # the usual later row: its order's cells left blank
            for pos in checked:
                cell = later[pos]
                if not cell or cell.isspace():
                    continue
                known = (merged or values)[pos]
                if known.strip() == cell.strip():
                    continue
                if not known.strip():
                    merged = merged or list(values)
                    merged[pos] = cell
                    continue
                errors.append(
                    RowError(
                        record.line,
                        self.table.header_cell(pos),
                        f"{cell.strip()!r} differs from {known.strip()!r} on line "
                        f"{records[0].line}: an order's later rows repeat its cells or leave "
                        "them blank",
                        record.raw,
                    )
                )
        return merged or values

    def _instants(
        self, values: Sequence[str], filled: Mapping[Role, int]
    ) -> dict[Role, datetime | None]:
        instant, cells = self.instant, self.table.cells
        found: dict[Role, datetime | None] = {}
        for role in self._instants_at:
            at = filled.get(role)
            if at is not None:
                found[role] = instant(values[at], cells[at])
            elif role is _PLACED_AT:
                found[role] = instant("", self.table.col(role))
            else:
                found[role] = None
        return found

    def _careful_cells(
        self,
        values: Sequence[str],
        filled: Mapping[Role, int],
        first: Record,
        errors: list[RowError],
    ) -> tuple[str, dict[Role, datetime | None], dict[Role, int]]:
        """Currency, instants and amounts, every problem of them recorded."""
        cells = self.table.cells
        currency = self.default_currency
        at = filled.get(_CURRENCY)
        if at is not None:
            currency = _attempt(errors, first, "", currency_code, values[at], cells[at])
        instants: dict[Role, datetime | None] = {}
        for role in self._instants_at:
            at = filled.get(role)
            if at is not None:
                instants[role] = _attempt(errors, first, None, self.instant, values[at], cells[at])
            elif role is _PLACED_AT:
                column = self.table.col(role)
                instants[role] = _attempt(errors, first, None, self.instant, "", column)
        money: dict[Role, int] = {}
        if currency:
            for role in self._money_at:
                at = filled.get(role)
                if at is not None:
                    value = _attempt(errors, first, None, amount, values[at], cells[at], currency)
                    if value is not None:
                        money[role] = value
        return currency, instants, money

    def _status(
        self,
        values: Sequence[str],
        filled: Mapping[Role, int],
        first: Record,
        errors: list[RowError],
    ) -> tuple[str | None, RefundMeaning, dict[str, object]]:
        rank = 0
        meaning = RefundMeaning.none
        attributes: dict[str, object] = {}
        ok = True
        memo = self._words
        for vocabulary, pos in self._status_at:
            text = values[pos]
            known = memo.get((pos, text))
            if known is None:
                try:
                    word = vocabulary.meaning(text, self.table.header_cell(pos))
                except CellProblem as exc:
                    errors.append(RowError(first.line, exc.column, exc.reason, first.raw))
                    ok = False
                    continue
                if len(memo) > 1000:
                    memo.clear()
                known = memo[(pos, text)] = (word, vocabulary.normal(text))
            word, normal = known
            if vocabulary.attribute is not None and normal:
                attributes[vocabulary.attribute] = normal
            if word is None:
                continue
            rank = max(rank, _RANK[word.status])
            if word.refund is not RefundMeaning.none:
                meaning = word.refund
        cancelled_by = self.format.cancelled_by
        if cancelled_by is not None and cancelled_by in filled:
            rank = _RANK["cancelled"]
        return (STATUS_RANK[rank] if ok else None), meaning, attributes

    def _refunds(
        self,
        values: Sequence[str],
        filled: Mapping[Role, int],
        first: Record,
        currency: str,
        instants: Mapping[Role, datetime | None],
        money: Mapping[Role, int],
        meaning: RefundMeaning,
        order_total: int,
    ) -> list[RefundRecord] | None:
        """The order's refunds; ``None`` with ``self._refund_problem`` set when they are wrong."""
        syntax = self.format.refunds
        table = self.table
        if (
            meaning is RefundMeaning.none
            and not money.get(syntax.amount or _REFUNDED)
            and (syntax.items is None or syntax.items not in filled)
        ):
            return []  # the common case: nothing refunded
        dated = next(
            (instants[r] for r in syntax.dated_by if instants.get(r) is not None),
            None,
        ) or max(t for t in instants.values() if t is not None)
        refunds: list[RefundRecord] = []
        column = table.col(syntax.amount) if syntax.amount else None
        listed_at = filled.get(syntax.items) if syntax.items is not None else None
        if listed_at is not None:
            column = table.cells[listed_at]
            for number, item in enumerate(item_list(values[listed_at], self.format.pair_syntax), 1):
                try:
                    value = amount(item.get("amount", ""), column, currency, allow_blank=False)
                    when_text = item.get("date", "")
                    when = self.instant(when_text, column) if when_text.strip() else dated
                except CellProblem as exc:
                    self._refund_problem = RowError(first.line, exc.column, exc.reason, first.raw)
                    return None
                if value:
                    refunds.append(
                        RefundRecord(
                            f"{syntax.item_id}-{number}",
                            value,
                            when,
                            reason=item.get("reason", "").strip()[:1000] or None,
                        )
                    )
        elif syntax.amount is not None and money.get(syntax.amount):
            refunds.append(
                RefundRecord(syntax.external_id, money[syntax.amount], dated, syntax.reason)
            )
        refunded = sum(r.amount for r in refunds)
        if not refunded and meaning is RefundMeaning.whole and order_total > 0:
            refunds.append(RefundRecord(syntax.external_id, order_total, dated, syntax.reason))
        elif not refunded and meaning is RefundMeaning.partial:
            self._refund_problem = RowError(
                first.line,
                column,
                f"{self._partial_word(values)} says partially refunded but no refunded "
                "amount is given",
                first.raw,
            )
            return None
        if refunded > order_total:
            self._refund_problem = RowError(
                first.line,
                column,
                "the refunds add up to more than the order total"
                if len(refunds) > 1
                else "the refunded amount is larger than the order total",
                first.raw,
            )
            return None
        return refunds

    def _partial_word(self, values: Sequence[str]) -> str:
        for vocabulary, pos in self._status_at:
            normal = vocabulary.normal(values[pos])
            word = vocabulary.words.get(normal)
            if word is not None and word.refund is RefundMeaning.partial:
                return f"{self.table.header_cell(pos)} {normal!r}"
        return "the status"  # pragma: no cover - only called for such a word

    def _contact(
        self, values: Sequence[str], filled: Mapping[Role, int], placed_at: datetime
    ) -> Contact:
        cells = self.table.cells
        get = filled.get
        at = get(_EMAIL)
        email = read_email(values[at], cells[at]) if at is not None else None
        at = get(_PHONE)
        phone = read_phone(values[at], cells[at], self.region) if at is not None else None
        at = get(_CUSTOMER_NAME)
        name = values[at].strip() if at is not None else ""
        if not name and (_FIRST_NAME in filled or _LAST_NAME in filled):
            parts = [values[filled[r]].strip() for r in (_FIRST_NAME, _LAST_NAME) if r in filled]
            name = " ".join(p for p in parts if p)
        at = get(_CUSTOMER_ID)
        external = values[at].strip().removesuffix(".0") if at is not None else ""
        if external in self._no_customer:
            external = ""
        at = get(_CITY)
        city = values[at].strip()[:120] if at is not None else ""
        email_opt_in = sms_opt_in = None
        said: list[str] = []
        at = get(_EMAIL_CONSENT)
        if at is not None:
            email_opt_in = optional_yes_no(values[at], cells[at])
            said.append(cells[at])
        at = get(_SMS_CONSENT)
        if at is not None:
            sms_opt_in = optional_yes_no(values[at], cells[at])
            said.append(cells[at])
        return Contact(
            email=email,
            phone=phone,
            name=name[:200] or None,
            external_source=self.source if external else None,
            external_id=external[:200] or None,
            city=city or None,
            email_opt_in=email_opt_in,
            sms_opt_in=sms_opt_in,
            consent_source=f"{self.source} import: {', '.join(said)}" if said else None,
            seen_at=placed_at,
        )

    def _channel(self, values: Sequence[str], filled: Mapping[Role, int]) -> str:
        fmt = self.format
        at = filled.get(_CHANNEL)
        if at is None:
            return fmt.default_channel
        word = values[at].strip().lower()
        found = fmt.channels.get(word, fmt.other_channel)
        if found is None:
            raise CellProblem(
                self.table.cells[at], f"unknown channel {word!r} (use online, in_store or phone)"
            )
        return found

    def _coupons(self, values: Sequence[str], filled: Mapping[Role, int]) -> list[str]:
        at = filled.get(_COUPON_CODES)
        if at is None:
            return []
        text = values[at]
        column = self.format.column(_COUPON_CODES)
        if column is not None and column.kind is Kind.pairs:
            codes = [item.get("code", "") for item in item_list(text, self.format.pair_syntax)]
        else:
            codes = text.split(",")
        return [c.strip()[:64] for c in codes if c.strip()]

    # ------------------------------------------------------------------ lines

    def _row_line(self, record: Record, currency: str, errors: list[RowError]) -> LineRecord | None:
        """The line on ``record`` (the common case read straight from the cells)."""
        values = record.values
        at_qty, at_name, at_price, at_sku, at_discount, at_category, _, _ = self._line_at
        if at_price is None or at_qty is None or at_name is None:
            return self._careful_line(record, currency, errors)
        try:
            qty = quantity(values[at_qty], "")
            price = amount(values[at_price], "", currency, allow_blank=False)
            discount = amount(values[at_discount], "", currency) if at_discount is not None else 0
        except CellProblem:
            return self._careful_line(record, currency, errors)
        name = values[at_name].strip()
        if not name or discount > qty * price:
            return self._careful_line(record, currency, errors)
        if qty == 0:
            return None
        sku = (values[at_sku].strip()[:64] or None) if at_sku is not None else None
        category = (values[at_category].strip()[:120] or None) if at_category is not None else None
        return LineRecord(name[:300], qty, price, sku, discount, category)

    def _careful_line(
        self, record: Record, currency: str, errors: list[RowError]
    ) -> LineRecord | None:
        """The line on ``record``, every problem of it recorded."""
        table, values = self.table, record.values
        _, _, _, at_sku, _, at_category, _, _ = self._line_at

        def cell(role: Role) -> tuple[str, str]:
            return table.first(values, role)

        line = self._make_line(
            record,
            currency,
            errors,
            name=cell(_LINE_NAME),
            qty=cell(_LINE_QUANTITY),
            price=cell(_LINE_PRICE) if table.has(_LINE_PRICE) else None,
            discount=cell(_LINE_DISCOUNT),
            subtotal=cell(_LINE_SUBTOTAL),
            total=cell(_LINE_TOTAL),
        )
        if line is None:
            return None
        if at_sku is not None:
            line.sku = values[at_sku].strip()[:64] or None
        if at_category is not None:
            line.category = values[at_category].strip()[:120] or None
        return line

    def _cell_lines(
        self, record: Record, currency: str, errors: list[RowError]
    ) -> list[LineRecord]:
        """The lines of ``key:value`` cells (``line_item_1``, ``line_item_2``…)."""
        lines: list[LineRecord] = []
        syntax = self.format.pair_syntax
        for pos in self.table.positions[_LINE_ITEMS]:
            text = record.values[pos]
            if not text.strip():
                continue
            column = self.table.header_cell(pos)
            item = split_pairs(text, syntax)
            line = self._make_line(
                record,
                currency,
                errors,
                name=(item.get("name", ""), column),
                qty=(item.get("quantity", ""), column),
                price=None,
                discount=("", column),
                subtotal=(item.get("sub_total", item.get("subtotal", "")), column),
                total=(item.get("total", ""), column),
            )
            if line is not None:
                line.sku = item.get("sku", "").strip()[:64] or None
                lines.append(line)
        return lines

    def _make_line(
        self,
        record: Record,
        currency: str,
        errors: list[RowError],
        *,
        name: tuple[str, str],
        qty: tuple[str, str],
        price: tuple[str, str] | None,
        discount: tuple[str, str],
        subtotal: tuple[str, str],
        total: tuple[str, str],
    ) -> LineRecord | None:
        """A line from a quantity and either a price (and discount) or a subtotal and total.

        Without a price, the unit price is the subtotal (before the line's discounts,
        the total when blank) divided by the quantity, rounded up, and the discount what
        the total is short of it.
        """
        before = len(errors)
        count = _attempt(errors, record, 0, quantity, qty[0], qty[1])
        if price is not None:
            unit = _attempt(errors, record, 0, _required_amount, price[0], price[1], currency)
            off = _attempt(errors, record, 0, amount, discount[0], discount[1], currency)
        else:
            line_total = _attempt(errors, record, 0, _required_amount, total[0], total[1], currency)
            before_discount = (
                _attempt(errors, record, 0, amount, subtotal[0], subtotal[1], currency)
                if subtotal[0].strip()
                else line_total
            )
        if not name[0].strip():
            errors.append(RowError(record.line, name[1], "the line has no name", record.raw))
        if len(errors) > before or count == 0:
            return None
        if price is None:
            before_discount = max(before_discount, line_total)
            unit = -(-before_discount // count)
            off = unit * count - line_total
        elif off > count * unit:
            errors.append(
                RowError(record.line, discount[1], "discount is larger than the line", record.raw)
            )
            return None
        return LineRecord(name=name[0].strip()[:300], quantity=count, unit_price=unit, discount=off)

    # ------------------------------------------------------------------ bounds

    def _out_of_bounds(self, order: OrderRecord, first: Record) -> list[RowError]:
        """Lines and totals beyond ``MAX_AMOUNT`` (each cell may be within it, their product not)."""
        gross = sum([line.quantity * line.unit_price for line in order.lines])
        if gross <= MAX_AMOUNT and order.final_total() <= MAX_AMOUNT:
            return []  # no line can be beyond the bound when all of them together are not
        bound = too_large(order.currency)
        table = self.table
        for number, line in enumerate(order.lines, 1):
            if line.quantity * line.unit_price > MAX_AMOUNT:
                return [
                    RowError(
                        first.line,
                        table.col(_LINE_PRICE) if table.has(_LINE_PRICE) else None,
                        f"line {number} of order {order.external_id} (quantity × price) comes "
                        f"to more than {bound}",
                        first.raw,
                    )
                ]
        return [
            RowError(
                first.line,
                table.col(_TOTAL),
                f"the total of order {order.external_id} comes to more than {bound}",
                first.raw,
            )
        ]

    _refund_problem: RowError


def _required_amount(text: str, column: str, currency: str) -> int:
    return amount(text, column, currency, allow_blank=False)


def _getter(positions: Sequence[int]) -> Callable[[Sequence[str]], tuple[str, ...]]:
    """The cells at ``positions`` of a row, as a tuple (``operator.itemgetter``, always a tuple)."""
    if not positions:
        return lambda values: ()
    if len(positions) == 1:
        at = positions[0]
        return lambda values: (values[at],)
    return itemgetter(*positions)


def _attempt(
    errors: list[RowError], record: Record, default: T, read: Callable[..., T], *args: Any
) -> T:
    """``read(*args)``; a ``CellProblem`` is recorded against ``record`` and ``default`` returned."""
    try:
        return read(*args)
    except CellProblem as exc:
        errors.append(RowError(record.line, exc.column, exc.reason, record.raw))
        return default
