"""Engines, sessions and the column types every model uses.

SQLite runs in WAL mode with foreign keys on and a busy timeout; write sessions open
with ``BEGIN IMMEDIATE`` so that two writers queue instead of failing halfway
(SQLAlchemy's pysqlite recipe). PostgreSQL uses psycopg 3.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    CursorResult,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Result,
    SmallInteger,
    any_,
    bindparam,
    create_engine,
    event,
    literal_column,
)
from sqlalchemy import cast as cast_
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Mapper, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from wafa.core.errors import Invalid
from wafa.core.settings import Settings, get_settings
from wafa.core.time import ensure_utc

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base: one metadata, named constraints (batch mode can drop them)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected datetime, got {type(value).__name__}")
        aware = ensure_utc(value)
        if dialect.name == "sqlite":
            # SQLite keeps text; store a fixed-width naive UTC form so it sorts.
            return aware.replace(tzinfo=None)
        return aware

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            from datetime import UTC

            return value.replace(tzinfo=UTC)
        return ensure_utc(value)


#: Threads that run sync routes at once (anyio's limiter; its default is 40).
API_THREADS = 32
#: PostgreSQL connections per engine (kept, and at most), and how long a request may wait
#: for one. A request holds at most one connection at a time and finishes its transaction
#: without needing another thread (``wafa.api.routing``), so a pool at least as large as
#: the threads that run requests (``API_THREADS``) plus the background worker cannot run
#: dry while every holder waits for something else. The kept size covers every request
#: thread: a connection above it is closed when given back, and under steady load each
#: such request paid for a new PostgreSQL backend (a fork, the handshake) and its end.
POOL_SIZE = API_THREADS + 4
POOL_OVERFLOW = 4
POOL_TIMEOUT = 5.0

_engines: dict[tuple[str, bool], Engine] = {}
_engines_lock = threading.Lock()


def _configure_sqlite(engine: Engine, *, busy_timeout_ms: int, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def private_sqlite_file(url: str) -> None:
    """Create the SQLite database file of ``url`` readable by its owner only (0600).

    SQLite would create it with the process's umask (usually 0644: readable by every
    local user), and gives its ``-wal`` and ``-shm`` files the database file's mode, so
    creating the file first, private, keeps all three private. An existing file is left
    as the operator set it.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def make_engine(url: str, *, write: bool = True, busy_timeout_ms: int = 10_000) -> Engine:
    """Create an engine for ``url``; SQLite gets its pragmas and begin mode, and its file is
    created private (``private_sqlite_file``)."""
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            poolclass=NullPool if ":memory:" not in url else None,
        )
        _configure_sqlite(engine, busy_timeout_ms=busy_timeout_ms, immediate=write)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        pool_timeout=POOL_TIMEOUT,
    )


def get_engine(settings: Settings | None = None, *, write: bool = True) -> Engine:
    """Return the cached engine for the settings' database (one per URL and mode)."""
    settings = settings or get_settings()
    url = settings.database_url
    # PostgreSQL needs no separate read engine.
    key = (url, write or not settings.is_sqlite)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = make_engine(url, write=key[1], busy_timeout_ms=settings.sqlite_busy_timeout_ms)
            _engines[key] = engine
        return engine


def dispose_engines() -> None:
    """Close every cached engine (tests, CLI exit)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def session_factory(
    settings: Settings | None = None, *, write: bool = True
) -> sessionmaker[Session]:
    """A sessionmaker bound to the settings' database."""
    return sessionmaker(bind=get_engine(settings, write=write), expire_on_commit=False)


@contextmanager
def session_scope(settings: Settings | None = None, *, write: bool = True) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    session = session_factory(settings, write=write)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_ignoring_conflicts(
    session: Session, model: Any, *, index_elements: list[str] | None
) -> Any:
    """``INSERT … ON CONFLICT (index_elements) DO NOTHING`` for the session's dialect
    (``None``: a conflict on any unique key)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model).on_conflict_do_nothing(index_elements=index_elements)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model).on_conflict_do_nothing(index_elements=index_elements)


_insert_new_statements: dict[tuple[str, Any, tuple[str, ...]], Any] = {}
_insert_new_lock = threading.Lock()


def insert_new(
    session: Session, model: Any, *, index_elements: list[str], values: dict[str, Any]
) -> bool:
    """Insert ``values`` unless a row with the same ``index_elements`` exists; ``True`` if inserted.

    ``INSERT … ON CONFLICT DO NOTHING`` reports no reliable row count through every
    driver (psycopg answers -1 for it), so the claim asks for ``RETURNING 1`` instead:
    a row back means this transaction inserted it. The statement is built once per
    (dialect, table, key) and then executed with parameters only.
    """
    key = (dialect_name(session), model, tuple(index_elements))
    with _insert_new_lock:
        stmt = _insert_new_statements.get(key)
    if stmt is None:
        table = getattr(model, "__table__", model)  # Core, not the ORM's bulk path
        stmt = insert_ignoring_conflicts(session, table, index_elements=index_elements).returning(
            literal_column("1")
        )
        with _insert_new_lock:
            _insert_new_statements[key] = stmt
    return session.execute(stmt, values).first() is not None


def database_key(session: Session) -> str | None:
    """Name the database ``session`` reads, for answers kept between requests; ``None``
    when the session is bound to one connection (a test's transaction), whose answers
    must not outlive it."""
    bind = session.get_bind()
    return bind.url.render_as_string(hide_password=False) if isinstance(bind, Engine) else None


def dialect_name(session: Session) -> str:
    """``sqlite`` or ``postgresql``."""
    return str(session.get_bind().dialect.name)


def among(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(array)``, one parameter.

    A group's hundred ids as an ``IN`` list are a hundred parameters: psycopg parses such a
    statement anew on every execution (it keeps no statement of more than 50), and its
    text changes with the list's length. The array form is one short statement, the same
    for any number of values."""
    found = list(values)
    if dialect_name(session) != "postgresql":
        return cast("ColumnElement[bool]", column.in_(found))
    array = cast_(bindparam(None, found, type_=ARRAY(column.type)), ARRAY(column.type))
    return cast("ColumnElement[bool]", column == any_(array))


def rowcount(result: Result[Any]) -> int:
    """Rows an ``UPDATE``/``DELETE`` touched (the guard check of a guarded update)."""
    return int(cast("CursorResult[Any]", result).rowcount)


_BUSY_SQLITE = ("database is locked", "database is busy", "database table is locked")
#: PostgreSQL's lock_not_available, deadlock_detected, serialization_failure, too_many_connections.
_BUSY_PG = {"55P03", "40P01", "40001", "53300"}


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is saturated (worth a retry), not that the request
    was wrong: a SQLite writer past its busy timeout, a pool with no connection in time, a
    PostgreSQL lock timeout, deadlock or serialization failure."""
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _BUSY_PG:
        return True
    message = str(exc.orig).lower()
    return any(text in message for text in _BUSY_SQLITE)


def is_bad_value(exc: BaseException) -> bool:
    """Whether the database refused a value itself (out of range for its column, a NUL in
    text, a date it cannot hold): bad input that validation let through, not a fault."""
    from sqlalchemy.exc import DataError, DBAPIError

    if isinstance(exc, DataError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    return str(getattr(exc.orig, "sqlstate", "") or "").startswith("22")


# PostgreSQL's INTEGER holds 32 bits and refuses a larger value with a bare "integer
# out of range" that names no column; SQLite stores 64 bits and would keep it. Every
# ORM write is checked here before it is sent, so both databases refuse the same values
# with a 422 that names the field (the column's name, as the API and forms call it).
# API schemas bound their own integers too; this is the rule under every path.
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
_int32_columns: dict[Mapper[Any], tuple[tuple[str, str], ...]] = {}


def _int32_attributes(mapper: Mapper[Any]) -> tuple[tuple[str, str], ...]:
    found = _int32_columns.get(mapper)
    if found is None:
        found = tuple(
            (prop.key, column.name)
            for prop in mapper.column_attrs
            for column in prop.columns
            if isinstance(getattr(column, "type", None), Integer)
            and not isinstance(column.type, (BigInteger, SmallInteger))
        )
        _int32_columns[mapper] = found
    return found


@event.listens_for(Session, "before_flush")
def _refuse_integers_out_of_range(session: Session, _context: object, _instances: object) -> None:
    for obj in (*session.new, *session.dirty):
        state = getattr(obj, "_sa_instance_state", None)
        if state is None:
            continue
        values = state.dict
        for key, name in _int32_attributes(state.mapper):
            value = values.get(key)
            if type(value) is int and not INT32_MIN <= value <= INT32_MAX:
                raise Invalid.field(
                    name, f"{value} is out of range (from {INT32_MIN:,} to {INT32_MAX:,})"
                )
