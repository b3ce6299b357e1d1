"""Counting the SQL statements a piece of work sends (for tests that bound them).

``with counting() as seen: ...`` then ``seen.statements`` lists the SQL sent, by any
engine, while the block ran (savepoints and transaction control included).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

_CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "BEGIN", "COMMIT")


@dataclass
class Seen:
    statements: list[str] = field(default_factory=list)

    @property
    def queries(self) -> list[str]:
        """The statements that read or write data (no transaction control)."""
        return [s for s in self.statements if not s.lstrip().upper().startswith(_CONTROL)]


@contextmanager
def counting() -> Iterator[Seen]:
    seen = Seen()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)
