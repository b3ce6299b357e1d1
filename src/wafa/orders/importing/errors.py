"""What an import reports when its input is wrong: a line, a column and a reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wafa.core.csvsafe import safe_writer
from wafa.core.errors import Invalid

#: The columns of an ``--errors`` file.
ERRORS_HEADER = ("line", "column", "reason", "row")


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in the file.

    ``line`` is the physical line where the offending record starts (the header is
    line 1; a quoted cell that spans lines moves every later record down), ``column``
    the header name involved (``None`` when the whole row is at fault) and ``raw`` the
    record's original text, for the rejected-rows file.
    """

    line: int
    column: str | None
    reason: str
    raw: str = ""

    def describe(self) -> str:
        """``line 7, column Lineitem quantity: -2 is negative``."""
        where = f"line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.reason}"


class FileRefused(Invalid):
    """The file cannot be read at all (encoding, header, format); nothing was written."""

    code = "import-file-refused"

    def __init__(
        self, detail: str, row_errors: list[RowError] | None = None, **context: object
    ) -> None:
        super().__init__(detail, (), **context)
        self.row_errors = row_errors or []


class ImportRejected(Invalid):
    """Some rows are bad and ``--skip-invalid`` was not given; nothing was written."""

    code = "import-rejected"

    def __init__(self, detail: str, row_errors: list[RowError], total: int) -> None:
        super().__init__(detail)
        self.row_errors = row_errors
        self.total = total


def write_errors(path: Path, errors: list[RowError]) -> None:
    """Write rejected rows as CSV (``ERRORS_HEADER``), safe to open in a spreadsheet.

    The rows are the file's own text, which may start with ``=`` or ``@``: every cell
    goes through ``core.csvsafe`` so that none runs as a formula.
    """
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = safe_writer(handle)
        out.writerow(ERRORS_HEADER)
        out.writerows((e.line, e.column or "", e.reason, e.raw) for e in errors)
