"""Alembic environment: one metadata, batch mode on SQLite, lock_timeout on PostgreSQL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from wafa.app.models import metadata
from wafa.core.db import make_engine

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
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
