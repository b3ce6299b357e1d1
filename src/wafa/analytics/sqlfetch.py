"""Move large query results between the database and NumPy quickly.

A refresh reads a few million rows (per-customer summaries, purchase occasions,
customer-product pairs) and writes a million scores. Row-by-row fetching through the
DB-API builds a Python object per value, which dominates the run time on PostgreSQL.
So on PostgreSQL:

* :func:`fetch_arrays` runs the statement inside ``COPY (...) TO STDOUT (FORMAT
  binary)`` and reads the fixed-width rows straight into NumPy;
* :func:`copy_csv` streams a CSV file into a table with ``COPY ... FROM STDIN``.

Both run on the session's own connection and transaction. SQLite (small shops) takes
the ordinary path: the same results, fetched and inserted row by row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import insert
from sqlalchemy.orm import Session

from wafa.core.db import UtcDateTime, dialect_name

__all__ = ["UUID", "copy_csv", "fetch_arrays", "uuid_keys"]

#: Column kinds and their NumPy types (PostgreSQL binary COPY is big-endian).
UUID = "uuid"
KINDS: dict[str, tuple[str, str]] = {
    UUID: (">V16", "V16"),
    "int4": (">i4", "<i8"),
    "int8": (">i8", "<i8"),
    "float8": (">f8", "<f8"),
    "bool": ("?", "?"),
}
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _parse_binary(data: bytes, spec: Sequence[tuple[str, str]]) -> dict[str, npt.NDArray[Any]]:
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PostgreSQL binary COPY stream")
    extension = int.from_bytes(data[15:19], "big")
    body = data[19 + extension : -2]  # header, then the -1 trailer
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for name, kind in spec:
        fields.append((f"{name}__len", ">i4"))
        fields.append((name, KINDS[kind][0]))
    dtype = np.dtype(fields)
    if len(body) % dtype.itemsize:
        raise ValueError("rows are not fixed-width (a NULL value?)")
    rows = np.frombuffer(body, dtype=dtype)
    out: dict[str, npt.NDArray[Any]] = {}
    for name, kind in spec:
        if rows.size and np.any(rows[f"{name}__len"] != np.dtype(KINDS[kind][0]).itemsize):
            raise ValueError(f"column {name} has NULL or variable-width values")
        out[name] = rows[name].astype(KINDS[kind][1])
    return out


def fetch_arrays(
    session: Session, stmt: Any, spec: Sequence[tuple[str, str]]
) -> dict[str, npt.NDArray[Any]]:
    """Run ``stmt`` and return its columns as NumPy arrays.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Database session.
    stmt : sqlalchemy.Select
        A statement whose columns match ``spec`` in order, with no NULL (coalesce
        them) and with the exact types of ``spec`` (cast them).
    spec : sequence of (name, kind)
        ``kind`` is ``uuid`` (16-byte values), ``int4``, ``int8``, ``float8`` or ``bool``.

    Returns
    -------
    dict
        One array per column: UUIDs as ``V16`` (their 16 bytes, big-endian, so they
        sort as PostgreSQL sorts them), integers as ``int64``.
    """
    if dialect_name(session) == "postgresql":
        bind = session.get_bind()
        sql = str(stmt.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))
        dbapi = session.connection().connection.driver_connection
        assert dbapi is not None
        chunks: list[bytes] = []
        statement = f"COPY ({sql}) TO STDOUT (FORMAT binary)"
        with dbapi.cursor() as cursor, cursor.copy(statement) as copy:
            for chunk in copy:
                chunks.append(bytes(chunk))
        return _parse_binary(b"".join(chunks), spec)
    rows = session.execute(stmt).all()
    out: dict[str, npt.NDArray[Any]] = {}
    for i, (name, kind) in enumerate(spec):
        if kind == UUID:
            out[name] = np.array([r[i].bytes for r in rows], dtype="V16").reshape(len(rows))
        else:
            out[name] = np.array([r[i] for r in rows], dtype=KINDS[kind][1]).reshape(len(rows))
    return out


def uuid_keys(keys: npt.NDArray[Any]) -> list[uuid.UUID]:
    """Turn ``V16`` keys back into :class:`uuid.UUID` objects.

    Parameters
    ----------
    keys : numpy.ndarray
        16-byte keys from :func:`fetch_arrays`.

    Returns
    -------
    list of uuid.UUID
        In the same order.
    """
    return [uuid.UUID(bytes=bytes(k)) for k in keys.tolist()]


class KeyIndex:
    """Find the position of 16-byte keys in a sorted array of keys, fast.

    Uses the first 8 bytes as an integer when they are unique among the keys (true for
    UUIDv7 and, with overwhelming probability, for random UUIDs), else the full bytes.

    Parameters
    ----------
    keys : numpy.ndarray
        ``V16`` keys, sorted.
    """

    def __init__(self, keys: npt.NDArray[Any]) -> None:
        self.keys = keys
        self._high = keys.view(">u8").reshape(-1, 2)[:, 0].astype("<u8") if keys.size else None
        self._fast = self._high is not None and bool(np.all(np.diff(self._high) > 0))

    def find(self, queries: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
        """Return each query's position, or -1 when it is not a key.

        Parameters
        ----------
        queries : numpy.ndarray
            ``V16`` keys to look up.

        Returns
        -------
        numpy.ndarray
            Positions into ``keys``.
        """
        if self.keys.size == 0 or queries.size == 0:
            return np.full(queries.shape[0], -1, dtype=np.int64)
        if self._fast and self._high is not None:
            high = queries.view(">u8").reshape(-1, 2)[:, 0].astype("<u8")
            pos = np.searchsorted(self._high, high)
        else:
            pos = np.searchsorted(self.keys, queries)
        pos = np.minimum(pos, self.keys.size - 1)
        found = self.keys[pos] == queries
        return np.where(found, pos, -1).astype(np.int64)


def copy_csv(session: Session, table: Any, columns: Sequence[str], path: Path) -> None:
    """Append the rows of a CSV file (with a header) to ``table``.

    PostgreSQL streams it with ``COPY FROM STDIN``; SQLite inserts it in batches.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        Database session (the rows join its transaction).
    table : sqlalchemy.Table
        Target table.
    columns : sequence of str
        Column names, in the file's order.
    path : pathlib.Path
        CSV file: empty fields are NULL.
    """
    if dialect_name(session) == "postgresql":
        dbapi = session.connection().connection.driver_connection
        assert dbapi is not None
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT csv, HEADER true)"
        with dbapi.cursor() as cursor, cursor.copy(statement) as copy, path.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                copy.write(chunk)
        return
    import csv

    types = {c.name: c.type for c in table.columns}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        batch: list[dict[str, Any]] = []
        for row in reader:
            batch.append(
                {
                    name: _python_value(types[name], value)
                    for name, value in zip(columns, row, strict=True)
                }
            )
            if len(batch) >= 5000:
                session.execute(insert(table), batch)
                batch = []
        if batch:
            session.execute(insert(table), batch)


def _python_value(column_type: Any, value: str) -> Any:
    import datetime as dt
    import json

    from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, Integer, SmallInteger, Uuid

    if value == "":
        return None
    if isinstance(column_type, Uuid):
        return uuid.UUID(value)
    if isinstance(column_type, Integer | BigInteger | SmallInteger):
        return int(value)
    if isinstance(column_type, Float):
        return float(value)
    if isinstance(column_type, Boolean):
        return value.lower() in ("true", "t", "1")
    if isinstance(column_type, Date):
        return dt.date.fromisoformat(value)
    if isinstance(column_type, JSON):
        return json.loads(value)
    if isinstance(column_type, UtcDateTime):
        return dt.datetime.fromisoformat(value)
    return value
