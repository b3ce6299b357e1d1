"""What every order format shares: the header, grouping rows into orders, cell errors."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import ClassVar, TypeVar

from email_validator import SPECIAL_USE_DOMAIN_NAMES

from wafa.core.contacts import ContactError, normalize_email, normalize_phone
from wafa.core.money import MAX_AMOUNT
from wafa.core.settings import Settings
from wafa.orders.importing.errors import FileRefused, RowError, RowProblem
from wafa.orders.importing.readers import Record
from wafa.orders.importing.records import OrderRecord
from wafa.orders.importing.values import InstantReader, too_large

T = TypeVar("T")


@dataclass(slots=True)
class Rejected:
    """An order (or a customer/product row) left out, with every problem found in it."""

    key: str
    errors: list[RowError]
    records: list[Record]


def parse_mapping(pairs: Mapping[str, str | None]) -> dict[str, str | None]:
    """Normalise a column mapping: file column (any case) -> field, ``None``/"" to ignore."""
    return {k.strip().lower(): (v.strip() if v else None) for k, v in pairs.items()}


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
        known = {c.lower(): c for c in columns}
        mapping = parse_mapping(mapping or {})
        self.index: dict[str, int] = {}
        self.names: dict[str, str] = {}  # canonical -> the header cell as written
        self.width = len(header.values)
        self.cells = [c.strip().lstrip("\ufeff") for c in header.values]
        errors: list[RowError] = []
        seen_mapped: set[str] = set()
        for pos, cell in enumerate(header.values):
            written = cell.strip().lstrip("\ufeff")
            low = written.lower()
            canon: str | None
            if low in mapping:
                seen_mapped.add(low)
                target = mapping[low]
                if not target:
                    continue
                canon = known.get(target.lower())
                if canon is None:
                    errors.append(
                        RowError(
                            1,
                            written,
                            f"mapped to {target!r}, which is not a {fmt} field "
                            f"(fields: {', '.join(columns)})",
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
            if canon in self.index:
                errors.append(RowError(1, written, f"column {canon!r} appears twice"))
                continue
            self.index[canon] = pos
            self.names[canon] = written
        for name in required:
            if name not in self.index:
                errors.append(RowError(1, name, "required column is missing"))
        for low in mapping:
            if low not in seen_mapped:
                errors.append(RowError(1, low, "--map names a column that is not in the file"))
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


class OrderParser:
    """Base of the order formats: bind the header, group rows by order, build records."""

    name: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]
    required: ClassVar[tuple[str, ...]]
    key: ClassVar[str]
    patterns: ClassVar[tuple[re.Pattern[str], ...]] = ()
    # Where the format says what was refunded (the first present names the problems a
    # later export's refunds can raise).
    refund_columns: ClassVar[tuple[str, ...]] = ()
    # Where a line's price and the order's total are (for amounts out of bounds).
    price_column: ClassVar[str | None] = None
    total_column: ClassVar[str | None] = None

    def __init__(
        self,
        *,
        settings: Settings,
        source: str,
        mapping: Mapping[str, str | None] | None = None,
    ) -> None:
        self.settings = settings
        self.source = source
        self.region = settings.phone_region
        self.default_currency = settings.currency
        self.instant = InstantReader(settings.zone)
        self.mapping = mapping or {}
        self.table: Table

    def bind(self, header: Record) -> None:
        """Read the header; unknown or missing columns refuse the file."""
        self.table = Table(
            header,
            fmt=self.name,
            columns=self.columns,
            required=self.required,
            patterns=self.patterns,
            mapping=self.mapping,
        )

    def refund_column(self) -> str | None:
        """The file's column (as written) that holds refunds, if it has one."""
        for name in self.refund_columns:
            if self.table.has(name):
                return self.table.col(name)
        return None

    def build(self, records: list[Record], errors: list[RowError]) -> OrderRecord | None:
        """Turn one order's rows into a record, appending every problem to ``errors``."""
        raise NotImplementedError

    def group_key(self, record: Record) -> str:
        """The value that ties a row to its order."""
        i = self.table.index[self.key]
        return record.values[i].strip() if i < len(record.values) else ""

    def orders(self, records: Iterator[Record]) -> Iterator[OrderRecord | Rejected]:
        """Group consecutive rows with the same key into orders and build each one."""
        group: list[Record] = []
        current: str | None = None
        for record in records:
            key = self.group_key(record)
            if group and key == current and key:
                group.append(record)
                continue
            if group:
                yield self._finish(current or "", group)
            group, current = [record], key
        if group:
            yield self._finish(current or "", group)

    def _finish(self, key: str, group: list[Record]) -> OrderRecord | Rejected:
        errors: list[RowError] = []
        for record in group:
            problem = self.table.width_error(record)
            if problem is not None:
                errors.append(problem)
        if not key:
            errors.append(
                RowError(group[0].line, self.table.col(self.key), "is empty", group[0].raw)
            )
        if errors:
            return Rejected(key, errors, group)
        try:
            order = self.build(group, errors)
        except RowProblem as exc:
            errors.append(RowError(group[0].line, exc.column, exc.reason, group[0].raw))
            order = None
        if order is not None and not errors:
            errors.extend(self._out_of_bounds(order, group[0]))
        if errors or order is None:
            # Readers name canonical columns; report them as the file's header writes them.
            named = [replace(e, column=self.table.col(e.column)) if e.column else e for e in errors]
            return Rejected(key, named, group)
        order.line = group[0].line
        return order

    def _out_of_bounds(self, order: OrderRecord, first: Record) -> list[RowError]:
        """Lines and totals beyond ``MAX_AMOUNT`` (each cell may be within it, their product not)."""
        bound = too_large(order.currency)
        for number, line in enumerate(order.lines, 1):
            if line.quantity * line.unit_price > MAX_AMOUNT:
                return [
                    RowError(
                        first.line,
                        self.price_column,
                        f"line {number} of order {order.external_id} (quantity × price) comes "
                        f"to more than {bound}",
                        first.raw,
                    )
                ]
        total = order.final_total()
        if total > MAX_AMOUNT or order.lines_subtotal() > MAX_AMOUNT:
            return [
                RowError(
                    first.line,
                    self.total_column,
                    f"the total of order {order.external_id} comes to more than {bound}",
                    first.raw,
                )
            ]
        return []

    # ------------------------------------------------------------------ helpers

    def email(self, raw: str, column: str) -> str | None:
        """A normalised email, or ``None`` for a blank cell."""
        return read_email(raw, column)

    def phone(self, raw: str, column: str) -> str | None:
        """A phone in E.164 read in the business's region, or ``None`` for a blank cell."""
        return read_phone(raw, column, self.region)


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
            raise RowProblem(column, str(exc)) from None
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
        raise RowProblem(column, str(exc)) from None
    if len(_phones) >= _CACHE_CAP:
        _phones.clear()
    _phones[(raw, region)] = value
    return value


def attempt(errors: list[RowError], record: Record, read: Callable[[], T], default: T) -> T:
    """Run ``read``; a ``RowProblem`` is recorded against ``record`` and ``default`` returned."""
    try:
        return read()
    except RowProblem as exc:
        errors.append(RowError(record.line, exc.column, exc.reason, record.raw))
        return default


def join_address(*parts: str) -> str | None:
    """The non-blank parts, comma-separated."""
    kept = [p.strip().lstrip("'") for p in parts if p and p.strip()]
    return ", ".join(kept) or None
