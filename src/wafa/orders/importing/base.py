"""What the CSV imports share: a header bound to named columns, rejected rows, contacts."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from email_validator import SPECIAL_USE_DOMAIN_NAMES

from wafa.core.contacts import ContactError, normalize_email, normalize_phone
from wafa.ingest.values import CellProblem
from wafa.orders.importing.errors import FileRefused, RowError
from wafa.orders.importing.readers import Record


@dataclass(slots=True)
class Rejected:
    """An order (or a customer/product row) left out, with every problem found in it."""

    key: str
    errors: list[RowError]
    records: list[Record]


def parse_mapping(pairs: Mapping[str, str | None]) -> dict[str, str | None]:
    """Normalise a column mapping: file column (any case) -> field, ``None``/"" to ignore."""
    return {k.strip().lower(): (v.strip() if v else None) for k, v in pairs.items()}


def bind_header(
    cells: list[str],
    *,
    fmt: str,
    known: Mapping[str, str],
    fields: list[str],
    patterns: tuple[re.Pattern[str], ...] = (),
    mapping: Mapping[str, str | None] | None = None,
    strict: bool = True,
) -> tuple[dict[str, int], list[RowError]]:
    """Bind header ``cells`` to a format's names: ``({name as the format spells it: position}, errors)``.

    ``known`` maps each lower-cased name the format knows to its own spelling; ``fields``
    lists them for the error that names a mapping to an unknown field. A cell is matched
    by ``--map`` first (an empty target skips the column), then by name (any case), then
    by one of ``patterns``. Refused, each as a line-1 error naming the cell: a mapping to
    an unknown field, an unknown column (when ``strict``), a column given twice, and a
    ``--map`` entry naming no column of the file. The CSV imports of customers, products
    and every order format bind their headers here, so the rule is written once.
    """
    mapped = parse_mapping(mapping or {})
    errors: list[RowError] = []
    seen_mapped: set[str] = set()
    index: dict[str, int] = {}
    for pos, written in enumerate(cells):
        low = written.lower()
        canon: str | None
        if low in mapped:
            seen_mapped.add(low)
            target = mapped[low]
            if not target:
                continue
            canon = known.get(target.lower())
            if canon is None:
                errors.append(
                    RowError(
                        1,
                        written,
                        f"mapped to {target!r}, which is not a {fmt} field "
                        f"(fields: {', '.join(fields)})",
                    )
                )
                continue
        else:
            canon = known.get(low)
            if canon is None and any(p.fullmatch(written) for p in patterns):
                canon = written
            if canon is None:
                if strict:
                    errors.append(
                        RowError(
                            1,
                            written or f"#{pos + 1}",
                            f"unknown column for the {fmt} format; map it to a field with "
                            f"--map '{written}=FIELD' or skip it with --map '{written}='",
                        )
                    )
                continue
        if canon in index:
            errors.append(RowError(1, written, f"column {canon!r} appears twice"))
            continue
        index[canon] = pos
    for low in mapped:
        if low not in seen_mapped:
            errors.append(RowError(1, low, "--map names a column that is not in the file"))
    return index, errors


class Table:
    """A header bound to a format's columns; cells are read by canonical column name."""

    def __init__(
        self,
        header: Record,
        *,
        fmt: str,
        columns: tuple[str, ...],
        required: tuple[str, ...] = (),
        patterns: tuple[re.Pattern[str], ...] = (),
        mapping: Mapping[str, str | None] | None = None,
        strict: bool = True,
    ) -> None:
        self.width = len(header.values)
        self.cells = [c.strip().lstrip("\ufeff") for c in header.values]
        self.index, errors = bind_header(
            self.cells,
            fmt=fmt,
            known={c.lower(): c for c in columns},
            fields=list(columns),
            patterns=patterns,
            mapping=mapping,
            strict=strict,
        )
        # canonical -> the header cell as written
        self.names: dict[str, str] = {name: self.cells[pos] for name, pos in self.index.items()}
        for name in required:
            if name not in self.index:
                errors.append(RowError(1, name, "required column is missing"))
        if errors:
            raise FileRefused(
                f"the header (line 1) does not fit the {fmt} format", row_errors=errors
            )
        # Position -> canonical name; skipped columns get a name no lookup uses.
        self._by_position = [f"\x00{pos}" for pos in range(self.width)]
        for name, pos in self.index.items():
            self._by_position[pos] = name

    def has(self, name: str) -> bool:
        """Whether the file has column ``name``."""
        return name in self.index

    def col(self, name: str) -> str:
        """The column's name as the file writes it (for error messages)."""
        return self.names.get(name, name)

    def header_cell(self, pos: int) -> str:
        """The header cell at position ``pos`` as written."""
        return self.cells[pos]

    def getter(self, values: list[str]) -> Callable[[str], str]:
        """``get(name)``: the cell of ``name`` in ``values`` ("" when the column is absent)."""
        return self.row(values).__getitem__

    def row(self, values: list[str]) -> defaultdict[str, str]:
        """The record as ``{canonical column: cell}``; an absent column reads as ""."""
        return defaultdict(str, zip(self._by_position, values, strict=False))

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


# Normalising an address or a number costs tens of microseconds and exports repeat
# them on every order, so the importer remembers recent results. The memory is capped:
# past the cap it starts again, so it never grows with the file.
_CACHE_CAP = 50_000
_emails: dict[str, str] = {}
_phones: dict[tuple[str, str], str] = {}


_PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
)
_SPECIAL_USE = frozenset(SPECIAL_USE_DOMAIN_NAMES)


def plain_email(text: str) -> str | None:
    """The normal form of a plain ASCII address, or ``None`` when it needs the full check.

    For an address made only of lower-case letters, digits and ``._+-`` in the usual
    places, on an ordinary domain (no IDNA ``xn--`` or ``--`` labels, no special-use
    domain, a letters-only top-level domain), ``core.contacts.normalize_email``
    returns the address lower-cased; that is this function's answer. Anything else goes
    to ``normalize_email`` itself, so the result is always the same as the canonical one
    (a property test checks this) at a fraction of the cost.
    """
    low = text.lower()
    if len(low) > 254 or not low.isascii() or _PLAIN_EMAIL.fullmatch(low) is None:
        return None
    local, _, domain = low.partition("@")
    if len(local) > 64 or "--" in domain:
        return None
    labels = domain.split(".")
    if any(".".join(labels[i:]) in _SPECIAL_USE for i in range(len(labels))):
        return None
    return low


def read_email(raw: str, column: str) -> str | None:
    """A normalised email, or ``None`` for a blank cell."""
    found = _emails.get(raw)
    if found is not None:
        return found
    text = raw.strip()
    if not text:
        return None
    value = plain_email(text)
    if value is None:
        try:
            value = normalize_email(text)
        except ContactError as exc:
            raise CellProblem(column, str(exc)) from None
    if len(_emails) >= _CACHE_CAP:
        _emails.clear()
    _emails[raw] = value
    return value


def read_phone(raw: str, column: str, region: str) -> str | None:
    """A phone in E.164, or ``None`` for a blank cell (Excel's leading ' is dropped)."""
    found = _phones.get((raw, region))
    if found is not None:
        return found
    text = raw.strip().lstrip("'").strip()
    if not text:
        return None
    try:
        value = normalize_phone(text, region)
    except ContactError as exc:
        raise CellProblem(column, str(exc)) from None
    if len(_phones) >= _CACHE_CAP:
        _phones.clear()
    _phones[(raw, region)] = value
    return value
