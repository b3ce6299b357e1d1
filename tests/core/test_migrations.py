from __future__ import annotations

from wafa.core import migrate


class TestMigrations:
    def test_models_and_migrations_agree(self, db_url: str) -> None:
        # The session database was built from empty by the migrations; autogenerate
        # must find nothing to add (alembic check).
        migrate.check(db_url)

    def test_one_head(self, db_url: str) -> None:
        # Two branches landed on one parent upgrade fine ("heads") but leave the history
        # forked: the next revision and every downgrade would have to pick a side.
        from alembic.script import ScriptDirectory

        heads = ScriptDirectory.from_config(migrate.alembic_config(db_url)).get_heads()
        assert len(heads) == 1, f"migration heads: {heads}; re-point the newest down_revision"
