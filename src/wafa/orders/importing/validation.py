"""The validating pass of an order import: read, check and prepare every order of a file.

``validate(job)`` streams the file once: each order is parsed and checked by its
format's parser, good orders are prepared for the writer (``prepare``) and spooled
in batches to ``job.spool``; bad rows are collected. It touches no database.
It yields messages (named tuples) for the writing side, in file order:

* ``HeaderFits(refund_column, key_column)`` once the header fits the format;
* ``Batch(start, end, orders, bytes_read, items)``: the spool holds a batch of
  ``orders`` prepared orders between byte offsets ``start`` and ``end`` (none when
  ``start == end``), and ``items`` are the problems found since the last message
  (``base.Rejected`` orders and ``RowError`` rows), in file order;
* ``End(lines, duplicates, peak_kib)``: ``duplicates`` maps each order key that appears
  in two places of the file to the first lines of each place;
* ``Refused(detail, row_errors, context)`` when the file cannot be read at all.

The pass runs in the importing process for small files; for big ones
``run_in_process`` runs it in a worker process started by the standard library's
``multiprocessing`` (a *spawned* interpreter, which shares no open file or database
connection with the caller), so that it uses the second core while the caller writes
the batches already validated.
"""

from __future__ import annotations

import marshal
import multiprocessing
import traceback
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple

from wafa.core.settings import Settings
from wafa.ingest import FORMATS
from wafa.orders.importing.base import Rejected
from wafa.orders.importing.errors import FileRefused, RowError
from wafa.orders.importing.parser import OrderParser
from wafa.orders.importing.prepare import Dialect, Preparer
from wafa.orders.importing.readers import CsvSource

# Problems are sent on at least this often, so memory holds a bounded number of them.
_ITEMS_PER_MESSAGE = 1000


class HeaderFits(NamedTuple):
    """The header fits the format: the columns the writer names in its messages."""

    refund_column: str | None
    key_column: str


class Batch(NamedTuple):
    """A batch of prepared orders in the spool, and the problems found since the last."""

    start: int
    end: int
    orders: int
    bytes_read: int
    items: list[Rejected | RowError]


class End(NamedTuple):
    """The file is read: its lines, the keys found in two places, the pass's peak memory."""

    lines: int
    duplicates: dict[str, list[int]]
    peak_kib: int


class Refused(NamedTuple):
    """The file cannot be read at all (``FileRefused``'s parts)."""

    detail: str
    row_errors: list[RowError]
    context: dict[str, Any]


class _Crashed(NamedTuple):
    """The worker process failed: its traceback (never yielded to the caller)."""

    traceback: str


Message = HeaderFits | Batch | End | Refused


@dataclass(frozen=True)
class Job:
    """What the validating pass needs: plain, picklable values."""

    path: str
    fmt: str
    settings: Settings
    source: str
    mapping: dict[str, str | None] | None
    encoding: str | None
    dialect: Dialect
    spool: str
    batch_size: int = 5000
    # Without ``skip_invalid`` the first problem is sent at once: the writer stops.
    skip_invalid: bool = False


def make_parser(
    fmt: str, *, settings: Settings, source: str, mapping: dict[str, str | None] | None
) -> OrderParser:
    """The parser of ``fmt`` (generic, shopify, woocommerce)."""
    try:
        description = FORMATS[fmt]
    except KeyError:
        raise FileRefused(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}") from None
    return OrderParser(description, settings=settings, source=source, mapping=mapping)


def validate(job: Job) -> Iterator[Message]:
    """Read, check and prepare the file of ``job``; see the module docstring."""
    try:
        yield from _validate(job)
    except FileRefused as exc:
        yield Refused(exc.detail, list(exc.row_errors), dict(exc.context))


def _validate(job: Job) -> Iterator[Message]:
    parser = make_parser(job.fmt, settings=job.settings, source=job.source, mapping=job.mapping)
    csv_source = CsvSource(Path(job.path), encoding=job.encoding)
    prepare = Preparer(source=job.source, dialect=job.dialect)
    hashes = array("q")
    with open(job.spool, "wb") as spool:
        records = csv_source.records()
        header = next(records, None)
        if header is None:
            raise FileRefused("the file is empty: no header line")
        parser.bind(header)
        yield HeaderFits(parser.refund_column(), parser.key_column())
        batch: list[Any] = []
        items: list[Rejected | RowError] = []
        told = False  # whether a problem was sent yet
        start = 0
        for item in parser.orders(records):
            if isinstance(item, Rejected):
                items.append(item)
            else:
                hashes.append(hash(item.external_id))
                batch.append(prepare(item))
            if csv_source.errors:
                items.extend(csv_source.errors)
                csv_source.errors.clear()
            if (
                len(batch) >= job.batch_size
                or len(items) >= _ITEMS_PER_MESSAGE
                or (items and not told and not job.skip_invalid)
            ):
                end = _dump(spool, batch)
                yield Batch(start, end, len(batch), csv_source.bytes_read, items)
                told = told or bool(items)
                start, batch, items = end, [], []
        # Malformed records after the last order (or in a file with no readable order).
        items.extend(csv_source.errors)
        csv_source.errors.clear()
        end = _dump(spool, batch)
        yield Batch(start, end, len(batch), csv_source.size, items)
    yield End(csv_source.lines_read, _duplicates(hashes, job.spool), _peak_kib())


def _dump(spool: Any, batch: list[Any]) -> int:
    # ``marshal``: prepared orders are built-in types only, which it reads back faster
    # than ``pickle`` (the spool is this import's own scratch file).
    if batch:
        marshal.dump(batch, spool)
        spool.flush()
    return int(spool.tell())


def read_batch(spool: Any, start: int, end: int) -> list[Any]:
    """The batch spooled between ``start`` and ``end`` (an open binary file)."""
    if start == end:
        return []
    spool.seek(start)
    batch: list[Any] = marshal.loads(spool.read(end - start))
    return batch


def _duplicates(hashes: array[int], spool_path: str) -> dict[str, list[int]]:
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
    with open(spool_path, "rb") as spool:
        while True:
            try:
                batch = marshal.load(spool)
            except EOFError:
                break
            for order in batch:
                key, line = order[0], order[1]
                if hash(key) in repeated:
                    seen.setdefault(key, []).append(line)
    return {key: lines for key, lines in seen.items() if len(lines) > 1}


def _peak_kib() -> int:
    """This process's peak resident memory (Linux), 0 where it cannot be read."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _serve(job: Job, channel: Connection) -> None:
    """The worker process's main: ``validate(job)``'s messages sent on ``channel``."""
    try:
        for message in validate(job):
            channel.send(message)
    except BaseException:
        channel.send(_Crashed(traceback.format_exc()))
        raise
    finally:
        channel.close()


def run_in_process(job: Job) -> Iterator[Message]:
    """``validate(job)``'s messages, computed in a worker process.

    The worker is spawned (a fresh interpreter; ``multiprocessing`` imports the caller's
    main module under its ``__main__`` guard and nothing more): it shares no open file
    or database connection with this process. It is stopped if the caller stops early,
    e.g. because writing failed.
    """
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_serve, args=(job, send), name="wafa-import-validate")
    process.start()
    send.close()  # the child holds its own end: EOF here when it exits
    try:
        while True:
            try:
                message = receive.recv()
            except EOFError:
                process.join(10)
                raise RuntimeError(
                    f"the import's validating process stopped (exit code {process.exitcode})"
                ) from None
            if isinstance(message, _Crashed):
                raise RuntimeError(f"the import's validating process failed:\n{message.traceback}")
            yield message
            if isinstance(message, End | Refused):
                return
    finally:
        receive.close()
        if process.is_alive():
            process.terminate()
        process.join(10)
