from __future__ import annotations

from wafa.core import migrate


class TestMigrations:
    def test_models_and_migrations_agree(self, db_url: str) -> None:
        # The session database was built from empty by the migrations; autogenerate
        # must find nothing to add (alembic check).
        migrate.check(db_url)
