from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from typer.testing import CliRunner, Result

from wafa.cli.main import app
from wafa.core.db import dispose_engines
from wafa.core.settings import Settings, get_settings

Invoke = Callable[..., Result]


@pytest.fixture
def wafa(committed_db: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    """Run ``wafa ...`` in-process against the committed test database."""
    monkeypatch.setenv("WAFA_DATABASE_URL", committed_db.database_url)
    monkeypatch.setenv("WAFA_ENVIRONMENT", "test")
    monkeypatch.setenv("WAFA_SECRET_KEY", committed_db.secret_key or "")
    monkeypatch.setenv("WAFA_DATA_KEYS", committed_db.data_keys or "")
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    yield invoke
    get_settings.cache_clear()
    dispose_engines()
