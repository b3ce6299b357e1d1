"""The test harness: one suite, two databases.

``pytest --db=sqlite`` (default) or ``--db=postgresql`` (or ``WAFA_TEST_DB``). The
database is built once per run by the real migrations; each test runs inside an
outer transaction that is rolled back, and the app under test shares that
connection. Tests that need real commits (the CLI, concurrency) use ``committed_db``,
which empties every table afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from wafa.app.factory import create_app
from wafa.app.models import metadata
from wafa.auth import service as auth
from wafa.core import migrate
from wafa.core.db import dispose_engines, get_engine, make_engine
from wafa.core.settings import Environment, Settings
from wafa.core.time import set_clock

PG_ADMIN_URL = os.environ.get(
    "WAFA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
#: The key that seals stored signing secrets in tests (a Fernet key; never a file in the tree).
TEST_DATA_KEY = "dGVzdC1kYXRhLWtleS0wMTIzNDU2Nzg5YWJjZGVmZ2g="


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgresql"),
        default=os.environ.get("WAFA_TEST_DB", "sqlite"),
        help="database backend for the suite (default sqlite; env WAFA_TEST_DB)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--db") == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: run with --db=postgresql")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def backend(pytestconfig: pytest.Config) -> str:
    return str(pytestconfig.getoption("--db"))


@pytest.fixture(scope="session")
def db_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("db") / "wafa-test.db"
        url = f"sqlite:///{path}"
        migrate.upgrade(url)
        yield url
        dispose_engines()
        return
    name = f"wafa_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_settings(url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "environment": Environment.test,
        "secret_key": TEST_SECRET,
        "data_keys": TEST_DATA_KEY,
        "business_name": "Test Café",
        "currency": "USD",
        "timezone": "UTC",
        "phone_region": "US",
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture(scope="session")
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Engine:
    return get_engine(settings)


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            yield conn
        finally:
            if outer.is_active:
                outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    application = create_app(settings)
    application.state.write_sessions = session_factory
    application.state.read_sessions = session_factory
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as c:
        yield c


@pytest.fixture
def api_key(session: Session) -> str:
    _, token = auth.create_api_key(session, name="test", scopes=["read", "write", "admin"])
    session.flush()
    return token


@pytest.fixture
def api(client: TestClient, api_key: str) -> TestClient:
    """A client that sends a full-scope API key."""
    client.headers["Authorization"] = f"Bearer {api_key}"
    return client


@pytest.fixture
def committed_db(settings: Settings) -> Iterator[Settings]:
    """The real database with real commits; every table is emptied afterwards."""
    yield settings
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                # The catalogue's version row is made by its migration, as a fresh store has it.
                if table.name in ("alembic_version", "loyalty_catalogue_version"):
                    continue
                conn.execute(table.delete())
    finally:
        engine.dispose()
    dispose_engines()


class FrozenClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    frozen = FrozenClock(datetime(2026, 3, 15, 12, 0, tzinfo=UTC))
    set_clock(frozen)
    try:
        yield frozen
    finally:
        set_clock(None)


@pytest.fixture
def data_dir() -> Path:
    return Path(__file__).resolve().parent / "data"
