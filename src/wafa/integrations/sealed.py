"""The signing secrets this domain keeps, sealed at rest (``core.sealing``), and resealing.

Three columns hold secrets Wafa must read back to sign or check: a connection's
``secret`` and ``previous_secret`` (the shop's HMAC secret) and an endpoint's
``secret`` (the Standard Webhooks key). Each is stored only as a sealed value; an older
Wafa stored them in plain text, which the migration ``integrations_secrets_sealed``
seals. ``reseal`` seals every value again with the newest key (after a rotation) and
seals any plain value it meets; ``key_usage`` counts the values under each key.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Column, Table, select, update
from sqlalchemy.orm import Session

from wafa.core.sealing import is_sealed, key_id_of, key_ring, seal, unseal
from wafa.core.settings import Settings
from wafa.integrations.models import Connection, Endpoint

__all__ = ["SEALED", "Resealed", "key_usage", "reseal"]

_CONNECTIONS: Table = Connection.__table__  # type: ignore[assignment]
_ENDPOINTS: Table = Endpoint.__table__  # type: ignore[assignment]
#: The columns that hold sealed secrets: (table, column).
SEALED: tuple[tuple[Table, str], ...] = (
    (_CONNECTIONS, "secret"),
    (_CONNECTIONS, "previous_secret"),
    (_ENDPOINTS, "secret"),
)


@dataclass(frozen=True, slots=True)
class Resealed:
    """What ``reseal`` did: values sealed again, and plain values it found and sealed."""

    resealed: int
    were_plain: int


def _values(session: Session) -> list[tuple[Table, str, object, str]]:
    found = []
    for table, name in SEALED:
        column: Column[str] = table.c[name]
        for row_id, value in session.execute(select(table.c.id, column).where(column.is_not(None))):
            found.append((table, name, row_id, value))
    return found


def key_usage(session: Session) -> Counter[str]:
    """How many stored secrets each key id seals (``plain`` for any not sealed)."""
    return Counter(key_id_of(value) or "plain" for _, _, _, value in _values(session))


def reseal(session: Session, settings: Settings) -> Resealed:
    """Seal every stored secret with the newest key (plain ones included); in one transaction."""
    newest = key_ring(settings).ids[0]
    resealed = were_plain = 0
    for table, name, row_id, value in _values(session):
        if is_sealed(value):
            if key_id_of(value) == newest:
                continue
            plain = unseal(settings, value)
        else:
            plain, were_plain = value, were_plain + 1
        session.execute(
            update(table).where(table.c.id == row_id).values({name: seal(settings, plain)})
        )
        resealed += 1
    return Resealed(resealed, were_plain)
