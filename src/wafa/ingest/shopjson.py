"""The shops' REST JSON, read through the same descriptions as their exports.

A webhook's order is turned into the rows of the format's export: one header cell per
column that has ``json`` paths (the column's first name; a joined column gets one cell
per part), the order's cells on the first row and one row per line item. The importer's
parser (``orders.importing.parser``) then reads those rows exactly as it reads a file,
so a status word, an amount, a time, a consent state or a channel means the same
whether it came in a CSV or a webhook. What the columns do not describe (the order's id
in the shop, its refunds with their lines, a customer payload) is read here from the
format's ``JsonShape``, with the same ``values`` rules.

JSON values become cell text: ``null`` is blank, ``true``/``false`` are ``yes``/``no``,
numbers are written as they came. A format whose JSON times carry no offset
(``json_times_utc``: WooCommerce's ``*_gmt``) gets ``+00:00`` added.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from wafa.ingest.describe import JsonShape, Kind, Level, OrderFormat, Pick, Role
from wafa.ingest.values import CellProblem, InstantReader, amount, quantity

__all__ = [
    "JsonRefund",
    "OrderRows",
    "cell",
    "customer_cells",
    "dig",
    "order_rows",
    "refunds",
    "shape",
    "time_text",
]


def shape(fmt: OrderFormat) -> JsonShape:
    """The format's JSON shape; ``ValueError`` when the shop has no JSON described."""
    if fmt.json_shape is None:
        raise ValueError(f"{fmt.name}: no JSON shape described")
    return fmt.json_shape


def dig(data: Any, path: str) -> Any:
    """The value at dotted ``path`` (``fulfillments.0.created_at``), ``None`` when absent."""
    if not path:
        return None
    for part in path.split("."):
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit():
            index = int(part)
            data = data[index] if index < len(data) else None
        else:
            return None
        if data is None:
            return None
    return data


def cell(value: Any) -> str:
    """A JSON value as cell text."""
    if value is None or isinstance(value, (Mapping, list)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _first(data: Any, paths: Sequence[str]) -> str:
    for path in paths:
        text = cell(dig(data, path))
        if text.strip():
            return text
    return ""


def time_text(fmt: OrderFormat, value: Any) -> str:
    """A JSON time as cell text (UTC marked for a format whose JSON times carry no offset)."""
    text = cell(value)
    return _utc(text) if fmt.json_times_utc else text


def _utc(text: str) -> str:
    """A time without an offset, marked UTC (WooCommerce's ``*_gmt``)."""
    text = text.strip()
    if not text or text.endswith(("Z", "z")) or "+" in text[10:] or text[10:].count("-"):
        return text
    return text + "+00:00"


@dataclass(slots=True)
class OrderRows:
    """A JSON order as an export's rows, with where each header cell came from."""

    header: list[str]
    rows: list[list[str]]
    #: header cell -> the JSON path it was read from (for messages).
    paths: dict[str, str] = field(default_factory=dict)
    #: The shop's id of each line kept (a line of quantity 0 is left out by the parser).
    line_ids: list[str] = field(default_factory=list)


def order_rows(fmt: OrderFormat, order: Mapping[str, Any]) -> OrderRows:
    """``order`` (the shop's REST JSON) as the rows of ``fmt``'s export."""
    json = shape(fmt)
    header: list[str] = []
    first: list[str] = []
    paths: dict[str, str] = {}
    line_columns = []
    for column in fmt.columns:
        if not column.json:
            continue
        if column.level is Level.line:
            line_columns.append(column)
            continue
        if column.pick is Pick.joined:
            for name, path in zip(column.names, column.json, strict=True):
                header.append(name)
                first.append(cell(dig(order, path)))
                paths[name] = path
            continue
        name = column.names[0]
        text = _first(order, column.json)
        if column.kind is Kind.instant and fmt.json_times_utc:
            text = _utc(text)
        header.append(name)
        first.append(text)
        paths[name] = " or ".join(column.json)
    # The refunded amount, for a status word that says "refunded in part".
    refunded = fmt.column(fmt.refunds.amount) if fmt.refunds.amount else None
    if refunded is not None and not refunded.json:
        header.append(refunded.names[0])
        first.append(_refunded_total(json, order))
        paths[refunded.names[0]] = json.refunds
    for column in line_columns:
        header.append(column.names[0])
        paths[column.names[0]] = f"{json.lines}.*.{' or '.join(column.json)}"
    items = [i for i in dig(order, json.lines) or [] if isinstance(i, Mapping)]
    rows: list[list[str]] = []
    line_ids: list[str] = []
    # A later row repeats only the order's key (as the exports do), which groups it.
    key = fmt.column(Role.order_key)
    later = [""] * len(first)
    if key is not None and key.names[0] in header:
        at = header.index(key.names[0])
        later[at] = first[at]
    for index, item in enumerate(items or [{}]):
        order_cells = first if index == 0 else later
        rows.append(order_cells + [_first(item, c.json) for c in line_columns])
        if item and _kept(item, line_columns):
            line_ids.append(cell(dig(item, json.line_id)))
    return OrderRows(header, rows, paths, line_ids)


def _kept(item: Mapping[str, Any], line_columns: Sequence[Any]) -> bool:
    """Whether the parser keeps this line (a quantity of 0 is a line removed by an edit)."""
    for column in line_columns:
        if column.role is Role.line_quantity:
            try:
                return quantity(_first(item, column.json), "quantity") > 0
            except CellProblem:
                return True  # the parser refuses it, with its reason
    return True


def _refunded_total(json: JsonShape, order: Mapping[str, Any]) -> str:
    """The refunds' sum as decimal text (major units, as the shop writes amounts)."""
    total = Decimal(0)
    for refund in dig(order, json.refunds) or []:
        for text in _refund_amount_texts(json, refund):
            try:
                total += Decimal(text)
            except InvalidOperation:
                return text  # the parser refuses it, naming the column
    return "" if not total else str(total)


def _refund_amount_texts(json: JsonShape, refund: Mapping[str, Any]) -> list[str]:
    if json.refund_amount is not None:
        text = cell(dig(refund, json.refund_amount)).strip().lstrip("-")
        return [text] if text else []
    found = []
    for transaction in dig(refund, json.refund_transactions or "") or []:
        if not isinstance(transaction, Mapping):
            continue
        if transaction.get("kind", "refund") != "refund":
            continue
        if transaction.get("status") in ("failure", "error"):
            continue
        text = cell(transaction.get("amount")).strip().lstrip("-")
        if text:
            found.append(text)
    return found


@dataclass(frozen=True, slots=True)
class JsonRefund:
    """A refund read from the shop's JSON: its id, amount (minor units), time, lines.

    ``lines`` are ``(shop line id, quantity)``; ``amount`` is ``None`` when the shop gave
    no money figure (the returned lines then decide it).
    """

    external_id: str
    amount: int | None
    refunded_at: datetime | None
    reason: str | None
    lines: tuple[tuple[str, int], ...]
    order_id: str | None = None


def refunds(
    fmt: OrderFormat,
    found: Sequence[Any],
    *,
    currency: str,
    instant: InstantReader,
    at: datetime | None = None,
) -> list[JsonRefund]:
    """The refunds in ``found`` (an order's refund list, or one refund payload in a list).

    A refund without its own time is dated ``at``. ``CellProblem`` names the JSON path of
    a bad amount, time or quantity.
    """
    json = shape(fmt)
    result: list[JsonRefund] = []
    for refund in found:
        if not isinstance(refund, Mapping):
            continue
        refund_id = cell(dig(refund, json.refund_id)).strip()
        if not refund_id:
            raise CellProblem(f"{json.refunds}.{json.refund_id}", "a refund has no id")
        texts = _refund_amount_texts(json, refund)
        where = json.refund_amount or f"{json.refund_transactions}.amount"
        value = sum(amount(t, where, currency, allow_blank=False) for t in texts) if texts else None
        when = at
        if json.refund_at is not None:
            text = time_text(fmt, dig(refund, json.refund_at))
            when = instant.optional(text, json.refund_at) or at
        lines: list[tuple[str, int]] = []
        for item in dig(refund, json.refund_lines or "") or []:
            if not isinstance(item, Mapping):
                continue
            count = quantity(cell(dig(item, json.refund_line_quantity)), json.refund_line_quantity)
            ref = cell(dig(item, json.refund_line_ref)).strip()
            if count and ref:
                lines.append((ref, count))
        reason = cell(dig(refund, json.refund_reason)).strip()[:1000] or None
        order_id = (
            cell(dig(refund, json.refund_order_id)).strip() or None
            if json.refund_order_id
            else None
        )
        result.append(
            JsonRefund(
                f"{fmt.name}-refund-{refund_id}"[:200],
                value or None,
                when,
                reason,
                tuple(lines),
                order_id,
            )
        )
    return result


def customer_cells(fmt: OrderFormat, customer: Mapping[str, Any]) -> dict[Role, str]:
    """A customer payload's facts by role (first filled path of each), blank ones left out."""
    found = {}
    for role, paths in shape(fmt).customer.items():
        text = _first(customer, paths).strip()
        if text:
            found[role] = text
    return found
