"""The SQLite database and its WAL and shared-memory files are private to their owner."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from wafa.core.db import make_engine


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the usual default: new files readable by everyone
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestSqliteFiles:
    @pytest.mark.usefixtures("open_umask")
    def test_a_new_database_and_its_wal_files_are_0600(self, tmp_path: Path) -> None:
        db = tmp_path / "shop" / "wafa.db"
        engine = make_engine(f"sqlite:///{db}")
        try:
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE t (x INTEGER)"))
                conn.execute(text("INSERT INTO t VALUES (1)"))
            with engine.connect() as conn:  # keeps the WAL and -shm files open
                conn.execute(text("SELECT x FROM t")).all()
                files = [db, db.with_name("wafa.db-wal"), db.with_name("wafa.db-shm")]
                assert all(f.exists() for f in files)
                assert {f.name: oct(_mode(f)) for f in files} == {f.name: "0o600" for f in files}
        finally:
            engine.dispose()

    def test_an_existing_file_keeps_its_mode(self, tmp_path: Path) -> None:
        db = tmp_path / "wafa.db"
        db.touch(mode=0o640)
        db.chmod(0o640)
        make_engine(f"sqlite:///{db}").dispose()
        assert _mode(db) == 0o640
