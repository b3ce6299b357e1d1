"""A file's header bound to the roles of its shop format (``wafa.ingest``).

Each header cell is matched, case-insensitively, to a name the format knows (or to a
name it is mapped to with ``--map``), and each role of the format is bound to the
positions of its names, in the format's order of preference. Cells are then read by
role: ``first`` gives the first filled cell of the role's columns, ``joined`` every
filled one (an address from its parts). Error messages name the column as the file's
header writes it.

A column that is neither known, nor matched by one of the format's patterns, nor mapped
is refused, so that a typo never drops data silently; so is a known column given twice
and a role the format requires that no column plays.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from wafa.ingest.describe import Column, OrderFormat, Role
from wafa.orders.importing.base import bind_header
from wafa.orders.importing.errors import FileRefused, RowError
from wafa.orders.importing.readers import Record

__all__ = ["OrderTable"]


class OrderTable:
    """A header bound to an ``OrderFormat``; cells are read by ``Role``."""

    def __init__(
        self,
        header: Record,
        fmt: OrderFormat,
        *,
        mapping: Mapping[str, str | None] | None = None,
    ) -> None:
        self.format = fmt
        self.width = len(header.values)
        self.cells = [c.strip().lstrip("\ufeff") for c in header.values]
        self.by_name, errors = bind_header(  # the format's name (as it spells it) -> position
            self.cells,
            fmt=fmt.name,
            known={n.lower(): n for n in fmt.known_names()},
            fields=_fields(fmt),
            patterns=fmt.patterns(),
            mapping=mapping,
        )
        self.positions: dict[Role, tuple[int, ...]] = {}
        for column in fmt.columns:
            found = _positions(column, self.by_name, self.cells)
            if found:
                self.positions[column.role] = found
        for role in fmt.required:
            if role not in self.positions:
                errors.append(RowError(1, fmt.primary(role), "required column is missing"))
        if errors:
            raise FileRefused(
                f"the header (line 1) does not fit the {fmt.name} format", row_errors=errors
            )
        self.kept = tuple(
            (key, self.by_name[name]) for name, key in fmt.kept if name in self.by_name
        )

    def has(self, role: Role) -> bool:
        """Whether the file has a column playing ``role``."""
        return role in self.positions

    def col(self, role: Role) -> str:
        """The name of ``role``'s (first) column as the file writes it."""
        found = self.positions.get(role)
        return self.cells[found[0]] if found else self.format.primary(role)

    def header_cell(self, pos: int) -> str:
        """The header cell at position ``pos`` as written."""
        return self.cells[pos]

    def at(self, role: Role) -> int | None:
        """The position of ``role``'s only column (``None``: absent)."""
        found = self.positions.get(role)
        return found[0] if found else None

    def first(self, values: Sequence[str], role: Role) -> tuple[str, str]:
        """The first filled cell of ``role`` on a row, and its column as written.

        ("", the role's column) when none is filled.
        """
        found = self.positions.get(role)
        if not found:
            return "", self.format.primary(role)
        for pos in found:
            text = values[pos]
            if text and not text.isspace():
                return text, self.cells[pos]
        return "", self.cells[found[0]]

    def text(self, values: Sequence[str], role: Role) -> str:
        """The first filled cell of ``role`` on a row ("" when none)."""
        found = self.positions.get(role)
        if not found:
            return ""
        for pos in found:
            text = values[pos]
            if text and not text.isspace():
                return text
        return ""

    def joined(self, values: Sequence[str], role: Role) -> str | None:
        """Every filled cell of ``role``, trimmed and comma-separated (``None`` when none)."""
        parts = [values[p].strip().lstrip("'") for p in self.positions.get(role, ())]
        return ", ".join(p for p in parts if p) or None

    def width_error(self, record: Record) -> RowError | None:
        """A record with the wrong number of cells (a broken or truncated row)."""
        if len(record.values) == self.width:
            return None
        return RowError(
            record.line,
            None,
            f"expected {self.width} cells as in the header, found {len(record.values)} "
            "(a broken or truncated row?)",
            record.raw,
        )


def _positions(column: Column, by_name: dict[str, int], cells: list[str]) -> tuple[int, ...]:
    if column.pattern is not None:
        pattern = re.compile(column.pattern, re.IGNORECASE)
        numbered = sorted(
            (int(match.group(1)), pos)
            for pos, cell in enumerate(cells)
            if (match := pattern.fullmatch(cell)) is not None
        )
        return tuple(pos for _, pos in numbered)
    return tuple(by_name[n] for n in column.names if n in by_name)


def _fields(fmt: OrderFormat) -> list[str]:
    return [c.names[0] for c in fmt.columns if c.names]
