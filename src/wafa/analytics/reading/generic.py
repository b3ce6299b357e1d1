"""The generic format read in one pass of DuckDB over the file, grouped by order.

The columns are the generic format's (``wafa.ingest.generic``): ``order_id``,
``placed_at``, ``total``, who bought (``customer_id``, else ``customer_email``, else
``customer_phone``), and optionally ``status`` (its vocabulary, the importer's),
``refunded_amount`` (or ``refunded``), ``currency``, ``sku``, ``promised_at`` and
``delivered_at``. The analyzer needs ``total``: an order's value is not rebuilt from its
lines here (the importer does that). A negative ``total`` row is a refund line of its
order (point-of-sale exports write refunds so).

About 570 lines: one pass of generated SQL over the file and the checks that explain
what it rejects, line by line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from wafa.analytics.reading import words
from wafa.analytics.reading.files import (
    DATE_HINT,
    BadInput,
    Header,
    check_rejects,
    choose_currency,
    csv_source,
    minor_scale,
    quote,
    raise_located,
    scalar,
)
from wafa.analytics.reading.result import LoadedOrders, finish
from wafa.analytics.reading.words import literal
from wafa.core.money import is_currency, minor_digits
from wafa.ingest import GENERIC
from wafa.ingest.describe import Role
from wafa.ingest.generic import STATUS as STATUS_WORDS

__all__ = ["load_generic"]


@dataclass(frozen=True)
class _Column:
    canonical: str
    duck_type: str
    required: bool = False


_TYPES = {
    # Read as text and parsed in SQL: naive times (the common case) take the fast path.
    Role.placed_at: "VARCHAR",
    Role.total: "DECIMAL(18,6)",
    Role.refunded: "DECIMAL(18,6)",
    Role.promised_at: "TIMESTAMPTZ",
    Role.delivered_at: "TIMESTAMPTZ",
}
#: The roles the analyzer reads, each by its generic name (the first listed, lower-case);
#: ``customer`` stands for the first filled of the format's customer roles.
_READ = (
    Role.order_key,
    Role.placed_at,
    Role.total,
    Role.line_sku,
    Role.currency,
    Role.status,
    Role.refunded,
    Role.promised_at,
    Role.delivered_at,
    *GENERIC.customer,
)
GENERIC_COLUMNS = tuple(
    _Column(
        name.lower(),
        _TYPES.get(role, "VARCHAR"),
        role in (Role.order_key, Role.placed_at, Role.total),
    )
    for role in _READ
    for name in GENERIC.names(role)
)
#: The status column's bits in an order's ``flags`` (see ``words``).
_STATUS_BITS: words.Bits = (8, 16, 32768, 65536)


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
    "partial_refund": 32768,
    "unknown_status": 65536,
    "sku_separator": 131072,
}
#: Joins an order's product codes into one text in the reading pass (see ``load_generic``).
SKU_SEPARATOR = "chr(31)"


def _flag(name: str) -> str:
    """Return SQL testing one of :data:`FLAG_BITS` on an aggregated order."""
    return f"((flags & {FLAG_BITS[name]}) <> 0)"


def _orders_select(
    source: str, names: Collection[str], currency: str, where: str, extra: str = ""
) -> str:
    """Derive each order's purchase flag and values (minor units) from the aggregate.

    Whether it is a purchase is ``orders.sales``' rule over the status the format's
    words give (cancelled or not) and the refunded amount: a word meaning "refunded in
    full" refunds the whole total when the file gives no amount, as in the importer; a
    partial refund lowers the value. Every aggregated column is kept (the checks read
    them).
    """
    # Imported here: the rule's module brings SQLAlchemy, which the read before this
    # does not need (``wafa analyze`` imports it in a thread meanwhile).
    from wafa.orders.sales import sale_sql

    per_minor = 10 ** (6 - minor_digits(currency))
    gross = f"(gross_micro // {per_minor})"
    given = f"(refunded_micro // {per_minor})"
    void = _flag("void") if "void" in names else "false"
    whole = _flag("full_refund") if "full_refund" in names else "false"
    refunded = f"(CASE WHEN {whole} AND {given} = 0 AND {gross} > 0 THEN {gross} ELSE {given} END)"
    status = f"(CASE WHEN {void} THEN 'cancelled' ELSE 'paid' END)"
    full = f"({refunded} > 0 AND {refunded} >= {gross})"
    defaults = {
        "promised_at": "NULL::TIMESTAMPTZ",
        "delivered_at": "NULL::TIMESTAMPTZ",
        "currency": "NULL::VARCHAR",
        "currency_max": "NULL::VARCHAR",
    }
    missing = ", ".join(f"{sql} AS {name}" for name, sql in defaults.items() if name not in names)
    return f"""
        SELECT *,{f" {missing}," if missing else ""}{f" {extra}," if extra else ""}
               {gross} AS gross,
               CASE WHEN {full} THEN 0 ELSE {gross} - {refunded} END AS net,
               {sale_sql(status, gross, refunded)} AS purchase,
               {void} AS voided,
               {full} AS refunded_fully,
               NOT {full} AND {refunded} > 0 AS refunded_partly
        FROM ({source})
        WHERE {where}
    """


def load_generic(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    header: Header,
    *,
    currency: str | None,
    default_currency: str,
    zone: str,
    items: bool,
) -> LoadedOrders:
    """Read a generic file into ``wafa_orders`` (a view) and ``wafa_items``."""
    in_header: dict[str, str] = {}
    for name in header.names:
        key = name.strip().lower()
        if key in in_header:
            raise BadInput(
                f"{path.name}, line 1: the column {key!r} appears twice",
                [(("line", 1, "column", key), "appears twice")],
            )
        in_header[key] = name
    # Each role the analyzer reads, by the key this module uses for it (its first
    # generic name): the header's name for it, the first of the format's names present.
    by_canonical: dict[str, str] = {}
    for role in _READ:
        found = [in_header[n.lower()] for n in GENERIC.names(role) if n.lower() in in_header]
        if found:
            by_canonical[GENERIC.names(role)[0].lower()] = found[0]
    customers = [
        (role, in_header[n.lower()])
        for role in GENERIC.customer
        for n in GENERIC.names(role)
        if n.lower() in in_header
    ]
    missing = [
        GENERIC.primary(role)
        for role in (Role.order_key, Role.placed_at, Role.total)
        if GENERIC.primary(role) not in by_canonical
    ]
    if not customers:
        missing.append(" or ".join(GENERIC.primary(role) for role in GENERIC.customer))
    if missing:
        raise BadInput(
            f"{path.name}, line 1: missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (the header must name order_id, placed_at, total and who "
            f"bought; found {', '.join(header.names) or 'nothing'})",
            [(("line", 1, "column", m), "missing") for m in missing],
        )
    types = {c.canonical: c.duck_type for c in GENERIC_COLUMNS}
    columns = {name: types.get(name.strip().lower(), "VARCHAR") for name in header.names}

    def col(canonical: str) -> str | None:
        name = by_canonical.get(canonical)
        return None if name is None else quote(name)

    raw = {c: quote(by_canonical[c]) for c in by_canonical}
    oid, placed, total = (raw[c] for c in ("order_id", "placed_at", "total"))
    # Who bought: the customer id as written (the fast path of a big file), else the
    # first filled of the id, the email (lower-case) and the phone (its digits).
    if len(customers) == 1 and customers[0][0] is Role.customer_id:
        cid = quote(customers[0][1])
    else:
        parts = []
        for role, name in customers:
            part = f"nullif(trim({quote(name)}), '')"
            if role is Role.email:
                part = f"lower({part})"
            elif role is Role.phone:
                part = f"nullif(regexp_replace({part}, '[^0-9+]', '', 'g'), '')"
            parts.append(part)
        cid = f"coalesce({', '.join(parts)})" if len(parts) > 1 else parts[0]
    customer_name = customers[0][1]
    refunded, status = col("refunded_amount"), col("status")
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
        # Classified per row by the format's own vocabulary (``words``): a CASE on the
        # words as written first (most rows), the rest lower-cased and trimmed.
        inner["status"] = status
        flag_terms.append(words.bits_sql(STATUS_WORDS, "status", _STATUS_BITS))
        for name in ("void", "full_refund", "partial_refund", "unknown_status"):
            conditions[name] = "status"
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
        # and a join back to the orders cost several times more), joined into one text
        # per order: DuckDB's list() of texts cost about as much as the rest of the pass
        # (4.9 M orders: 9.4 against 4.8 CPU s). The ``wafa_orders`` view splits it back
        # into the list ``skus``; a code containing the separator (a control character)
        # is kept by a second pass with list() instead.
        inner["sku"] = sku
        outer["sku_text"] = (
            f"string_agg(sku, {SKU_SEPARATOR}) FILTER (WHERE sku IS NOT NULL AND sku <> '')"
        )
        conditions["sku_separator"] = f"strpos(sku, {SKU_SEPARATOR}) > 0"
        flag_terms.append(
            f"CASE WHEN {conditions['sku_separator']} THEN {FLAG_BITS['sku_separator']} ELSE 0 END"
        )
    source = csv_source(path, header, columns)
    outer["flags"] = "bit_or(flag)::INTEGER"

    def aggregate(aggregates: dict[str, str]) -> str:
        return f"""
            SELECT customer_id, order_id,
                   {", ".join(f"{expr} AS {name}" for name, expr in aggregates.items())}
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
    con.execute(f"CREATE OR REPLACE TEMP TABLE wafa_order_rows AS {aggregate(outer)}")
    check_rejects(con, path, header, types)
    skus_sql = ""
    if "sku_text" in outer:
        skus_sql = f"string_split(sku_text, {SKU_SEPARATOR}) AS skus"
        if scalar(con, f"SELECT count(*) FROM wafa_order_rows WHERE {_flag('sku_separator')}"):
            listed = {
                ("skus" if name == "sku_text" else name): (
                    "list(sku) FILTER (WHERE sku IS NOT NULL AND sku <> '')"
                    if name == "sku_text"
                    else expr
                )
                for name, expr in outer.items()
            }
            con.execute(f"CREATE OR REPLACE TEMP TABLE wafa_order_rows AS {aggregate(listed)}")
            skus_sql = ""

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
        raise_located(
            con,
            path,
            header,
            f"{raw['order_id']} IS NULL OR trim({raw['order_id']}) = ''",
            by_canonical["order_id"],
            "the order id is empty",
            no_order,
        )
    if no_customer:
        raise_located(
            con,
            path,
            header,
            f"nullif(trim({cid}), '') IS NULL",
            customer_name,
            "the customer id is empty"
            if len(customers) == 1
            else f"no customer: {' and '.join(name for _, name in customers)} are all empty",
            no_customer,
        )
    if no_date:
        raise_located(
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
        raise_located(
            con,
            path,
            header,
            f"{raw['total']} IS NULL",
            by_canonical["total"],
            "the total is empty; expected a decimal amount",
            no_total,
        )
    if negative:
        raise_located(
            con,
            path,
            header,
            f"TRY_CAST({raw['refunded_amount']} AS DECIMAL(18,6)) < 0",
            by_canonical["refunded_amount"],
            "a refunded amount cannot be negative",
            negative,
        )
    if mixed:
        order = scalar(
            con,
            "SELECT order_id FROM wafa_order_rows WHERE currency <> currency_max "
            "ORDER BY order_id LIMIT 1",
        )
        raise_located(
            con,
            path,
            header,
            f"{raw['order_id']} = {literal(str(order))}",
            by_canonical["currency"],
            f"order {order!r} mixes currencies",
            mixed,
            skip_first=True,
        )
    if span:
        raise_located(
            con,
            path,
            header,
            f"{_day_sql(raw['placed_at'], zone)} < 0 OR {_day_sql(raw['placed_at'], zone)} > 47482",
            by_canonical["placed_at"],
            "{value!r} is outside 1970-2099",
            span,
            value_sql=raw["placed_at"],
        )

    if status:
        status_name = by_canonical["status"]
        unknown = int(
            scalar(con, f"SELECT count(*) FROM wafa_order_rows WHERE {_flag('unknown_status')}")
        )
        if unknown:
            raw_bits = words.bits_sql(STATUS_WORDS, raw["status"], _STATUS_BITS)
            raise_located(
                con,
                path,
                header,
                f"({raw_bits} & {FLAG_BITS['unknown_status']}) <> 0",
                status_name,
                lambda v: words.unknown_message(STATUS_WORDS, str(v), status_name),
                unknown,
                value_sql=raw["status"],
            )
        unpaid = scalar(
            con,
            f"SELECT order_id FROM wafa_order_rows WHERE {_flag('partial_refund')} "
            "AND refunded_micro = 0 ORDER BY order_id LIMIT 1",
        )
        if unpaid is not None:
            raise_located(
                con,
                path,
                header,
                f"{raw['order_id']} = {literal(str(unpaid))}",
                status_name,
                "the status says partially refunded but no refunded amount is given",
                1,
            )

    chosen = choose_currency(
        con,
        "wafa_order_rows",
        "currency" if currency_col else None,
        currency,
        default_currency,
        path,
    )
    digits = minor_digits(chosen)
    scale = minor_scale(chosen)
    in_currency = (
        f"(currency IS NULL OR currency IN ('', {literal(chosen)}))" if currency_col else "TRUE"
    )
    for name in ("total", "refunded_amount"):
        if name not in raw:
            continue
        prefix = "total" if name == "total" else "refund"
        # ISO 4217 minor units are 0, 2, 3 or 4 digits.
        flag = f"{prefix}_fraction" if known_currency is not None else f"{prefix}_fraction{digits}"
        test = _flag(flag) if flag in FLAG_BITS else "false"
        count = int(
            scalar(con, f"SELECT count(*) FROM wafa_order_rows WHERE {in_currency} AND {test}")
        )
        if count:
            cast = f"TRY_CAST({raw[name]} AS DECIMAL(18,6))"
            raise_located(
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
            "SELECT * FROM wafa_order_rows", {*outer, *conditions}, chosen, in_currency, skus_sql
        )
    )
    other = (
        int(scalar(con, f"SELECT count(*) FROM wafa_order_rows WHERE NOT {in_currency}"))
        if currency_col
        else 0
    )
    has_items = "sku_text" in outer
    if has_items:
        con.execute(
            """
            CREATE OR REPLACE TEMP VIEW wafa_items AS
            SELECT customer_id, order_id, sku, count(*)::BIGINT AS quantity
            FROM (SELECT customer_id, order_id, unnest(skus) AS sku FROM wafa_orders)
            GROUP BY 1, 2, 3
            """
        )
    return finish(con, chosen, rows, other, 0, has_items, bool(promised and delivered), path)
