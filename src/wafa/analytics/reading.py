"""Read an order export straight into DuckDB for ``wafa analyze`` (no database needed).

Three formats are understood; each becomes the same two DuckDB tables in the given
connection:

``wafa_orders``
    one row per order: ``customer_id``, ``order_id``, ``day`` (the local calendar day,
    as days since 1970-01-01), ``gross`` and ``net`` (integer minor units, ``net`` after
    refunds), ``purchase`` (whether it counts as a purchase), ``promised_at`` and
    ``delivered_at`` (when the file carries them).
``wafa_items``
    one row per order line with a product code: ``customer_id``, ``order_id``, ``sku``,
    ``quantity`` (only when the file names products).

Refunds and cancellations follow one rule in every format, the same rule the database
summary uses: a cancelled, voided or fully refunded order is not a purchase, and a
partial refund reduces the order's value. An order whose value after refunds is zero or
less is not a purchase either.

Generic CSV (``--format generic``)
----------------------------------
A header row, then one row per order, or one row per order line (then ``total`` is the
line's amount and the order's value is the sum of its rows). Columns, in any order, with
any letter case:

=================  ===========================================================================
``customer_id``    required; who bought
``order_id``       required; rows sharing it are one order
``placed_at``      required; ISO 8601 date (``2024-03-01``) or date-time
                   (``2024-03-01T14:30:00+03:30``); a time without an offset is local time
                   in the business's timezone
``total``          required; a decimal amount in major units (``12.50``), at most as many
                   decimal places as the currency has; a negative row (a refund line)
                   reduces its order
``sku``            optional; product code of the line (enables recommendations)
``quantity``       optional; accepted and not used (a product counts once per order)
``currency``       optional; ISO 4217 code; the most common one is analysed and orders in
                   others are counted and left out (a warning says how many)
``status``         optional; ``cancelled``/``canceled``/``voided``/``failed``/``declined``
                   (not a purchase), ``refunded`` (fully refunded: not a purchase); anything
                   else is a purchase
``refunded``       optional; amount refunded on the row (a partial refund)
``promised_at``    optional; promised delivery date or date-time (on-time delivery rate)
``delivered_at``   optional; actual delivery date-time
=================  ===========================================================================

Shopify (``--format shopify``) reads the Orders export (Admin > Orders > Export): rows
grouped by ``Name``, the customer is the ``Email`` (else the phone), ``Created at`` is
the purchase time, ``Total`` and ``Refunded Amount`` give the value, ``Cancelled at`` or
a ``voided`` financial status cancels, ``refunded`` is a full refund, and
``Lineitem sku``/``Lineitem quantity`` name the products.

WooCommerce (``--format woocommerce``) reads the order exports of the common export
extensions (WooCommerce Customer/Order CSV Export, WebToffee "Order Export & Order Import
for WooCommerce" and alike): ``order_id`` (or ``order_number``), ``order_date``,
``status`` (``wc-`` prefix allowed), ``order_total``, ``order_currency``, and the customer
as ``customer_id`` (when not 0) else ``billing_email``. The refunded amount is
``refunded_total``, or else the sum of the ``amount:`` parts of ``refund_items``
(WebToffee: refunds separated by ``;``, each like
``amount:4.50|reason:Cold drink|date:2025-09-04 09:00:00``). The products are
``item_sku``/``item_quantity`` when exported one row per item (order-level values
repeated on each item row are read once), or else the ``sku:`` and ``quantity:`` parts of
each ``line_item_1``, ``line_item_2``… cell when exported one row per order (WebToffee:
``name:Flat white|product_id:13|sku:COF-FW|quantity:2|total:8.00``; a line without a
quantity counts once, one without a SKU is left out).

Every error names the line and the column (line 1 is the header).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import math
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from wafa.core.errors import Invalid, Loc
from wafa.core.money import is_currency, minor_digits

__all__ = ["BadInput", "InputFormat", "LoadedOrders", "connect", "load_orders"]

#: Status words that make an order "not a purchase" (compared lower-case, ``wc-`` removed).
VOID_STATUSES = ("cancelled", "canceled", "voided", "void", "failed", "declined")
REFUNDED_STATUSES = ("refunded",)
#: Common status words that leave an order a purchase, recognised as written before
#: any lower-casing (most rows of a big export carry one of them).
PLAIN_STATUSES = (
    "",
    "completed",
    "complete",
    "paid",
    "delivered",
    "shipped",
    "processing",
    "fulfilled",
    "pending",
    "partially_refunded",
    "partially-refunded",
    "wc-completed",
    "wc-processing",
)
#: How many problems an error message lists before "and N more".
MAX_REPORTED = 5

DATE_HINT = "an ISO 8601 date or date-time such as 2024-03-01 or 2024-03-01T14:30:00+03:30"


class InputFormat(StrEnum):
    """Layouts ``wafa analyze`` reads."""

    generic = "generic"
    shopify = "shopify"
    woocommerce = "woocommerce"


class BadInput(Invalid):
    """The export cannot be read; ``errors`` name the line and column of each problem."""

    code = "bad-input"


@dataclass(frozen=True)
class LoadedOrders:
    """What was read: counts for the report and the facts later steps need.

    Attributes
    ----------
    currency : str
        ISO 4217 code of the amounts analysed (minor units follow it).
    rows : int
        Data rows read (lines after the header, records spanning lines counted once).
    orders : int
        Distinct orders in the analysed currency.
    purchases : int
        Orders that count as purchases.
    cancelled, refunded, partially_refunded : int
        Orders cancelled or voided, fully refunded, partly refunded.
    other_currency_orders : int
        Orders left out because they are in another currency.
    guest_orders : int
        Orders without a customer (Shopify/WooCommerce guests) left out.
    has_items : bool
        Whether ``wafa_items`` holds product codes.
    has_delivery : bool
        Whether promised and delivered times are present.
    first_day, last_day : int
        First and last purchase day (days since 1970-01-01).
    warnings : list of str
        Plain-language notes for the report.
    """

    currency: str
    rows: int
    orders: int
    purchases: int
    cancelled: int
    refunded: int
    partially_refunded: int
    other_currency_orders: int
    guest_orders: int
    has_items: bool
    has_delivery: bool
    first_day: int
    last_day: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Column:
    canonical: str
    duck_type: str
    required: bool = False


GENERIC_COLUMNS = (
    _Column("customer_id", "VARCHAR", required=True),
    _Column("order_id", "VARCHAR", required=True),
    # Read as text and parsed in SQL: naive times (the common case) take the fast path.
    _Column("placed_at", "VARCHAR", required=True),
    _Column("total", "DECIMAL(18,6)", required=True),
    _Column("sku", "VARCHAR"),
    _Column("quantity", "VARCHAR"),
    _Column("currency", "VARCHAR"),
    _Column("status", "VARCHAR"),
    _Column("refunded", "DECIMAL(18,6)"),
    _Column("promised_at", "TIMESTAMPTZ"),
    _Column("delivered_at", "TIMESTAMPTZ"),
)

_TYPE_HINTS = {
    "TIMESTAMPTZ": DATE_HINT,
    "DECIMAL(18,6)": "a decimal amount such as 12.50 (a dot for decimals, no thousands separator)",
    "BIGINT": "a whole number",
}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class _Header:
    names: list[str]
    delimiter: str
    encoding: str


def _read_header(path: Path) -> _Header:
    try:
        raw = path.open("rb")
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot be read ({exc.strerror})") from None
    with raw:
        first = raw.readline(1 << 20)
    encoding = "utf-8"
    if first.startswith(codecs.BOM_UTF8):
        first = first[len(codecs.BOM_UTF8) :]
        encoding = "utf-8-sig"
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"{path}, line 1: the file is not UTF-8 text (byte {exc.start + 1}); "
            "save it as UTF-8 CSV and try again",
            [(("line", 1), "not UTF-8")],
        ) from None
    text = text.rstrip("\r\n")
    if not text.strip():
        raise BadInput(f"{path}, line 1: the file is empty; a header row is needed", [])
    counts = {d: text.count(d) for d in (",", ";", "\t", "|")}
    delimiter = max(counts, key=lambda d: counts[d])
    if counts[delimiter] == 0:
        delimiter = ","
    names = next(csv.reader([text], delimiter=delimiter))
    return _Header([n.strip() for n in names], delimiter, encoding)


def _record_line(path: Path, header: _Header, record_index: int) -> int:
    """Physical line (1-based, header = 1) where data record ``record_index`` (0-based) starts."""
    with path.open(encoding=header.encoding, newline="", errors="replace") as fh:
        reader = csv.reader(fh, delimiter=header.delimiter)
        next(reader, None)
        previous = reader.line_num
        index = 0
        for row in reader:
            if not row:  # blank lines are not records
                previous = reader.line_num
                continue
            if index == record_index:
                return previous + 1
            index += 1
            previous = reader.line_num
    return record_index + 2


def _problem(path: Path, problems: Sequence[tuple[int, str, str]], total: int) -> BadInput:
    """Build the error: ``problems`` are ``(line, column, message)``."""
    errors: list[tuple[Loc, str]] = [
        (("line", line, "column", column), message) for line, column, message in problems
    ]
    line, column, message = problems[0]
    more = f" (and {total - 1} more problem{'s' if total > 2 else ''})" if total > 1 else ""
    return BadInput(f"{path.name}, line {line}, column {column}: {message}{more}", errors)


def _csv_source(
    path: Path, header: _Header, columns: dict[str, str] | None, *, rejects: bool = True
) -> str:
    options = [
        "header=true",
        f"delim={_literal(header.delimiter)}",
        "quote='\"'",
        "escape='\"'",
        "auto_detect=false",
        "null_padding=false",
    ]
    if columns is None:
        options.append("all_varchar=true")
        options.append(
            "columns={" + ", ".join(f"{_literal(n)}: 'VARCHAR'" for n in header.names) + "}"
        )
    else:
        options.append(
            "columns={"
            + ", ".join(f"{_literal(n)}: {_literal(t)}" for n, t in columns.items())
            + "}"
        )
        options.append("store_rejects=true" if rejects else "ignore_errors=true")
    return f"read_csv({_literal(str(path))}, {', '.join(options)})"


def _check_rejects(con: duckdb.DuckDBPyConnection, path: Path, header: _Header) -> None:
    rows = con.execute(
        "SELECT line, column_name, error_type, csv_line, error_message, column_idx "
        "FROM reject_errors ORDER BY line"
    ).fetchall()
    if not rows:
        return
    total = len(rows)
    problems: list[tuple[int, str, str]] = []
    for line, column, kind, csv_line, message, column_idx in rows[:MAX_REPORTED]:
        column_name = column or "-"
        if kind == "CAST":
            try:
                cells = next(csv.reader([str(csv_line).strip("\r\n")], delimiter=header.delimiter))
                value = cells[int(column_idx) - 1] if column_idx else ""
            except (StopIteration, IndexError, ValueError, csv.Error):
                value = ""
            duck_type = next(
                (
                    c.duck_type
                    for c in GENERIC_COLUMNS
                    if c.canonical == column_name.strip().lower()
                ),
                "",
            )
            hint = _TYPE_HINTS.get(duck_type, "a valid value")
            text = f"{value!r} is not {hint}"
        elif kind in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
            text = (
                f"{kind.lower()}: the header has {len(header.names)} columns "
                f"separated by {header.delimiter!r}"
            )
        elif kind == "INVALID UNICODE":
            text = "not UTF-8 text; save the file as UTF-8 CSV"
        else:
            text = str(message)
        problems.append((int(line), column_name, text))
    raise _problem(path, problems, total)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    row = con.execute(sql, list(params)).fetchone()
    return None if row is None else row[0]


def _choose_currency(
    con: duckdb.DuckDBPyConnection,
    table: str,
    column: str | None,
    requested: str | None,
    default: str,
    path: Path,
) -> str:
    if requested is not None:
        code = requested.strip().upper()
        if not is_currency(code):
            raise BadInput(f"--currency {requested!r} is not an ISO 4217 currency code")
        return code
    if column is None:
        return default
    found = con.execute(
        f"SELECT upper(trim({column})) c, count(*) n FROM {table} "
        f"WHERE {column} IS NOT NULL AND trim({column}) <> '' GROUP BY 1 ORDER BY n DESC, c LIMIT 1"
    ).fetchone()
    if found is None:
        return default
    code = str(found[0])
    if not is_currency(code):
        raise BadInput(
            f"{path.name}: {code!r} in the currency column is not an ISO 4217 currency code",
            [(("column", "currency"), f"{code!r} is not a currency code")],
        )
    return code


def _scale(currency: str) -> int:
    return int(math.pow(10, minor_digits(currency)))


# --------------------------------------------------------------------------- generic


def _fixed_offset_us(zone: str) -> int | None:
    """Return the zone's UTC offset in microseconds if it never changes, else None."""
    tz = ZoneInfo(zone)
    offsets = {
        dt.datetime(year, month, 15, 12, tzinfo=dt.UTC).astimezone(tz).utcoffset()
        for year in range(1990, 2041, 5)
        for month in (1, 4, 7, 10)
    }
    if len(offsets) != 1:
        return None
    offset = offsets.pop()
    return None if offset is None else int(offset.total_seconds() * 1_000_000)


def _day_sql(column: str, zone: str) -> str:
    """Return SQL for the local day (days since 1970-01-01) of an ISO 8601 text column.

    A time without an offset is already local: its date is read directly (the fast,
    common path). A time with an offset is an instant, converted to the business's
    zone (plain arithmetic when the zone's offset never changes). Text that is not a
    date gives NULL.
    """
    offset = _fixed_offset_us(zone)
    instant = f"TRY_CAST({column} AS TIMESTAMPTZ)"
    with_offset = (
        f"((epoch_us({instant}) + {offset}) // 86400000000)"
        if offset is not None
        else f"(CAST({instant} AS DATE) - DATE '1970-01-01')"
    )
    # Up to 19 characters (2024-03-01, 2024-03-01 14:30, 2024-03-01T14:30:00) an offset
    # can only be a short "Z", "+03" or "-05" after hours and minutes: cheap tests rule
    # those out, and everything longer goes through the offset-aware parser.
    naive = (
        f"length({column}) <= 19 AND right({column}, 1) NOT IN ('Z', 'z') "
        f"AND strpos({column}, '+') = 0 AND substr({column}, 17, 1) <> '-'"
    )
    local = f"CAST(TRY_CAST({column} AS TIMESTAMP) AS DATE) - DATE '1970-01-01'"
    # The commonest shape of all, 2024-03-01T14:30:00, is recognised first by two tests.
    common = f"strlen({column}) = 19 AND substr({column}, 17, 1) = ':'"
    return f"(CASE WHEN {common} THEN {local} WHEN {naive} THEN {local} ELSE {with_offset} END)"


#: Bits of an order's ``flags`` (``bit_or`` over its rows of per-row flags): one
#: integer aggregate costs far less than a ``bool_or`` per condition on a big file.
FLAG_BITS = {
    "no_date": 1,
    "no_total": 2,
    "negative_refund": 4,
    "void": 8,
    "full_refund": 16,
    "total_fraction": 32,
    "total_fraction0": 32,
    "total_fraction2": 64,
    "total_fraction3": 128,
    "refund_fraction": 256,
    "refund_fraction0": 256,
    "refund_fraction2": 512,
    "refund_fraction3": 1024,
    "total_fraction4": 2048,
    "refund_fraction4": 4096,
    "no_order": 8192,
    "no_customer": 16384,
}


def _flag(name: str) -> str:
    """Return SQL testing one of :data:`FLAG_BITS` on an aggregated order."""
    return f"((flags & {FLAG_BITS[name]}) <> 0)"


def _orders_select(source: str, names: Collection[str], currency: str, where: str) -> str:
    """Derive each order's purchase flag and values (minor units) from the aggregate.

    A cancelled or voided order is not a purchase; neither is one fully refunded (by its
    status or by refunds reaching its value); a partial refund lowers its value. Every
    aggregated column is kept (the checks read them).
    """
    per_minor = 10 ** (6 - minor_digits(currency))
    gross = f"(gross_micro // {per_minor})"
    refunded = f"(refunded_micro // {per_minor})"
    void = _flag("void") if "void" in names else "false"
    status_refund = _flag("full_refund") if "full_refund" in names else "false"
    full = f"({status_refund} OR ({refunded} > 0 AND {refunded} >= {gross}))"
    defaults = {
        "promised_at": "NULL::TIMESTAMPTZ",
        "delivered_at": "NULL::TIMESTAMPTZ",
        "currency": "NULL::VARCHAR",
        "currency_max": "NULL::VARCHAR",
    }
    missing = ", ".join(f"{sql} AS {name}" for name, sql in defaults.items() if name not in names)
    return f"""
        SELECT *,{f" {missing}," if missing else ""}
               {gross} AS gross,
               CASE WHEN {full} THEN 0 ELSE {gross} - {refunded} END AS net,
               NOT {void} AND NOT {full} AS purchase,
               {void} AS voided,
               {full} AS refunded_fully,
               NOT {full} AND {refunded} > 0 AS refunded_partly
        FROM ({source})
        WHERE {where}
    """


def _load_generic(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    header: _Header,
    *,
    currency: str | None,
    default_currency: str,
    zone: str,
    items: bool,
) -> LoadedOrders:
    by_canonical: dict[str, str] = {}
    for name in header.names:
        key = name.strip().lower()
        if key in by_canonical:
            raise BadInput(
                f"{path.name}, line 1: the column {key!r} appears twice",
                [(("line", 1, "column", key), "appears twice")],
            )
        by_canonical[key] = name
    missing = [
        c.canonical for c in GENERIC_COLUMNS if c.required and c.canonical not in by_canonical
    ]
    if missing:
        raise BadInput(
            f"{path.name}, line 1: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (the header must name customer_id, order_id, placed_at "
            f"and total; found {', '.join(header.names) or 'nothing'})",
            [(("line", 1, "column", m), "missing") for m in missing],
        )
    known = {c.canonical: c for c in GENERIC_COLUMNS}
    columns = {
        name: known[name.strip().lower()].duck_type if name.strip().lower() in known else "VARCHAR"
        for name in header.names
    }

    def col(canonical: str) -> str | None:
        name = by_canonical.get(canonical)
        return None if name is None else _quote(name)

    raw = {c: _quote(by_canonical[c]) for c in by_canonical}
    cid, oid, placed, total = (raw[c] for c in ("customer_id", "order_id", "placed_at", "total"))
    refunded, status = col("refunded"), col("status")
    currency_col, promised, delivered = col("currency"), col("promised_at"), col("delivered_at")
    sku = col("sku")
    # Minor units are known before reading unless the file names its currency per row.
    known_currency = None if currency_col and currency is None else (currency or default_currency)
    if known_currency is not None and not is_currency(known_currency.strip().upper()):
        raise BadInput(f"--currency {known_currency!r} is not an ISO 4217 currency code")
    promised_sql = "NULL::TIMESTAMPTZ"
    if promised:
        # A promise given as a bare date means "by the end of that day".
        promised_sql = (
            f"CASE WHEN {promised} = date_trunc('day', {promised}) "
            f"THEN {promised} + INTERVAL 1 DAY - INTERVAL 1 MICROSECOND ELSE {promised} END"
        )

    def precision(micro: str, name: str) -> dict[str, str]:
        # Whether amounts have more decimal places than the currency allows; with the
        # currency unknown until the file is read, one flag per common number of digits.
        if known_currency is not None:
            step = 10 ** (6 - minor_digits(known_currency.strip().upper()))
            return {f"{name}_fraction": f"{micro} % {step} <> 0"}
        return {
            f"{name}_fraction0": f"{micro} % 1000000 <> 0",
            f"{name}_fraction2": f"{micro} % 10000 <> 0",
            f"{name}_fraction3": f"{micro} % 1000 <> 0",
            f"{name}_fraction4": f"{micro} % 100 <> 0",
        }

    # One pass over the file, grouped by order: the raw rows are never stored. Amounts
    # are summed as integer millionths (exact), statuses kept as written and classified
    # afterwards (a handful of distinct words), and only the columns the file has are
    # aggregated: each costs time on a big file.
    inner = {
        "day": _day_sql(placed, zone),
        "micro": f"CAST({total} * 1000000 AS BIGINT)",
    }
    outer = {
        "day": "min(day)::INTEGER",
        # BIGINT sums: DuckDB's default HUGEINT makes every later step slower.
        "gross_micro": "coalesce(sum(greatest(micro, 0)), 0)::BIGINT",
        "refunded_micro": "coalesce(sum(greatest(-micro, 0)), 0)::BIGINT",
        "rows": "count(*)",
    }
    # Per-row conditions, gathered per order into the bits of one ``flags`` aggregate.
    conditions = {
        # Blank ids: a cheap comparison first (blank text sorts before "!"), then trim.
        "no_order": "order_id IS NULL OR (order_id < '!' AND trim(order_id) = '')",
        "no_customer": "customer_id IS NULL OR (customer_id < '!' AND trim(customer_id) = '')",
        "no_date": "day IS NULL",
        "no_total": "micro IS NULL",
        **precision("micro", "total"),
    }
    if refunded:
        inner["micro_refund"] = f"CAST({refunded} * 1000000 AS BIGINT)"
        outer["refunded_micro"] = (
            "coalesce(sum(greatest(-micro, 0) + coalesce(micro_refund, 0)), 0)::BIGINT"
        )
        conditions["negative_refund"] = "micro_refund < 0"
        conditions.update(precision("micro_refund", "refund"))
    flag_terms = [
        f"CASE WHEN {condition} THEN {FLAG_BITS[name]} ELSE 0 END"
        for name, condition in conditions.items()
    ]
    # The quantity is not needed by any figure (products count once per order), so it
    # is not read at all: a big file is summarised faster.
    if status:
        # Classified per row by a simple CASE on the word: DuckDB turns an IN list of a
        # dozen words into a join evaluated on every row (a quarter of the whole read),
        # while CASE compares only until the first match. Common words as written
        # first, then the rest lower-cased and trimmed (only rows reaching that branch).
        void_words = (*VOID_STATUSES, *(f"wc-{w}" for w in VOID_STATUSES))
        refund_words = (*REFUNDED_STATUSES, *(f"wc-{w}" for w in REFUNDED_STATUSES))
        void_bit, refund_bit = FLAG_BITS["void"], FLAG_BITS["full_refund"]

        def classify(subject: str, words: Iterable[tuple[str, int]], rest: str) -> str:
            arms = " ".join(f"WHEN {_literal(w)} THEN {bit}" for w, bit in words)
            return f"CASE {subject} {arms} ELSE {rest} END"

        marked = [*((w, void_bit) for w in void_words), *((w, refund_bit) for w in refund_words)]
        unusual = classify("lower(trim(status))", marked, "0")
        inner["status"] = status
        flag_terms.append(
            "CASE WHEN status IS NULL THEN 0 ELSE "
            + classify("status", [*((w, 0) for w in PLAIN_STATUSES), *marked], unusual)
            + " END"
        )
        conditions["void"] = conditions["full_refund"] = "status"
    if currency_col:
        inner["currency"] = f"upper(trim({currency_col}))"
        outer["currency"] = "min(currency)"
        outer["currency_max"] = "max(currency)"
    if promised:
        inner["promised_at"] = promised_sql
        outer["promised_at"] = "min(promised_at)"
    if delivered:
        inner["delivered_at"] = delivered
        outer["delivered_at"] = "max(delivered_at)"
    if sku and items:
        # The order's products, collected in the same pass (a second read of a big file
        # and a join back to the orders cost several times more).
        inner["sku"] = sku
        outer["skus"] = "list(sku) FILTER (WHERE sku IS NOT NULL AND sku <> '')"
    source = _csv_source(path, header, columns)
    outer["flags"] = "bit_or(flag)::INTEGER"
    aggregate = f"""
        SELECT customer_id, order_id,
               {", ".join(f"{expr} AS {name}" for name, expr in outer.items())}
        FROM (
            SELECT *, {" | ".join(flag_terms)} AS flag
            FROM (
                SELECT {cid} AS customer_id, {oid} AS order_id,
                       {", ".join(f"{expr} AS {name}" for name, expr in inner.items())}
                FROM {source}
            )
        )
        GROUP BY customer_id, order_id
    """
    # Each order once, with the flags the checks below read; its purchase flag and
    # values in minor units are derived by the ``wafa_orders`` view once the currency
    # is known (a view: deriving them costs less than storing 17 columns of every order).
    con.execute(f"CREATE OR REPLACE TEMP TABLE wafa_order_rows AS {aggregate}")
    _check_rejects(con, path, header)

    def present(name: str, expr: str, default: str = "0") -> str:
        return expr if name in outer or name in conditions else default

    checks = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE {_flag("no_order")}),
               count(*) FILTER (WHERE {_flag("no_customer")}),
               count(*) FILTER (WHERE {_flag("no_date")}),
               count(*) FILTER (WHERE {_flag("no_total")}),
               {present("negative_refund", f"count(*) FILTER (WHERE {_flag('negative_refund')})")},
               {present("currency", "count(*) FILTER (WHERE currency <> currency_max)")},
               count(*) FILTER (WHERE day < 0 OR day > 47482),
               sum(rows)
        FROM wafa_order_rows
        """
    ).fetchone()
    assert checks is not None
    (no_order, no_customer, no_date, no_total, negative, mixed, span, rows) = (
        int(v or 0) for v in checks
    )
    if no_order:
        _raise_located(
            con,
            path,
            header,
            f"{raw['order_id']} IS NULL OR trim({raw['order_id']}) = ''",
            by_canonical["order_id"],
            "the order id is empty",
            no_order,
        )
    if no_customer:
        _raise_located(
            con,
            path,
            header,
            f"{raw['customer_id']} IS NULL OR trim({raw['customer_id']}) = ''",
            by_canonical["customer_id"],
            "the customer id is empty",
            no_customer,
        )
    if no_date:
        _raise_located(
            con,
            path,
            header,
            f"{_day_sql(raw['placed_at'], zone)} IS NULL",
            by_canonical["placed_at"],
            f"{{value!r}} is not {DATE_HINT}",
            no_date,
            value_sql=f"coalesce({raw['placed_at']}, '')",
        )
    if no_total:
        _raise_located(
            con,
            path,
            header,
            f"{raw['total']} IS NULL",
            by_canonical["total"],
            "the total is empty; expected a decimal amount",
            no_total,
        )
    if negative:
        _raise_located(
            con,
            path,
            header,
            f"TRY_CAST({raw['refunded']} AS DECIMAL(18,6)) < 0",
            by_canonical["refunded"],
            "a refunded amount cannot be negative",
            negative,
        )
    if mixed:
        order = _scalar(
            con,
            "SELECT order_id FROM wafa_order_rows WHERE currency <> currency_max "
            "ORDER BY order_id LIMIT 1",
        )
        _raise_located(
            con,
            path,
            header,
            f"{raw['order_id']} = {_literal(str(order))}",
            by_canonical["currency"],
            f"order {order!r} mixes currencies",
            mixed,
            skip_first=True,
        )
    if span:
        _raise_located(
            con,
            path,
            header,
            f"{_day_sql(raw['placed_at'], zone)} < 0 OR {_day_sql(raw['placed_at'], zone)} > 47482",
            by_canonical["placed_at"],
            "{value!r} is outside 1970-2099",
            span,
            value_sql=raw["placed_at"],
        )

    chosen = _choose_currency(
        con,
        "wafa_order_rows",
        "currency" if currency_col else None,
        currency,
        default_currency,
        path,
    )
    digits = minor_digits(chosen)
    scale = _scale(chosen)
    in_currency = (
        f"(currency IS NULL OR currency IN ('', {_literal(chosen)}))" if currency_col else "TRUE"
    )
    for name in ("total", "refunded"):
        if name not in raw:
            continue
        prefix = "total" if name == "total" else "refund"
        # ISO 4217 minor units are 0, 2, 3 or 4 digits.
        flag = f"{prefix}_fraction" if known_currency is not None else f"{prefix}_fraction{digits}"
        test = _flag(flag) if flag in FLAG_BITS else "false"
        count = int(
            _scalar(con, f"SELECT count(*) FROM wafa_order_rows WHERE {in_currency} AND {test}")
        )
        if count:
            cast = f"TRY_CAST({raw[name]} AS DECIMAL(18,6))"
            _raise_located(
                con,
                path,
                header,
                f"({cast} * {scale}) <> round({cast} * {scale})",
                by_canonical[name],
                f"{{value!r}} has more than {digits} decimal place{'s' if digits != 1 else ''} "
                f"for {chosen}",
                count,
                value_sql=raw[name],
            )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW wafa_orders AS "
        + _orders_select(
            "SELECT * FROM wafa_order_rows", {*outer, *conditions}, chosen, in_currency
        )
    )
    other = (
        int(_scalar(con, f"SELECT count(*) FROM wafa_order_rows WHERE NOT {in_currency}"))
        if currency_col
        else 0
    )
    if "skus" in outer:
        con.execute(
            """
            CREATE OR REPLACE TEMP VIEW wafa_items AS
            SELECT customer_id, order_id, sku, count(*)::BIGINT AS quantity
            FROM (SELECT customer_id, order_id, unnest(skus) AS sku FROM wafa_orders)
            GROUP BY 1, 2, 3
            """
        )
    return _finish(con, chosen, rows, other, 0, "skus" in outer, bool(promised and delivered), path)


def _raise_located(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    header: _Header,
    condition: str,
    column: str,
    message: str,
    count: int,
    *,
    value_sql: str | None = None,
    skip_first: bool = False,
) -> None:
    """Raise the error for the rows of the raw file where ``condition`` holds."""
    source = _csv_source(path, header, None)
    found = con.execute(
        f"SELECT ordinality - 1, {value_sql or 'NULL'} FROM {source} WITH ORDINALITY "
        f"WHERE {condition} ORDER BY ordinality LIMIT {MAX_REPORTED + 1}"
    ).fetchall()
    if skip_first and len(found) > 1:
        # For a value that conflicts with an earlier row, point at the second row.
        found = found[1:]
    found = found[:MAX_REPORTED]
    if not found:
        raise BadInput(f"{path.name}: {message.format(value='')} ({count} orders)")
    problems = [
        (_record_line(path, header, int(index)), column, message.format(value=value))
        for index, value in found
    ]
    raise _problem(path, problems, max(count, len(problems)))


def _finish(
    con: duckdb.DuckDBPyConnection,
    currency: str,
    rows: int,
    other_currency: int,
    guests: int,
    has_items: bool,
    has_delivery: bool,
    path: Path,
) -> LoadedOrders:
    counts = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE purchase), count(*) FILTER (WHERE voided), "
        "count(*) FILTER (WHERE refunded_fully AND NOT voided), "
        "count(*) FILTER (WHERE refunded_partly AND purchase), "
        "min(day) FILTER (WHERE purchase), max(day) FILTER (WHERE purchase) FROM wafa_orders"
    ).fetchone()
    assert counts is not None
    orders, purchases, cancelled, refunded, partly = (int(v) for v in counts[:5])
    first_day, last_day = (int(v) if v is not None else 0 for v in counts[5:])
    if not has_items:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE wafa_items (customer_id VARCHAR, order_id VARCHAR, "
            "sku VARCHAR, quantity BIGINT)"
        )
    warnings: list[str] = []
    if other_currency:
        warnings.append(
            f"{other_currency} order{'s' if other_currency != 1 else ''} in currencies other "
            f"than {currency} were left out (amounts in different currencies cannot be added)."
        )
    if guests:
        warnings.append(
            f"{guests} order{'s' if guests != 1 else ''} without an email or phone (guest "
            "checkouts) were left out: they cannot be tied to a returning customer."
        )
    if purchases == 0:
        raise BadInput(
            f"{path.name}: no order counts as a purchase (all {orders} are cancelled, refunded "
            "or in another currency); nothing to analyse"
        )
    return LoadedOrders(
        currency=currency,
        rows=rows,
        orders=orders,
        purchases=purchases,
        cancelled=cancelled,
        refunded=refunded,
        partially_refunded=partly,
        other_currency_orders=other_currency,
        guest_orders=guests,
        has_items=has_items,
        has_delivery=has_delivery,
        first_day=first_day,
        last_day=last_day,
        warnings=warnings,
    )


# --------------------------------------------------------------------------- shop exports


@dataclass(frozen=True)
class _ShopLayout:
    """Where a shop export keeps each fact; the first name present wins."""

    order: tuple[str, ...]
    placed: tuple[str, ...]
    total: tuple[str, ...]
    customer: tuple[str, ...]
    fallback_customer: tuple[str, ...]
    status: tuple[str, ...]
    refunded: tuple[str, ...]
    currency: tuple[str, ...]
    cancelled_at: tuple[str, ...]
    sku: tuple[str, ...]
    quantity: tuple[str, ...]
    lower_customer: bool
    #: Column of ``amount:…|reason:…`` refunds separated by ``;``, read when no
    #: ``refunded`` column is present.
    refund_items: tuple[str, ...] = ()
    #: Pattern (its group 1 a number) of the columns holding one order line each as
    #: ``name:…|sku:…|quantity:…``, read when no ``sku`` column is present.
    line_items: str | None = None


SHOPIFY = _ShopLayout(
    order=("Name",),
    placed=("Created at",),
    total=("Total",),
    customer=("Email",),
    fallback_customer=("Phone", "Billing Phone", "Shipping Phone"),
    status=("Financial Status",),
    refunded=("Refunded Amount",),
    currency=("Currency",),
    cancelled_at=("Cancelled at",),
    sku=("Lineitem sku",),
    quantity=("Lineitem quantity",),
    lower_customer=True,
)

WOOCOMMERCE = _ShopLayout(
    order=("order_id", "order_number", "Order ID", "Order Number", "Order #"),
    placed=("order_date", "date_created", "Order Date", "Date"),
    total=("order_total", "Order Total", "total", "Total"),
    customer=("customer_id", "customer_user", "Customer ID", "Customer User ID"),
    fallback_customer=("billing_email", "customer_email", "Billing Email", "Email (Billing)"),
    status=("status", "order_status", "Order Status", "Status"),
    refunded=("refunded_total", "order_refund", "Refund Total", "Refunded Total"),
    currency=("order_currency", "currency", "Order Currency", "Currency"),
    cancelled_at=(),
    sku=("item_sku", "line_item_sku", "sku", "Item SKU", "SKU"),
    quantity=(
        "item_quantity",
        "line_item_quantity",
        "quantity",
        "Item Quantity",
        "Quantity",
        "Qty",
    ),
    lower_customer=False,
    refund_items=("refund_items",),
    line_items=r"line_item_(\d+)",
)


def _pick(header: _Header, names: tuple[str, ...]) -> str | None:
    present = {n.strip().lower(): n for n in header.names}
    for name in names:
        if name.strip().lower() in present:
            return present[name.strip().lower()]
    return None


def _line_item_columns(header: _Header, pattern: str | None) -> list[str]:
    """Return the header's ``line_item_N`` columns, in the order of their numbers."""
    if pattern is None:
        return []
    numbered = []
    for name in header.names:
        match = re.fullmatch(pattern, name.strip(), re.IGNORECASE)
        if match is not None:
            numbered.append((int(match.group(1)), name))
    return [name for _, name in sorted(numbered)]


def _pair_sql(cell: str, key: str) -> str:
    """Return SQL for the value of ``key`` in a ``name:A|sku:B`` cell ('' when absent)."""
    return rf"trim(regexp_extract({cell}, '(?:^|\|)\s*{key}\s*:([^|]*)', 1))"


def _has_pair_sql(cell: str, key: str) -> str:
    """Return SQL testing whether a ``name:A|sku:B`` cell has ``key``."""
    return rf"regexp_matches({cell}, '(?:^|\|)\s*{key}\s*:')"


def _load_shop(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    header: _Header,
    layout: _ShopLayout,
    fmt: InputFormat,
    *,
    currency: str | None,
    default_currency: str,
) -> LoadedOrders:
    order = _pick(header, layout.order)
    placed = _pick(header, layout.placed)
    total = _pick(header, layout.total)
    customer = _pick(header, layout.customer)
    fallbacks = [n for n in (_pick(header, (f,)) for f in layout.fallback_customer) if n]
    missing = [
        label
        for label, found in (
            (layout.order[0], order),
            (layout.placed[0], placed),
            (layout.total[0], total),
        )
        if found is None
    ]
    if customer is None and not fallbacks:
        missing.append(layout.customer[0])
    if missing:
        raise BadInput(
            f"{path.name}, line 1: this does not look like a {fmt.value} orders export: "
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
            [(("line", 1, "column", m), "missing") for m in missing],
        )
    if order is None or placed is None or total is None:  # pragma: no cover - checked above
        raise BadInput(f"{path.name}: required columns are missing")
    source = _csv_source(path, header, None)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE wafa_raw AS SELECT ordinality - 1 AS record, * "
        f"FROM {source} WITH ORDINALITY"
    )
    rows = int(_scalar(con, "SELECT count(*) FROM wafa_raw"))
    q = _quote

    def blank(expr: str) -> str:
        return f"nullif(trim({expr}), '')"

    instant = (
        "TRY_CAST(regexp_replace(regexp_replace(trim({c}), ' (UTC|GMT)$', '+00:00'), "
        "' ([+-][0-9][0-9]):?([0-9][0-9])$', '\\1:\\2') AS TIMESTAMPTZ)"
    )
    amount = "TRY_CAST(replace(trim({c}), ',', '') AS DECIMAL(18,6))"
    problems: list[tuple[str, str, str, str]] = [
        (
            f"{blank(q(order))} IS NULL",
            order,
            "the order id is empty",
            "NULL",
        ),
    ]
    # Order-level cells may be blank on an order's later rows (Shopify); test only filled ones.
    problems.append(
        (
            f"{blank(q(placed))} IS NOT NULL AND {instant.format(c=q(placed))} IS NULL",
            placed,
            f"{{value!r}} is not {DATE_HINT}",
            q(placed),
        )
    )
    problems.append(
        (
            f"{blank(q(total))} IS NOT NULL AND {amount.format(c=q(total))} IS NULL",
            total,
            "{value!r} is not a decimal amount",
            q(total),
        )
    )
    refunded = _pick(header, layout.refunded)
    if refunded:
        problems.append(
            (
                f"{blank(q(refunded))} IS NOT NULL AND {amount.format(c=q(refunded))} IS NULL",
                refunded,
                "{value!r} is not a decimal amount",
                q(refunded),
            )
        )
    quantity = _pick(header, layout.quantity)
    if quantity:
        problems.append(
            (
                f"{blank(q(quantity))} IS NOT NULL AND TRY_CAST(trim({q(quantity)}) AS BIGINT) IS NULL",
                quantity,
                "{value!r} is not a whole number",
                q(quantity),
            )
        )
    # WebToffee's one row per order: refunds in one cell, each order line in its own.
    refund_items = None if refunded else _pick(header, layout.refund_items)
    if refund_items:
        cell = q(refund_items)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE wafa_refund_parts AS
            SELECT record, pos, trim(part) AS part, {_has_pair_sql("part", "amount")} AS has_amount,
                   {_pair_sql("part", "amount")} AS amount_text,
                   {amount.format(c=_pair_sql("part", "amount"))} AS amount
            FROM (
                SELECT record, unnest(string_split({cell}, ';')) AS part,
                       generate_subscripts(string_split({cell}, ';'), 1) AS pos
                FROM wafa_raw WHERE {blank(cell)} IS NOT NULL
            )
            WHERE trim(part) <> ''
            """
        )
        for bad, shown, message in (
            ("NOT has_amount", "part", "the refund {value!r} has no amount"),
            ("has_amount AND amount IS NULL", "amount_text", "{value!r} is not a decimal amount"),
            ("amount < 0", "amount_text", "{value!r}: a refunded amount cannot be negative"),
        ):
            problems.append(
                (
                    f"record IN (SELECT record FROM wafa_refund_parts WHERE {bad})",
                    refund_items,
                    message,
                    f"(SELECT arg_min(p.{shown}, p.pos) FROM wafa_refund_parts p "
                    f"WHERE p.record = wafa_raw.record AND {bad})",
                )
            )
    line_items = [] if _pick(header, layout.sku) else _line_item_columns(header, layout.line_items)
    for column in line_items:
        qty_text = _pair_sql(q(column), "quantity")
        problems.append(
            (
                f"nullif({qty_text}, '') IS NOT NULL AND TRY_CAST({qty_text} AS BIGINT) IS NULL",
                column,
                "the quantity {value!r} is not a whole number",
                qty_text,
            )
        )
    for condition, column, message, value_sql in problems:
        found = con.execute(
            f"SELECT record, {value_sql} FROM wafa_raw WHERE {condition} ORDER BY record "
            f"LIMIT {MAX_REPORTED}"
        ).fetchall()
        if found:
            count = int(_scalar(con, f"SELECT count(*) FROM wafa_raw WHERE {condition}"))
            raise _problem(
                path,
                [
                    (_record_line(path, header, int(r)), column, message.format(value=v))
                    for r, v in found
                ],
                count,
            )
    # An order with no date on any of its rows cannot be placed in time.
    undated = con.execute(
        f"SELECT min(record), trim({q(order)}) FROM wafa_raw WHERE {blank(q(order))} IS NOT NULL "
        f"GROUP BY 2 HAVING count({blank(q(placed))}) = 0 ORDER BY 1 LIMIT 1"
    ).fetchone()
    if undated is not None:
        raise _problem(
            path,
            [
                (
                    _record_line(path, header, int(undated[0])),
                    placed,
                    f"order {undated[1]!r} has no date",
                )
            ],
            1,
        )
    untotalled = con.execute(
        f"SELECT min(record), trim({q(order)}) FROM wafa_raw WHERE {blank(q(order))} IS NOT NULL "
        f"GROUP BY 2 HAVING count({blank(q(total))}) = 0 ORDER BY 1 LIMIT 1"
    ).fetchone()
    if untotalled is not None:
        raise _problem(
            path,
            [
                (
                    _record_line(path, header, int(untotalled[0])),
                    total,
                    f"order {untotalled[1]!r} has no total",
                )
            ],
            1,
        )

    currency_col = _pick(header, layout.currency)
    chosen_source = q(currency_col) if currency_col else None
    chosen = _choose_currency(con, "wafa_raw", chosen_source, currency, default_currency, path)
    scale = _scale(chosen)
    customer_parts = []
    if customer:
        key = blank(q(customer))
        if fmt is InputFormat.woocommerce:
            key = f"CASE WHEN {key} IN ('0', '') THEN NULL ELSE {key} END"
        customer_parts.append(f"lower({key})" if layout.lower_customer else key)
    for name in fallbacks:
        key = blank(q(name))
        if "mail" in name.lower():
            customer_parts.append(f"lower({key})")
        else:
            customer_parts.append(f"nullif(regexp_replace({key}, '[^0-9+]', '', 'g'), '')")
    customer_expr = (
        f"coalesce({', '.join(customer_parts)})" if len(customer_parts) > 1 else customer_parts[0]
    )
    status = _pick(header, layout.status)
    status_word = (
        f"regexp_replace(lower(trim(coalesce({q(status)}, ''))), '^wc-', '')" if status else "''"
    )
    cancelled_at = _pick(header, layout.cancelled_at)
    void = f"{status_word} IN ({', '.join(_literal(s) for s in VOID_STATUSES)})"
    if cancelled_at:
        void = f"({void} OR {blank(q(cancelled_at))} IS NOT NULL)"
    full_refund = f"{status_word} IN ({', '.join(_literal(s) for s in REFUNDED_STATUSES)})"
    refunded_minor = "0"
    refund_join = ""
    if refunded:
        refunded_minor = f"round(coalesce({amount.format(c=q(refunded))}, 0) * {scale})"
    elif refund_items:
        refunded_minor = f"round(coalesce(wafa_refund_sum, 0) * {scale})"
        refund_join = (
            "LEFT JOIN (SELECT record AS wafa_refund_record, sum(amount) AS wafa_refund_sum "
            "FROM wafa_refund_parts GROUP BY 1) ON wafa_refund_record = record"
        )
    in_currency = (
        f"upper(coalesce({blank(q(currency_col))}, {_literal(chosen)})) = {_literal(chosen)}"
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
               min(CAST({instant.format(c=q(placed))} AS DATE) - DATE '1970-01-01')::INTEGER AS day,
               max(round({amount.format(c=q(total))} * {scale}))::BIGINT AS gross,
               max({refunded_minor})::BIGINT AS refunded,
               bool_or({void}) AS void,
               bool_or({full_refund}) AS full_refund,
               bool_and({in_currency}) AS in_currency
        FROM wafa_raw {refund_join}
        WHERE {blank(q(order))} IS NOT NULL
        GROUP BY 1
        """
    )
    guests = int(_scalar(con, "SELECT count(*) FROM wafa_shop_orders WHERE customer_id IS NULL"))
    other = int(
        _scalar(
            con,
            "SELECT count(*) FROM wafa_shop_orders WHERE NOT in_currency AND customer_id IS NOT NULL",
        )
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE wafa_orders AS
        SELECT customer_id, order_id, day, gross,
               CASE WHEN full_refund OR (refunded > 0 AND refunded >= gross) THEN 0 ELSE gross - refunded END AS net,
               NOT void AND NOT (full_refund OR (refunded > 0 AND refunded >= gross)) AS purchase,
               void AS voided, full_refund OR (refunded > 0 AND refunded >= gross) AS refunded_fully,
               NOT (full_refund OR (refunded > 0 AND refunded >= gross)) AND refunded > 0 AS refunded_partly,
               NULL::TIMESTAMPTZ AS promised_at, NULL::TIMESTAMPTZ AS delivered_at
        FROM wafa_shop_orders
        WHERE customer_id IS NOT NULL AND in_currency
        """
    )
    sku = _pick(header, layout.sku)
    has_items = False
    # Each order line as (order, sku, quantity), from its own row or from its cell.
    lines = ""
    if sku:
        qty = f"coalesce(TRY_CAST(trim({q(quantity)}) AS BIGINT), 1)" if quantity else "1"
        lines = (
            f"SELECT trim({q(order)}) AS order_key, trim({q(sku)}) AS sku, {qty} AS quantity "
            "FROM wafa_raw"
        )
    elif line_items:
        lines = " UNION ALL ".join(
            f"SELECT trim({q(order)}) AS order_key, {_pair_sql(q(c), 'sku')} AS sku, "
            f"coalesce(TRY_CAST({_pair_sql(q(c), 'quantity')} AS BIGINT), 1) AS quantity "
            f"FROM wafa_raw WHERE {blank(q(c))} IS NOT NULL"
            for c in line_items
        )
    if lines:
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
        has_items = bool(_scalar(con, "SELECT count(*) > 0 FROM wafa_items"))
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
    con.execute("DROP TABLE wafa_raw")
    con.execute("DROP TABLE wafa_shop_orders")
    con.execute("DROP TABLE IF EXISTS wafa_refund_parts")
    return _finish(con, chosen, rows, other, guests, has_items, False, path)


def connect() -> duckdb.DuckDBPyConnection:
    """Open the in-memory DuckDB connection ``wafa analyze`` works in.

    It runs one thread more than DuckDB's default (the machine's cores): reading a big
    export and building its hash tables, DuckDB's threads often wait on memory being
    mapped, and an extra one keeps the cores busy (on two cores the summary step of 4.9
    million orders took 2.4 s instead of 2.8 s).
    """
    con = duckdb.connect()
    threads = con.execute("SELECT current_setting('threads')").fetchone()
    con.execute(f"SET threads = {int(threads[0]) + 1 if threads else 2}")
    return con


def _drop_relations(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> None:
    """Drop what an earlier load left in ``con`` (a table or a view, by name)."""
    for name in names:
        for kind in ("VIEW", "TABLE"):
            try:
                con.execute(f"DROP {kind} IF EXISTS {name}")
            except duckdb.CatalogException:  # the name is the other kind
                continue


def load_orders(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    fmt: InputFormat = InputFormat.generic,
    timezone: str = "UTC",
    currency: str | None = None,
    default_currency: str = "USD",
    items: bool = True,
) -> LoadedOrders:
    """Read an order export into ``wafa_orders`` and ``wafa_items`` in ``con``.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Connection to load into (its ``TimeZone`` is set to ``timezone``).
    path : pathlib.Path
        The CSV export.
    fmt : InputFormat
        Layout of the file (see the module docstring).
    timezone : str
        IANA zone in which times without an offset are read and in which calendar days
        are counted.
    currency : str or None
        Currency to analyse; by default the most common one in the file, or
        ``default_currency`` when the file names none.
    default_currency : str
        Currency of a file that carries no currency column.
    items : bool
        Collect the products of each order (for recommendations); without it, a
        generic file is summarised in one lighter pass.

    Returns
    -------
    LoadedOrders
        Counts and facts about what was read.

    Raises
    ------
    BadInput
        With the line and column of the first problems when the file cannot be read.
    """
    header = _read_header(path)
    con.execute(f"SET TimeZone = {_literal(timezone)}")
    # Every later query that needs an order says so (ORDER BY): tables are built faster
    # when DuckDB may keep the rows in whatever order its threads produce them.
    con.execute("SET preserve_insertion_order = false")
    _drop_relations(con, ("wafa_orders", "wafa_items", "wafa_order_rows"))
    try:
        if fmt is InputFormat.generic:
            return _load_generic(
                con,
                path,
                header,
                currency=currency,
                default_currency=default_currency,
                zone=timezone,
                items=items,
            )
        layout = SHOPIFY if fmt is InputFormat.shopify else WOOCOMMERCE
        return _load_shop(
            con,
            path,
            header,
            layout,
            fmt,
            currency=currency,
            default_currency=default_currency,
        )
    except duckdb.Error as exc:
        # Whatever DuckDB still refuses (a broken quote at the end of the file, ...).
        message = str(exc).splitlines()[0]
        raise BadInput(f"{path.name}: the file cannot be read as CSV: {message}") from None
