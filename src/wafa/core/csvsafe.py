"""CSV files that a spreadsheet opens safely: no cell runs as a formula.

Excel, LibreOffice and Google Sheets evaluate a cell that starts with ``=``, ``+``,
``-`` or ``@`` (and some evaluate one that starts with a tab or a carriage return) as a
formula, so a file Wafa writes from data it did not author (a rejected import row, a
customer's name, a segment export) could run ``=HYPERLINK(...)`` or a DDE command on
the reader's machine. Every CSV that leaves Wafa goes through ``safe_writer`` (or
``escape_cell``), which prefixes such cells with a single quote, as the OWASP "CSV
Injection" guidance recommends: the spreadsheet shows the text, the quote is visible in
a text editor, and nothing is evaluated.

Numbers that Wafa writes itself (ints and floats, negative ones included) are left as
they are: they are not text a spreadsheet evaluates.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

__all__ = [
    "FORMULA_STARTS",
    "SafeWriter",
    "csv_chunks",
    "escape_cell",
    "escape_row",
    "safe_writer",
]

#: First characters that make a spreadsheet read a text cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def escape_cell(value: object) -> object:
    """``value`` as it may be written to a CSV cell: text that starts a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def escape_row(row: Iterable[object]) -> list[object]:
    """Every cell of ``row`` through ``escape_cell``."""
    return [escape_cell(value) for value in row]


class SafeWriter:
    """A ``csv.writer`` whose every text cell is escaped (``escape_cell``)."""

    def __init__(self, handle: _Writable, **options: Any) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable[object]) -> None:
        """Write one row."""
        self._writer.writerow(escape_row(row))

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        """Write rows."""
        self._writer.writerows(escape_row(row) for row in rows)


def safe_writer(handle: _Writable, **options: Any) -> SafeWriter:
    """``csv.writer(handle, **options)`` that never writes a formula (see the module docstring)."""
    return SafeWriter(handle, **options)


def csv_chunks(rows: Iterable[Iterable[object]], *, rows_per_chunk: int = 500) -> Iterator[str]:
    """``rows`` as CSV text in chunks (for a streamed download), every cell formula-safe."""
    buffer = io.StringIO()
    writer = safe_writer(buffer)
    pending = 0
    for row in rows:
        writer.writerow(row)
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if buffer.tell():
        yield buffer.getvalue()
