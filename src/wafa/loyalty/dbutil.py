"""A portable "insert unless it exists, and tell me whether I did".

``INSERT … ON CONFLICT DO NOTHING`` reports no reliable row count through every
driver (psycopg answers -1 for it), so the claim asks for ``RETURNING 1`` instead:
a row back means this transaction inserted it. The statement is built once per
(dialect, table, key) and then executed with parameters only.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import literal_column
from sqlalchemy.orm import Session

from wafa.core.db import dialect_name, insert_ignoring_conflicts

_statements: dict[tuple[str, Any, tuple[str, ...]], Any] = {}
_lock = threading.Lock()


def insert_new(
    session: Session, model: Any, *, index_elements: list[str], values: dict[str, Any]
) -> bool:
    """Insert ``values`` unless a row with the same ``index_elements`` exists; ``True`` if inserted."""
    key = (dialect_name(session), model, tuple(index_elements))
    with _lock:
        stmt = _statements.get(key)
    if stmt is None:
        table = getattr(model, "__table__", model)  # Core, not the ORM's bulk path
        stmt = insert_ignoring_conflicts(session, table, index_elements=index_elements).returning(
            literal_column("1")
        )
        with _lock:
            _statements[key] = stmt
    return session.execute(stmt, values).first() is not None
