"""Reading an export file in DuckDB: its header, its rows, and errors that name the line.

Shared by the generic reader (``generic``) and the shop readers (``shop``): the header
(encoding, delimiter, names), DuckDB's CSV source over it, problems turned into
``BadInput`` errors with the physical line and the column, and the currency chosen.
"""

from __future__ import annotations

import codecs
import csv
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from wafa.analytics.reading.words import literal
from wafa.core.errors import Invalid, Loc
from wafa.core.money import is_currency, minor_digits

#: How many problems an error message lists before "and N more".
MAX_REPORTED = 5

DATE_HINT = "an ISO 8601 date or date-time such as 2024-03-01 or 2024-03-01T14:30:00+03:30"


class BadInput(Invalid):
    """The export cannot be read; ``errors`` name the line and column of each problem."""

    code = "bad-input"


_TYPE_HINTS = {
    "TIMESTAMPTZ": DATE_HINT,
    "DECIMAL(18,6)": "a decimal amount such as 12.50 (a dot for decimals, no thousands separator)",
    "BIGINT": "a whole number",
}


def quote(name: str) -> str:
    """Quote ``name`` as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Header:
    """A file's header row: its column names, delimiter and encoding."""

    names: list[str]
    delimiter: str
    encoding: str


def read_header(path: Path) -> Header:
    """Read the header row of ``path`` (UTF-8, with or without a BOM; delimiter guessed)."""
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
    return Header([n.strip() for n in names], delimiter, encoding)


def record_line(path: Path, header: Header, record_index: int) -> int:
    """Return the physical line (header = 1) where record ``record_index`` (from 0) starts."""
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


def problem(path: Path, problems: Sequence[tuple[int, str, str]], total: int) -> BadInput:
    """Build the error: ``problems`` are ``(line, column, message)``."""
    errors: list[tuple[Loc, str]] = [
        (("line", line, "column", column), message) for line, column, message in problems
    ]
    line, column, message = problems[0]
    more = f" (and {total - 1} more problem{'s' if total > 2 else ''})" if total > 1 else ""
    return BadInput(f"{path.name}, line {line}, column {column}: {message}{more}", errors)


def csv_source(
    path: Path, header: Header, columns: dict[str, str] | None, *, rejects: bool = True
) -> str:
    """Return DuckDB's ``read_csv`` over ``path``: every column as text, or typed by ``columns``."""
    options = [
        "header=true",
        f"delim={literal(header.delimiter)}",
        "quote='\"'",
        "escape='\"'",
        "auto_detect=false",
        "null_padding=false",
    ]
    if columns is None:
        options.append("all_varchar=true")
        options.append(
            "columns={" + ", ".join(f"{literal(n)}: 'VARCHAR'" for n in header.names) + "}"
        )
    else:
        options.append(
            "columns={" + ", ".join(f"{literal(n)}: {literal(t)}" for n, t in columns.items()) + "}"
        )
        options.append("store_rejects=true" if rejects else "ignore_errors=true")
    return f"read_csv({literal(str(path))}, {', '.join(options)})"


def check_rejects(
    con: duckdb.DuckDBPyConnection, path: Path, header: Header, types: Mapping[str, str]
) -> None:
    """Raise the rows DuckDB rejected; ``types`` maps a column (lower-case) to its type."""
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
            duck_type = types.get(column_name.strip().lower(), "")
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
    raise problem(path, problems, total)


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    """Return the first value of the first row of ``sql`` (``None`` for no row)."""
    row = con.execute(sql, list(params)).fetchone()
    return None if row is None else row[0]


def choose_currency(
    con: duckdb.DuckDBPyConnection,
    table: str,
    column: str | None,
    requested: str | None,
    default: str,
    path: Path,
) -> str:
    """Return the currency to analyse: the one asked for, else the file's most common."""
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


def minor_scale(currency: str) -> int:
    """Return how many minor units make one major unit of ``currency``."""
    return int(math.pow(10, minor_digits(currency)))


# --------------------------------------------------------------------------- generic


def raise_located(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    header: Header,
    condition: str,
    column: str,
    message: str | Callable[[Any], str],
    count: int,
    *,
    value_sql: str | None = None,
    skip_first: bool = False,
) -> None:
    """Raise the error for the rows of the raw file where ``condition`` holds.

    ``message`` is a text with ``{value}`` for the row's ``value_sql``, or a function of it.
    """
    describe = message if callable(message) else (lambda v: message.format(value=v))
    source = csv_source(path, header, None)
    found = con.execute(
        f"SELECT ordinality - 1, {value_sql or 'NULL'} FROM {source} WITH ORDINALITY "
        f"WHERE {condition} ORDER BY ordinality LIMIT {MAX_REPORTED + 1}"
    ).fetchall()
    if skip_first and len(found) > 1:
        # For a value that conflicts with an earlier row, point at the second row.
        found = found[1:]
    found = found[:MAX_REPORTED]
    if not found:
        raise BadInput(f"{path.name}: {describe('')} ({count} orders)")
    problems = [
        (record_line(path, header, int(index)), column, describe(value)) for index, value in found
    ]
    raise problem(path, problems, max(count, len(problems)))
