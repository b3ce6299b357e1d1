"""Shop exports (Shopify, WooCommerce) read in SQL generated from their descriptions.

Which column plays which role, what each status word means, where refunds are written
and how ``key:value`` cells are split all come from the format's ``OrderFormat``
(``wafa.ingest``), the description the importer reads through. Whether an order is a
sale is ``orders.sales``' rule (``sale_sql``) over the status and amounts read here, so
an order is a purchase to ``wafa analyze`` exactly when it is a sale once imported.

What the analyzer needs beyond the importer: the order's ``total`` (its value) and who
bought (the first filled of the format's customer roles); an order without anyone is a
guest's and is counted and left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from wafa.analytics.reading import words
from wafa.analytics.reading.files import (
    DATE_HINT,
    MAX_REPORTED,
    BadInput,
    Header,
    choose_currency,
    csv_source,
    minor_scale,
    problem,
    quote,
    record_line,
    scalar,
)
from wafa.analytics.reading.result import LoadedOrders, finish
from wafa.analytics.reading.words import literal
from wafa.ingest.describe import Kind, OrderFormat, PairSyntax, Role, Vocabulary

__all__ = ["load_shop"]

_INSTANT = (
    "TRY_CAST(regexp_replace(regexp_replace(trim({c}), ' (UTC|GMT)$', '+00:00'), "
    "' ([+-][0-9][0-9]):?([0-9][0-9])$', '\\1:\\2') AS TIMESTAMPTZ)"
)
_AMOUNT = "TRY_CAST(replace(trim({c}), ',', '') AS DECIMAL(18,6))"


def _blank(expr: str) -> str:
    return f"nullif(trim({expr}), '')"


@dataclass(frozen=True)
class _Check:
    """Rows where ``condition`` holds are refused: ``column``, and what is wrong."""

    condition: str
    column: str
    describe: Callable[[object], str]
    value_sql: str = "NULL"


class _Columns:
    """A file's header bound to a format's roles (the first present name of each)."""

    def __init__(self, header: Header, fmt: OrderFormat) -> None:
        self.fmt = fmt
        fold = str.lower if fmt.any_case else str
        self._present = {fold(n.strip()): n for n in header.names}
        self._fold = fold
        self.header = header

    def all(self, role: Role) -> list[str]:
        """Return every header name of ``role`` present, in the format's order of preference."""
        found = (self._present.get(self._fold(n.strip())) for n in self.fmt.names(role))
        return [n for n in found if n is not None]

    def one(self, role: Role) -> str | None:
        """Return the first header name of ``role`` present."""
        present = self.all(role)
        return present[0] if present else None

    def numbered(self, role: Role) -> list[str]:
        """Return the numbered columns of ``role`` (``line_item_1``…), in the order of their numbers."""
        column = self.fmt.column(role)
        if column is None or column.pattern is None:
            return []
        flags = re.IGNORECASE if self.fmt.any_case else 0
        found = []
        for name in self.header.names:
            match = re.fullmatch(column.pattern, name.strip(), flags)
            if match is not None:
                found.append((int(match.group(1)), name))
        return [name for _, name in sorted(found)]


def _formatted(message: str) -> Callable[[object], str]:
    """Return ``message`` with ``{value}`` filled, as a function of the value."""
    return lambda value: message.format(value=value)


def _unknown(vocabulary: Vocabulary, column: str) -> Callable[[object], str]:
    """Return the importer's message for a word ``vocabulary`` refuses, as a function."""
    return lambda value: words.unknown_message(vocabulary, str(value), column)


def _pair_sql(cell: str, key: str, syntax: PairSyntax) -> str:
    """Return SQL for the value of ``key`` in a ``name:A|sku:B`` cell ('' when absent)."""
    sep, colon = re.escape(syntax.pairs), re.escape(syntax.key)
    pattern = rf"(?:^|{sep})\s*{re.escape(key)}\s*{colon}([^{sep}]*)"
    return f"trim(regexp_extract({cell}, {literal(pattern)}, 1))"


def _has_pair_sql(cell: str, key: str, syntax: PairSyntax) -> str:
    """Return SQL testing whether a ``name:A|sku:B`` cell has ``key``."""
    sep, colon = re.escape(syntax.pairs), re.escape(syntax.key)
    pattern = rf"(?:^|{sep})\s*{re.escape(key)}\s*{colon}"
    return f"regexp_matches({cell}, {literal(pattern)})"


def _customer_sql(columns: _Columns) -> tuple[str | None, list[str]]:
    """Return SQL for who bought (the first filled customer role), and the roles' first names."""
    fmt = columns.fmt
    parts: list[str] = []
    for role in fmt.customer:
        column = fmt.column(role)
        if column is None:
            continue
        for name in columns.all(role):
            key = _blank(quote(name))
            if column.none_words:
                listed = ", ".join(literal(w) for w in column.none_words)
                key = f"CASE WHEN {key} IN ({listed}) THEN NULL ELSE {key} END"
            if column.kind is Kind.email:
                key = f"lower({key})"
            elif column.kind is Kind.phone:
                key = f"nullif(regexp_replace({key}, '[^0-9+]', '', 'g'), '')"
            parts.append(key)
    wanted = [fmt.primary(role) for role in fmt.customer]
    if not parts:
        return None, wanted
    return (f"coalesce({', '.join(parts)})" if len(parts) > 1 else parts[0]), wanted


def _refund_parts(
    con: duckdb.DuckDBPyConnection, cell: str, syntax: PairSyntax, checks: list[_Check], name: str
) -> None:
    """Split the refunds cell into ``wafa_refund_parts`` (one row per refund) and check them."""
    amount_text = _pair_sql("part", "amount", syntax)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE wafa_refund_parts AS
        SELECT record, pos, trim(part) AS part,
               {_has_pair_sql("part", "amount", syntax)} AS has_amount,
               {amount_text} AS amount_text, {_AMOUNT.format(c=amount_text)} AS amount
        FROM (
            SELECT record, unnest(string_split({cell}, {literal(syntax.items)})) AS part,
                   generate_subscripts(string_split({cell}, {literal(syntax.items)}), 1) AS pos
            FROM wafa_raw WHERE {_blank(cell)} IS NOT NULL
        )
        WHERE trim(part) <> ''
        """
    )
    for bad, shown, message in (
        ("NOT has_amount", "part", "the refund {value!r} has no amount"),
        ("has_amount AND amount IS NULL", "amount_text", "{value!r} is not a decimal amount"),
        ("amount < 0", "amount_text", "{value!r}: a refunded amount cannot be negative"),
    ):
        checks.append(
            _Check(
                f"record IN (SELECT record FROM wafa_refund_parts WHERE {bad})",
                name,
                _formatted(message),
                f"(SELECT arg_min(p.{shown}, p.pos) FROM wafa_refund_parts p "
                f"WHERE p.record = wafa_raw.record AND {bad})",
            )
        )


def _refuse(
    con: duckdb.DuckDBPyConnection, path: Path, header: Header, checks: Sequence[_Check]
) -> None:
    """Raise the first check any row fails, with its lines (the first few) and count."""
    for check in checks:
        found = con.execute(
            f"SELECT record, {check.value_sql} FROM wafa_raw WHERE {check.condition} "
            f"ORDER BY record LIMIT {MAX_REPORTED}"
        ).fetchall()
        if found:
            count = int(scalar(con, f"SELECT count(*) FROM wafa_raw WHERE {check.condition}"))
            raise problem(
                path,
                [
                    (record_line(path, header, int(r)), check.column, check.describe(v))
                    for r, v in found
                ],
                count,
            )


def _order_without(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    header: Header,
    order: str,
    column: str,
    what: str,
) -> None:
    """Refuse an order none of whose rows fills ``column`` (its date, its total)."""
    found = con.execute(
        f"SELECT min(record), trim({quote(order)}) FROM wafa_raw "
        f"WHERE {_blank(quote(order))} IS NOT NULL GROUP BY 2 "
        f"HAVING count({_blank(quote(column))}) = 0 ORDER BY 1 LIMIT 1"
    ).fetchone()
    if found is not None:
        line = record_line(path, header, int(found[0]))
        raise problem(path, [(line, column, f"order {found[1]!r} has no {what}")], 1)


def load_shop(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    header: Header,
    fmt: OrderFormat,
    *,
    currency: str | None,
    default_currency: str,
) -> LoadedOrders:
    """Read a shop export described by ``fmt`` into ``wafa_orders`` and ``wafa_items``."""
    columns = _Columns(header, fmt)
    q = quote
    order, placed, total = (columns.one(r) for r in (Role.order_key, Role.placed_at, Role.total))
    customer_expr, customer_names = _customer_sql(columns)
    missing = [
        fmt.primary(role)
        for role, found in ((Role.order_key, order), (Role.placed_at, placed), (Role.total, total))
        if found is None
    ]
    if customer_expr is None:
        missing.append(" or ".join(customer_names))
    if missing:
        raise BadInput(
            f"{path.name}, line 1: this does not look like a {fmt.title}: "
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
            [(("line", 1, "column", m), "missing") for m in missing],
        )
    if order is None or placed is None or total is None or customer_expr is None:
        raise AssertionError("required columns were checked above")  # pragma: no cover
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE wafa_raw AS SELECT ordinality - 1 AS record, * "
        f"FROM {csv_source(path, header, None)} WITH ORDINALITY"
    )
    rows = int(scalar(con, "SELECT count(*) FROM wafa_raw"))

    def bad_amount(name: str) -> _Check:
        return _Check(
            f"{_blank(q(name))} IS NOT NULL AND {_AMOUNT.format(c=q(name))} IS NULL",
            name,
            lambda v: f"{v!r} is not a decimal amount",
            q(name),
        )

    checks = [
        _Check(f"{_blank(q(order))} IS NULL", order, lambda _: "the order id is empty"),
        # Order-level cells may be blank on an order's later rows (Shopify): only filled
        # ones are tested.
        _Check(
            f"{_blank(q(placed))} IS NOT NULL AND {_INSTANT.format(c=q(placed))} IS NULL",
            placed,
            lambda v: f"{v!r} is not {DATE_HINT}",
            q(placed),
        ),
        bad_amount(total),
    ]
    # Status words: each status column through its vocabulary; a word a strict
    # vocabulary does not know is refused with the importer's own message.
    bits = []
    for vocabulary in fmt.statuses:
        name = columns.one(vocabulary.role)
        if name is None:
            continue
        cell_bits = words.bits_sql(vocabulary, q(name))
        bits.append(cell_bits)
        if vocabulary.strict:
            checks.append(
                _Check(
                    f"({cell_bits} & {words.UNKNOWN}) <> 0",
                    name,
                    _unknown(vocabulary, name),
                    q(name),
                )
            )
    cancelled_by = columns.one(fmt.cancelled_by) if fmt.cancelled_by else None
    if cancelled_by:
        bits.append(f"CASE WHEN {_blank(q(cancelled_by))} IS NOT NULL THEN {words.CANCELLED} END")
    row_bits = f"({' | '.join(f'coalesce({b}, 0)' for b in bits)})" if bits else "0"
    refunded = columns.one(fmt.refunds.amount) if fmt.refunds.amount else None
    if refunded:
        checks.append(bad_amount(refunded))
    refund_items = columns.one(fmt.refunds.items) if fmt.refunds.items else None
    syntax = fmt.pair_syntax
    if refund_items:
        _refund_parts(con, q(refund_items), syntax, checks, refund_items)
    quantity = columns.one(Role.line_quantity)
    if quantity:
        checks.append(
            _Check(
                f"{_blank(q(quantity))} IS NOT NULL "
                f"AND TRY_CAST(trim({q(quantity)}) AS BIGINT) IS NULL",
                quantity,
                lambda v: f"{v!r} is not a whole number",
                q(quantity),
            )
        )
    sku = columns.one(Role.line_sku)
    line_items = [] if sku else columns.numbered(Role.line_items)
    for cell in line_items:
        qty_text = _pair_sql(q(cell), "quantity", syntax)
        checks.append(
            _Check(
                f"nullif({qty_text}, '') IS NOT NULL AND TRY_CAST({qty_text} AS BIGINT) IS NULL",
                cell,
                lambda v: f"the quantity {v!r} is not a whole number",
                qty_text,
            )
        )
    _refuse(con, path, header, checks)
    _order_without(con, path, header, order, placed, "date")
    _order_without(con, path, header, order, total, "total")

    currency_col = columns.one(Role.currency)
    chosen = choose_currency(
        con, "wafa_raw", q(currency_col) if currency_col else None, currency, default_currency, path
    )
    scale = minor_scale(chosen)
    amounts = []
    refund_join = ""
    if refund_items:
        amounts.append("wafa_refund_sum")
        refund_join = (
            "LEFT JOIN (SELECT record AS wafa_refund_record, sum(amount) AS wafa_refund_sum "
            "FROM wafa_refund_parts GROUP BY 1) ON wafa_refund_record = record"
        )
    if refunded:
        amounts.append(_AMOUNT.format(c=q(refunded)))
    # Refunds listed one by one win over a running total, as in the importer.
    refunded_minor = f"round(coalesce({', '.join(amounts)}, 0) * {scale})" if amounts else "0"
    in_currency = (
        f"upper(coalesce({_blank(q(currency_col))}, {literal(chosen)})) = {literal(chosen)}"
        if currency_col
        else "TRUE"
    )
    # Order-level cells: Shopify fills them on the first row, WooCommerce repeats them;
    # max() over the order's rows reads them once either way.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE wafa_shop_orders AS
        SELECT trim({q(order)}) AS order_id,
               max({customer_expr}) AS customer_id,
               min(CAST({_INSTANT.format(c=q(placed))} AS DATE) - DATE '1970-01-01')::INTEGER AS day,
               max(round({_AMOUNT.format(c=q(total))} * {scale}))::BIGINT AS gross,
               max({refunded_minor})::BIGINT AS refunded_given,
               bit_or({row_bits})::INTEGER AS bits,
               min(record) AS first_record,
               bool_and({in_currency}) AS in_currency
        FROM wafa_raw {refund_join}
        WHERE {_blank(q(order))} IS NOT NULL
        GROUP BY 1
        """
    )
    partial = con.execute(
        f"SELECT first_record FROM wafa_shop_orders WHERE (bits & {words.PARTIAL}) <> 0 "
        "AND refunded_given = 0 ORDER BY 1 LIMIT 1"
    ).fetchone()
    if partial is not None:
        status_column = next(
            n for v in fmt.statuses if (n := columns.one(v.role)) is not None
        )  # a partial word came from a status column
        raise problem(
            path,
            [
                (
                    record_line(path, header, int(partial[0])),
                    refunded or refund_items or status_column,
                    "the status says partially refunded but no refunded amount is given",
                )
            ],
            1,
        )
    guests = int(scalar(con, "SELECT count(*) FROM wafa_shop_orders WHERE customer_id IS NULL"))
    other = int(
        scalar(
            con,
            "SELECT count(*) FROM wafa_shop_orders WHERE NOT in_currency AND customer_id IS NOT NULL",
        )
    )
    # Imported here: the rule's module brings SQLAlchemy, which the read before this
    # does not need (``wafa analyze`` imports it in a thread meanwhile).
    from wafa.orders.sales import sale_sql

    # A word meaning "refunded in full" refunds the whole total when no amount is given
    # (an order of no value is refunded nothing); then the sale rule decides.
    cancelled = f"((bits & {words.CANCELLED}) <> 0)"
    refunded_sql = (
        f"CASE WHEN (bits & {words.WHOLE}) <> 0 AND refunded_given = 0 AND gross > 0 "
        "THEN gross ELSE refunded_given END"
    )
    status = f"CASE WHEN {cancelled} THEN 'cancelled' ELSE 'paid' END"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE wafa_orders AS
        SELECT customer_id, order_id, day, gross,
               CASE WHEN refunded > 0 AND refunded >= gross THEN 0 ELSE gross - refunded END AS net,
               {sale_sql("status", "gross", "refunded")} AS purchase,
               {cancelled} AS voided,
               refunded > 0 AND refunded >= gross AS refunded_fully,
               refunded > 0 AND refunded < gross AS refunded_partly,
               NULL::TIMESTAMPTZ AS promised_at, NULL::TIMESTAMPTZ AS delivered_at
        FROM (
            SELECT *, {refunded_sql} AS refunded, {status} AS status FROM wafa_shop_orders
        )
        WHERE customer_id IS NOT NULL AND in_currency
        """
    )
    has_items = _items(con, q(order), sku, quantity, line_items, syntax)
    con.execute("DROP TABLE wafa_raw")
    con.execute("DROP TABLE wafa_shop_orders")
    con.execute("DROP TABLE IF EXISTS wafa_refund_parts")
    return finish(con, chosen, rows, other, guests, has_items, False, path)


def _items(
    con: duckdb.DuckDBPyConnection,
    order: str,
    sku: str | None,
    quantity: str | None,
    line_items: Sequence[str],
    syntax: PairSyntax,
) -> bool:
    """Build ``wafa_items`` (each order's products) and give each order its list of them."""
    q = quote
    if sku:
        qty = f"coalesce(TRY_CAST(trim({q(quantity)}) AS BIGINT), 1)" if quantity else "1"
        lines = (
            f"SELECT trim({order}) AS order_key, trim({q(sku)}) AS sku, {qty} AS quantity "
            "FROM wafa_raw"
        )
    elif line_items:
        lines = " UNION ALL ".join(
            f"SELECT trim({order}) AS order_key, {_pair_sql(q(c), 'sku', syntax)} AS sku, "
            f"coalesce(TRY_CAST({_pair_sql(q(c), 'quantity', syntax)} AS BIGINT), 1) AS quantity "
            f"FROM wafa_raw WHERE {_blank(q(c))} IS NOT NULL"
            for c in line_items
        )
    else:
        return False
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE wafa_items AS
        SELECT o.customer_id, o.order_id, r.sku, sum(r.quantity)::BIGINT AS quantity
        FROM ({lines}) r JOIN wafa_orders o ON o.order_id = r.order_key
        WHERE nullif(r.sku, '') IS NOT NULL
        GROUP BY 1, 2, 3
        HAVING sum(r.quantity) > 0
        """
    )
    has_items = bool(scalar(con, "SELECT count(*) > 0 FROM wafa_items"))
    # Give each order its list of products, as the generic reader does.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE wafa_orders_with_items AS
        SELECT o.*, i.skus
        FROM wafa_orders o LEFT JOIN (
            SELECT customer_id, order_id, list(sku ORDER BY sku) AS skus
            FROM wafa_items GROUP BY 1, 2
        ) i USING (customer_id, order_id)
        """
    )
    con.execute("DROP TABLE wafa_orders")
    con.execute("ALTER TABLE wafa_orders_with_items RENAME TO wafa_orders")
    return has_items
