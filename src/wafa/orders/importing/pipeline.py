"""Running an order import: validate the whole file first, then write it in one go.

Pass 1 streams the file once: every row is parsed and checked, good orders are
spooled (pickled, in batches) to a temporary file and problems are collected; memory
holds one order and a bounded sample of errors, whatever the file's size. The
database is not touched in this pass, so a bad file never takes a write lock.

Pass 2 reads the spool and writes batches of ``batch_size`` orders through
``OrderWriter`` in the caller's transaction; the caller commits, or rolls back on any
failure (or for a dry run), so an import is all or nothing.

When a row is bad, by default nothing is written. With ``skip_invalid`` the orders
with no bad row are written and the rejected rows (every row of a rejected order) go
to the errors file with their line, column and reason.

Two imports of overlapping files at the same moment: on SQLite the second waits for the
first's write lock; on PostgreSQL the second fails on the ``(source, external_id)``
unique key and rolls back whole, and running it again skips what the first stored.
"""

from __future__ import annotations

import csv
import pickle
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session

from wafa.core.settings import Settings
from wafa.orders.importing.base import OrderParser, Rejected
from wafa.orders.importing.errors import FileRefused, ImportRejected, RowError
from wafa.orders.importing.generic import GenericOrders
from wafa.orders.importing.readers import CsvSource
from wafa.orders.importing.records import P_EXTERNAL_ID, P_LINE, Packed, pack
from wafa.orders.importing.shopify import ShopifyOrders
from wafa.orders.importing.woocommerce import WooCommerceOrders
from wafa.orders.importing.writer import OrderWriter, WriteStats

FORMATS: dict[str, type[OrderParser]] = {
    "generic": GenericOrders,
    "shopify": ShopifyOrders,
    "woocommerce": WooCommerceOrders,
}
ERROR_SAMPLE = 200
ERRORS_HEADER = ("line", "column", "reason", "row")

# progress(stage, done, total): stage "reading" counts bytes, "writing" counts orders.
Progress = Callable[[str, int, int], None]


@dataclass
class ImportReport:
    """What an import found and did."""

    path: str
    format: str
    source: str
    lines: int = 0
    orders_read: int = 0
    orders_rejected: int = 0
    rows_rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    written: bool = False
    dry_run: bool = False
    stats: WriteStats = field(default_factory=WriteStats)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """The figures, for printing or JSON."""
        return {
            "lines": self.lines,
            "orders in file": self.orders_read + self.orders_rejected,
            "orders created": self.stats.orders_created,
            "orders already present": self.stats.orders_present,
            "customers created": self.stats.customers_created,
            "customers matched": self.stats.customers_matched,
            "guest orders": self.stats.guests,
            "refunds": self.stats.refunds,
            "rejected orders": self.orders_rejected,
            "rejected rows": self.rows_rejected,
        }


class ErrorSink:
    """Collects row errors: a bounded sample in memory, all of them in the errors file."""

    def __init__(self, report: ImportReport, path: Path | None) -> None:
        self.report = report
        self._handle: IO[str] | None = None
        self._writer: Any = None
        if path is not None:
            self._handle = path.open("w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(ERRORS_HEADER)

    def add(self, error: RowError, *, collateral: bool = False) -> None:
        """Record a problem; ``collateral`` rows (good rows of a rejected order) go only to the file."""
        if not collateral:
            self.report.error_count += 1
            if len(self.report.errors) < ERROR_SAMPLE:
                self.report.errors.append(error)
        if self._writer is not None:
            self._writer.writerow((error.line, error.column or "", error.reason, error.raw))

    def reject(self, rejected: Rejected, what: str) -> None:
        """Record a rejected order: its bad rows with reasons, its other rows as collateral."""
        bad_lines = {e.line for e in rejected.errors}
        for error in sorted(rejected.errors, key=lambda e: e.line):
            self.add(error)
        where = ", ".join(str(n) for n in sorted(bad_lines))
        for record in rejected.records:
            if record.line not in bad_lines:
                self.add(
                    RowError(
                        record.line,
                        None,
                        f"not imported: {what} {rejected.key} has a bad row (line {where})",
                        record.raw,
                    ),
                    collateral=True,
                )
        self.report.orders_rejected += 1
        self.report.rows_rejected += len(rejected.records)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def _spool_batches(handle: IO[bytes]) -> Iterator[list[Packed]]:
    handle.seek(0)
    while True:
        try:
            yield pickle.load(handle)
        except EOFError:
            return


def make_parser(
    fmt: str, *, settings: Settings, source: str, mapping: dict[str, str | None] | None
) -> OrderParser:
    """The parser of ``fmt`` (generic, shopify, woocommerce)."""
    try:
        parser_class = FORMATS[fmt]
    except KeyError:
        raise FileRefused(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}") from None
    return parser_class(settings=settings, source=source, mapping=mapping)


def import_orders(
    session: Session,
    path: Path,
    *,
    fmt: str,
    settings: Settings,
    source: str | None = None,
    mapping: dict[str, str | None] | None = None,
    encoding: str | None = None,
    skip_invalid: bool = False,
    errors_path: Path | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    batch_size: int = 5000,
) -> ImportReport:
    """Import an orders export into ``session`` (which the caller commits or rolls back).

    Raises ``FileRefused`` when the file cannot be read (encoding, header, an open
    quote at the end) and ``ImportRejected`` when rows are bad and ``skip_invalid`` is
    off; in both cases nothing was written. Re-importing a file adds nothing: orders
    already stored under ``(source, external id)`` are counted as present.
    """
    started = time.perf_counter()
    source = source or fmt
    parser = make_parser(fmt, settings=settings, source=source, mapping=mapping)
    report = ImportReport(path=str(path), format=fmt, source=source, dry_run=dry_run)
    csv_source = CsvSource(path, encoding=encoding)
    sink = ErrorSink(report, errors_path if skip_invalid else None)
    hashes = array("q")
    try:
        with tempfile.TemporaryFile() as spool:
            records = csv_source.records()
            header = next(records, None)
            if header is None:
                raise FileRefused("the file is empty: no header line")
            parser.bind(header)
            batch: list[tuple[object, ...]] = []
            for tick, item in enumerate(parser.orders(records), 1):
                if isinstance(item, Rejected):
                    sink.reject(item, "order")
                else:
                    report.orders_read += 1
                    hashes.append(hash(item.external_id))
                    batch.append(pack(item))
                    if len(batch) >= batch_size:
                        pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)
                        batch = []
                for error in csv_source.errors:
                    sink.add(error)
                    report.rows_rejected += 1
                csv_source.errors.clear()
                if progress is not None and tick % 500 == 0:
                    progress("reading", csv_source.bytes_read, csv_source.size)
            if batch:
                pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)
            report.lines = csv_source.lines_read
            if progress is not None:
                progress("reading", csv_source.size, csv_source.size)
            duplicates = _duplicates(hashes, spool)
            del hashes
            for key, lines in duplicates.items():
                report.orders_read -= len(lines)
                report.orders_rejected += len(lines)
                for line in lines:
                    sink.add(
                        RowError(
                            line,
                            parser.table.col(parser.key),
                            f"order {key} appears more than once (lines "
                            f"{', '.join(map(str, lines))}); the rows of an order must follow "
                            "each other",
                        )
                    )
            if report.error_count and not skip_invalid:
                raise ImportRejected(
                    f"{report.error_count} problem(s) in {path.name}; nothing was imported",
                    report.errors,
                    report.error_count,
                )
            writer = OrderWriter(session, source=source)
            done = 0
            for chunk in _spool_batches(spool):
                keep = [r for r in chunk if r[P_EXTERNAL_ID] not in duplicates]
                writer.write_packed(keep)
                done += len(chunk)
                if progress is not None:
                    progress("writing", done, report.orders_read)
            session.flush()
            report.stats = writer.stats
            report.written = not dry_run
    finally:
        sink.close()
    report.seconds = time.perf_counter() - started
    return report


def _duplicates(hashes: array[int], spool: IO[bytes]) -> dict[str, list[int]]:
    """Orders whose key appears in two places of the file: key -> their first lines."""
    if len(hashes) < 2:
        return {}
    import numpy as np

    values = np.frombuffer(hashes, dtype=np.int64)
    ordered = np.sort(values)
    repeated = set(ordered[1:][ordered[1:] == ordered[:-1]].tolist())
    if not repeated:
        return {}
    seen: dict[str, list[int]] = {}
    for chunk in _spool_batches(spool):
        for row in chunk:
            if hash(row[P_EXTERNAL_ID]) in repeated:
                seen.setdefault(row[P_EXTERNAL_ID], []).append(row[P_LINE])
    return {key: lines for key, lines in seen.items() if len(lines) > 1}
