"""Reading CSV exports: bytes to text to records, with the physical line of each record.

Encoding is explicit, never guessed:

* UTF-8 is the default; a UTF-8 byte-order mark (what Excel writes for "CSV UTF-8")
  is recognised and dropped.
* Any other ASCII-compatible encoding is read when named, e.g. ``--encoding cp1256``
  for the Windows Arabic code page that Excel and older Windows tools use in Arabic and
  Persian locales, or ``cp1252``/``latin-1``.
* Bytes that are not valid in the chosen encoding refuse the whole file, naming the
  line and the first bad byte, so text is never stored garbled. UTF-16/UTF-32 files
  (Excel's "Unicode Text") are refused with a hint to save as CSV UTF-8.

Each record carries the physical line on which it starts (header = line 1). A quoted
cell holding line breaks spans several physical lines, so the next record starts
further down; the count follows the bytes, not the records. A quote left open at the
end of the file (a truncated export) is reported at the line where the record began.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from wafa.orders.importing.errors import FileRefused, RowError

UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Big cells (notes, HTML descriptions) are legitimate; csv's 128 KiB default is not enough.
CELL_LIMIT = 16 * 1024 * 1024
csv.field_size_limit(CELL_LIMIT)


@dataclass(slots=True)
class Record:
    """One CSV record: where it starts, its cells and its original text."""

    line: int
    values: list[str]
    raw: str


def check_encoding(name: str | None) -> str:
    """The codec to read with; only ASCII-compatible codecs split safely on newlines."""
    if name is None:
        return "utf-8"
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise FileRefused(f"unknown encoding {name!r} (try utf-8, cp1256 or latin-1)") from None
    if info.name.startswith(("utf-16", "utf-32")):
        raise FileRefused(
            f"{name} is not supported: save the file as 'CSV UTF-8' and import that instead"
        )
    return "utf-8" if info.name in ("utf-8", "utf-8-sig") else info.name


def _decode_error(line: int, raw: bytes, exc: UnicodeDecodeError, encoding: str) -> FileRefused:
    bad = raw[exc.start : exc.start + 1]
    column = len(raw[: exc.start].decode(encoding, errors="replace")) + 1
    hint = (
        "the file is not UTF-8; if it came from Excel or Windows in Arabic or Persian "
        "it is probably Windows-1256: import it with --encoding cp1256, or save it as "
        "'CSV UTF-8'"
        if encoding == "utf-8"
        else f"the file is not valid {encoding}"
    )
    return FileRefused(
        f"line {line}: byte 0x{bad.hex().upper()} at character {column} is not valid "
        f"{encoding}; {hint}",
        line=line,
    )


class CsvSource:
    """Iterate the records of a CSV file; ``bytes_read`` tracks progress through it."""

    def __init__(self, path: Path, *, encoding: str | None = None, delimiter: str = ",") -> None:
        self.path = path
        self.encoding = check_encoding(encoding)
        self.delimiter = delimiter
        self.bytes_read = 0
        self.lines_read = 0
        self.size = path.stat().st_size
        self.errors: list[RowError] = []

    def _lines(self, handle: BinaryIO, buffer: list[str]) -> Iterator[str]:
        encoding = self.encoding
        decode = codecs.getdecoder(encoding)
        head = handle.read(4)
        if head.startswith(_UTF16_BOMS):
            raise FileRefused(
                "the file is UTF-16 (Excel 'Unicode Text'); save it as 'CSV UTF-8' and import that"
            )
        if head.startswith(UTF8_BOM) and encoding != "utf-8":
            raise FileRefused(
                f"the file starts with a UTF-8 byte-order mark, so it is UTF-8, not {encoding}: "
                "import it without --encoding"
            )
        handle.seek(3 if head.startswith(UTF8_BOM) else 0)
        self.bytes_read = handle.tell()
        for number, raw in enumerate(handle, 1):
            self.lines_read = number
            self.bytes_read += len(raw)
            try:
                text = decode(raw)[0]
            except UnicodeDecodeError as exc:
                raise _decode_error(number, raw, exc, encoding) from None
            if "\x00" in text:
                raise FileRefused(
                    f"line {number}: the file contains NUL bytes; it is not a text CSV "
                    "(a spreadsheet or UTF-16 file?): save it as 'CSV UTF-8'"
                )
            buffer.append(text)
            yield text

    def records(self) -> Iterator[Record]:
        """Records in file order; the header is the first (line 1)."""
        buffer: list[str] = []
        with self.path.open("rb") as handle:
            reader = csv.reader(self._lines(handle, buffer), delimiter=self.delimiter, strict=True)
            start = 1
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raw = "".join(buffer)
                    buffer.clear()
                    message = str(exc)
                    if "unexpected end of data" in message:
                        raise FileRefused(
                            f"line {start}: a quoted cell opened here is never closed; "
                            "the file is truncated or a quote is missing",
                            line=start,
                        ) from None
                    self.errors.append(RowError(start, None, csv_problem(message), raw))
                    start = reader.line_num + 1
                    continue
                raw = "".join(buffer)
                buffer.clear()
                line = start
                start = reader.line_num + 1
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue  # blank line
                yield Record(line, values, raw)


def csv_problem(message: str) -> str:
    """What Python's ``csv.Error`` ``message`` means, in words a shop owner can act on."""
    if "field larger than field limit" in message:
        return (
            f"malformed CSV: a cell is longer than {CELL_LIMIT // (1024 * 1024)} MiB; "
            "a quote is probably missing, or the file is not a CSV export"
        )
    if "expected after" in message:
        return (
            "malformed CSV: a stray quote: a quoted cell must end at a comma or at the end "
            "of the line (quote the whole cell and double every quote inside it)"
        )
    if "new-line character seen in unquoted field" in message:
        return "malformed CSV: a line break inside a cell that is not quoted"
    return f"malformed CSV: {message}"


ProgressFn = Callable[[int, int], None]
