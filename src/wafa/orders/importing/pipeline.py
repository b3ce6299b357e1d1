"""Running an order import: validate the whole file, write it in one go, all or nothing.

The validating pass (``validation.validate``) streams the file once: every row is
parsed and checked, good orders are prepared for the database (``prepare``) and
spooled in batches to a temporary file, and problems are collected; memory
holds one batch and a bounded sample of errors, whatever the file's size.

The writing pass reads the spool and writes batches through ``OrderWriter`` in the
caller's transaction, inside a savepoint: on any problem the savepoint is rolled back,
so when ``import_orders`` raises, nothing of the file is left in the session; the
caller commits, or rolls back for a dry run.

* A small file (under ``PARALLEL_BYTES``) is validated completely before anything is
  written, in this process: a bad file never touches the database.
* A big file is validated in a worker process while this process writes the batches
  already validated, so the two passes run on two cores at once. The first bad row
  rolls the savepoint back and stops the writing; the rest of the file is still
  checked (and, in check-only mode, compared with what is stored) so that every
  problem is reported. The outcome is exactly that of the sequential run.

When a row is bad, by default nothing is written. With ``skip_invalid`` the orders
with no bad row are written and the rejected rows (every row of a rejected order) go
to the errors file with their line, column and reason, in file order.

An order stored before (same ``(source, external id)``) is not written again; what a
later export says about it (new refunds, a cancellation) is applied, and an export
that shows less refunded than is recorded is a problem of that row (see
``writer.OrderWriter``). Re-importing the same file changes nothing.

Two imports of overlapping files at the same moment: on SQLite the second waits for the
first's write lock; on PostgreSQL the second fails on the ``(source, external_id)``
unique key and rolls back whole, and running it again skips what the first stored.
"""

from __future__ import annotations

import csv
import heapq
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy.orm import Session, SessionTransaction

from wafa.core.csvsafe import safe_writer
from wafa.core.settings import Settings
from wafa.ingest import FORMATS
from wafa.orders.importing.base import Rejected
from wafa.orders.importing.errors import ERRORS_HEADER, FileRefused, ImportRejected, RowError
from wafa.orders.importing.prepare import KEY, Dialect, Prepared
from wafa.orders.importing.readers import CsvSource, check_encoding
from wafa.orders.importing.validation import (
    Batch,
    End,
    HeaderFits,
    Job,
    Message,
    Refused,
    make_parser,
    read_batch,
    run_in_process,
    validate,
)
from wafa.orders.importing.writer import OrderWriter, WriteStats

__all__ = ["FORMATS", "ImportReport", "Progress", "import_orders", "make_parser"]

ERROR_SAMPLE = 200
# Files from this size on are validated in a worker process while this one writes.
PARALLEL_BYTES = 8 * 1024 * 1024

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
    # Whether a worker process validated the file, and its peak resident memory.
    parallel: bool = False
    validator_peak_kib: int = 0

    def summary(self) -> dict[str, Any]:
        """The figures, for printing or JSON."""
        return {
            "lines": self.lines,
            "orders in file": self.orders_read + self.orders_rejected,
            "orders created": self.stats.orders_created,
            "orders already present": self.stats.orders_present,
            "orders updated": self.stats.orders_updated,
            "customers created": self.stats.customers_created,
            "customers matched": self.stats.customers_matched,
            "guest orders": self.stats.guests,
            "refunds": self.stats.refunds,
            "cancelled": self.stats.orders_cancelled,
            "rejected orders": self.orders_rejected,
            "rejected rows": self.rows_rejected,
        }


class ErrorSink:
    """Collects row errors: a bounded sample in memory, all of them in the errors file.

    Problems of the validating pass arrive in file order and go straight to a scratch
    file. Problems found while writing (a later export's refunds) and repeated orders
    arrive later; ``close`` merges them in, in file order, with the text of their rows.
    """

    def __init__(self, report: ImportReport, path: Path | None) -> None:
        self.report = report
        self.path = path
        self._sample: list[RowError] = []
        self._late: list[RowError] = []
        self._scratch: IO[str] | None = None
        self._writer: Any = None
        if path is not None:
            # Closed by ``discard``, which the import calls whatever happens.
            self._scratch = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115
            self._writer = csv.writer(self._scratch)

    def add(self, error: RowError, *, collateral: bool = False) -> None:
        """Record a problem; ``collateral`` rows (good rows of a rejected order) go only to the file."""
        if not collateral:
            self.report.error_count += 1
            if len(self._sample) < ERROR_SAMPLE:
                self._sample.append(error)
        if self._writer is not None:
            self._writer.writerow((error.line, error.column or "", error.reason, error.raw))

    def add_late(self, error: RowError) -> None:
        """A problem found after the validating pass had moved past its row."""
        self.report.error_count += 1
        if self.path is not None or len(self._late) < ERROR_SAMPLE:
            self._late.append(error)

    def reject(self, rejected: Rejected, what: str) -> None:
        """Record a rejected order: its bad rows with reasons, its other rows as collateral."""
        bad_lines = {e.line for e in rejected.errors}
        where = ", ".join(str(n) for n in sorted(bad_lines))
        rows = [(e.line, False, e) for e in rejected.errors] + [
            (
                record.line,
                True,
                RowError(
                    record.line,
                    None,
                    f"not imported: {what} {rejected.key} has a bad row (line {where})",
                    record.raw,
                ),
            )
            for record in rejected.records
            if record.line not in bad_lines
        ]
        # In file order: the order's rows as they come, each bad row before its reasons'
        # collateral (a row is either bad or collateral, never both).
        for _, collateral, error in sorted(rows, key=lambda row: (row[0], row[1])):
            self.add(error, collateral=collateral)
        self.report.orders_rejected += 1
        self.report.rows_rejected += len(rejected.records)

    def errors(self) -> list[RowError]:
        """The first ``ERROR_SAMPLE`` problems in file order."""
        merged = sorted(self._sample + self._late, key=lambda e: e.line)
        return merged[:ERROR_SAMPLE]

    def close(self, rows: Callable[[set[int]], dict[int, str]]) -> None:
        """Write the errors file; ``rows`` gives the text of the late problems' rows."""
        if self._scratch is None or self.path is None:
            return
        self._scratch.seek(0)
        texts = rows({e.line for e in self._late if not e.raw}) if self._late else {}
        late: list[tuple[int, str, str, str]] = sorted(
            (
                (e.line, e.column or "", e.reason, e.raw or texts.get(e.line, ""))
                for e in self._late
            ),
            key=_line_of,
        )
        early: Iterator[tuple[int, str, str, str]] = (
            (int(r[0]), r[1], r[2], r[3]) for r in csv.reader(self._scratch)
        )
        with self.path.open("w", encoding="utf-8", newline="") as handle:
            out = safe_writer(handle)
            out.writerow(ERRORS_HEADER)
            merged: Iterator[tuple[int, str, str, str]] = heapq.merge(early, late, key=_line_of)
            out.writerows(merged)

    def discard(self) -> None:
        if self._scratch is not None:
            self._scratch.close()


def _line_of(row: tuple[int, str, str, str]) -> int:
    return row[0]


def _row_texts(path: Path, encoding: str | None) -> Callable[[set[int]], dict[int, str]]:
    def rows(lines: set[int]) -> dict[int, str]:
        found: dict[int, str] = {}
        if lines:
            for record in CsvSource(path, encoding=encoding).records():
                if record.line in lines:
                    found[record.line] = record.raw
        return found

    return rows


class _Writing:
    """The writing side: consumes the validating pass's messages and writes the spool."""

    def __init__(
        self,
        session: Session,
        report: ImportReport,
        sink: ErrorSink,
        *,
        source: str,
        spool: IO[bytes],
        skip_invalid: bool,
        pipelined: bool,
        progress: Progress | None,
        size: int,
    ) -> None:
        self.size = size
        self.session = session
        self.report = report
        self.sink = sink
        self.source = source
        self.spool = spool
        self.skip_invalid = skip_invalid
        self.pipelined = pipelined
        self.progress = progress
        self.batches: list[tuple[int, int]] = []  # spool ranges, in file order
        self.written = 0  # how many of ``batches`` went through the writer
        self.refund_column: str | None = None
        self.key_column: str | None = None
        self.savepoint: SessionTransaction | None = None
        self.writer: OrderWriter | None = None
        self.failed = False  # a problem was found: nothing will be kept
        self.excluded: dict[str, list[int]] = {}
        self.done = 0

    def run(self, messages: Iterable[Message]) -> None:
        for message in messages:
            match message:
                case HeaderFits(refund_column, key_column):
                    self.refund_column, self.key_column = refund_column, key_column
                    self._start()
                case Batch(start, end, count, bytes_read, items):
                    self._batch(start, end, count, bytes_read, items)
                case End(lines, duplicates, peak_kib):
                    self.report.lines = lines
                    self.report.validator_peak_kib = peak_kib if self.pipelined else 0
                    self._finish(duplicates)
                case Refused(detail, row_errors, context):
                    raise FileRefused(detail, row_errors=row_errors, **context)

    def _batch(
        self,
        start: int,
        end: int,
        count: int,
        bytes_read: int,
        items: list[Rejected | RowError],
    ) -> None:
        for item in items:
            if isinstance(item, Rejected):
                self.sink.reject(item, "order")
            else:
                self.sink.add(item)
                self.report.rows_rejected += 1
        self.report.orders_read += count
        if start != end:
            self.batches.append((start, end))
        if self.progress is not None:
            self.progress("reading", bytes_read, self.size)
        if self.report.error_count and not self.skip_invalid:
            self._fail()
        if self.pipelined:
            self._write_pending()

    def _start(self) -> None:
        self.savepoint = self.session.begin_nested()
        self.writer = OrderWriter(
            self.session, source=self.source, refund_column=self.refund_column
        )

    def _fail(self) -> None:
        """Nothing of this import will be kept: undo what was written, check the rest."""
        if self.failed:
            return
        self.failed = True
        self.rollback()
        assert self.writer is not None
        self.writer.check_only = True

    def rollback(self) -> None:
        if self.savepoint is not None and self.savepoint.is_active:
            self.savepoint.rollback()

    def _write_pending(self) -> None:
        while self.written < len(self.batches):
            start, end = self.batches[self.written]
            self.written += 1
            self._write(read_batch(self.spool, start, end))

    def _write(self, batch: list[Prepared]) -> None:
        writer = self.writer
        assert writer is not None
        if self.excluded:
            batch = [order for order in batch if order[KEY] not in self.excluded]
        writer.write_prepared(batch)
        if writer.problems:
            for problem in writer.problems:
                self.sink.add_late(problem)
                self.report.orders_rejected += 1
                self.report.rows_rejected += 1
            writer.problems.clear()
            if not self.skip_invalid:
                self._fail()
        self.done += len(batch)
        if self.progress is not None:
            self.progress("writing", self.done, self.report.orders_read)

    def _finish(self, duplicates: dict[str, list[int]]) -> None:
        for key, lines in duplicates.items():
            self.report.orders_read -= len(lines)
            self.report.orders_rejected += len(lines)
            for line in lines:
                self.sink.add_late(
                    RowError(
                        line,
                        self.key_column,
                        f"order {key} appears more than once (lines "
                        f"{', '.join(map(str, lines))}); the rows of an order must follow "
                        "each other",
                    )
                )
        if duplicates and not self.skip_invalid:
            self._fail()
        writer = self.writer
        assert writer is not None
        if duplicates and self.written and not self.failed:
            # Pipelined, with --skip-invalid: the first place of a repeated order may be
            # written already. Start the writing again without the repeated orders.
            self.rollback()
            self.savepoint = self.session.begin_nested()
            writer = self.writer = OrderWriter(
                self.session, source=self.source, refund_column=self.refund_column
            )
            self.written = self.done = 0
        self.excluded = duplicates
        self._write_pending()
        # Orders this run found stored by itself are the repeated ones; any other was
        # stored meanwhile by a concurrent import of the same orders: already present.
        writer.stats.orders_present += sum(1 for k in writer.repeated if k not in duplicates)
        if self.failed or (self.report.error_count and not self.skip_invalid):
            self._fail()
            raise ImportRejected(
                f"{self.report.error_count} problem(s) in {Path(self.report.path).name}; "
                "nothing was imported",
                self.sink.errors(),
                self.report.error_count,
            )
        assert self.savepoint is not None
        self.savepoint.commit()
        self.report.stats = writer.stats


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
    parallel: bool | None = None,
) -> ImportReport:
    """Import an orders export into ``session`` (which the caller commits or rolls back).

    Raises ``FileRefused`` when the file cannot be read (encoding, header, an open
    quote at the end) and ``ImportRejected`` when rows are bad and ``skip_invalid`` is
    off; in both cases nothing of the file is left in the session. Re-importing a file
    adds nothing: orders already stored under ``(source, external id)`` are counted as
    present, and only what a later export adds to them (refunds, a cancellation) is
    recorded. ``parallel`` forces (``True``) or prevents (``False``) validating in a
    worker process; by default files of ``PARALLEL_BYTES`` or more are.
    """
    started = time.perf_counter()
    source = source or fmt
    make_parser(fmt, settings=settings, source=source, mapping=mapping)  # an unknown format
    check_encoding(encoding)
    size = path.stat().st_size
    pipelined = parallel if parallel is not None else size >= PARALLEL_BYTES
    report = ImportReport(
        path=str(path), format=fmt, source=source, dry_run=dry_run, parallel=pipelined
    )
    dialect: Dialect = "postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"
    sink = ErrorSink(report, errors_path if skip_invalid else None)
    writing: _Writing | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="wafa-import-") as scratch:
            spool_path = Path(scratch) / "orders.spool"
            spool_path.touch()
            job = Job(
                path=str(path), fmt=fmt, settings=settings, source=source, mapping=mapping,
                encoding=encoding, dialect=dialect, spool=str(spool_path),
                batch_size=batch_size, skip_invalid=skip_invalid,
            )  # fmt: skip
            messages: Iterator[Message] = run_in_process(job) if pipelined else validate(job)
            with spool_path.open("rb") as spool:
                writing = _Writing(
                    session, report, sink, source=source, spool=spool,
                    skip_invalid=skip_invalid, pipelined=pipelined, progress=progress, size=size,
                )  # fmt: skip
                try:
                    writing.run(messages)
                finally:
                    close = getattr(messages, "close", None)
                    if close is not None:
                        close()
        session.flush()
        report.errors = sink.errors()
        sink.close(_row_texts(path, encoding))
        if report.error_count and not report.orders_read:
            # With --skip-invalid, a file of which nothing could be read is no import.
            raise ImportRejected(
                f"none of the orders in {path.name} could be read "
                f"({report.error_count} problem(s)); nothing was imported",
                report.errors,
                report.error_count,
            )
        report.written = not dry_run
    except BaseException:
        if writing is not None:
            writing.rollback()
        raise
    finally:
        sink.discard()
    report.seconds = time.perf_counter() - started
    return report
