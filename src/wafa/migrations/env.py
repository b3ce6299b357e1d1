"""Alembic environment: one metadata, batch mode on SQLite, lock_timeout on PostgreSQL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from wafa.app.models import metadata
from wafa.core.db import make_engine

config = context.config


def _include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave out of ``alembic check`` the indexes a table names as made on one database only
    by their migration (``info["dialect_indexes"]``: PostgreSQL's trigram search index)."""
    if type_ == "index" and reflected and compare_to is None:
        table = metadata.tables.get(getattr(getattr(obj, "table", None), "name", ""))
        if table is not None and name in table.info.get("dialect_indexes", ()):
            return False
    return True


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=_include_object,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Never queue behind a long transaction while holding locks others wait on.
            connection.exec_driver_sql("SET lock_timeout = '10s'")
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against the URL given in the config (``sqlalchemy.url``) or a shared connection."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "", write=False)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()
