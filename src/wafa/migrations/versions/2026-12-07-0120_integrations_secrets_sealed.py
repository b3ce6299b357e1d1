"""integrations: signing secrets sealed at rest (connections' and endpoints' secrets)

Every plain secret left by an older Wafa is sealed with the newest key of the key ring
(``core.sealing``: WAFA_DATA_KEYS, else the key file, made on first use). The settings
are those ``wafa db upgrade`` runs with (``migrate.upgrade(..., settings=)``), else the
environment's. The downgrade opens them again (the older code reads plain text).

Revision ID: 5e1a7c0d2b93
Revises: a4d5e6f7b8c9
Create Date: 2026-12-07 01:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from wafa.core.settings import Settings, get_settings

revision: str = "5e1a7c0d2b93"
down_revision: str | Sequence[str] | None = "a4d5e6f7b8c9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("integration_connections", "secret"),
    ("integration_connections", "previous_secret"),
    ("webhook_endpoints", "secret"),
)


def _settings() -> Settings:
    given = op.get_context().config.attributes.get("settings") if op.get_context().config else None
    return given if isinstance(given, Settings) else get_settings()


def _rows(table: sa.TableClause, column: str) -> list[tuple[object, str]]:
    found = op.get_bind().execute(
        sa.select(table.c.id, table.c[column]).where(table.c[column].is_not(None))
    )
    return [(row_id, value) for row_id, value in found]


def _change(sealing: bool) -> None:
    from wafa.core.sealing import is_sealed, seal, unseal

    settings: Settings | None = None
    for name, column in _COLUMNS:
        table = sa.table(name, sa.column("id", sa.Uuid()), sa.column(column, sa.Text()))
        for row_id, value in _rows(table, column):
            if is_sealed(value) == sealing:
                continue
            settings = settings or _settings()  # the keys are read only when a row needs them
            new = seal(settings, value) if sealing else unseal(settings, value)
            op.get_bind().execute(
                sa.update(table).where(table.c.id == row_id).values({column: new})
            )


def upgrade() -> None:
    _change(sealing=True)


def downgrade() -> None:
    _change(sealing=False)
