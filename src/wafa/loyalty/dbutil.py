"""A portable "insert unless it exists, and tell me whether I did".

``INSERT … ON CONFLICT DO NOTHING`` reports no reliable row count through every
driver (psycopg answers -1 for it), so the claim asks for ``RETURNING 1`` instead:
a row back means this transaction inserted it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import literal_column
from sqlalchemy.orm import Session

from wafa.core.db import insert_ignoring_conflicts


def insert_new(
    session: Session, model: Any, *, index_elements: list[str], values: dict[str, Any]
) -> bool:
    """Insert ``values`` unless a row with the same ``index_elements`` exists; ``True`` if inserted."""
    stmt = (
        insert_ignoring_conflicts(session, model, index_elements=index_elements)
        .values(**values)
        .returning(literal_column("1"))
    )
    return session.execute(stmt).first() is not None
