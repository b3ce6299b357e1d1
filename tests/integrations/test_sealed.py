"""Signing secrets are sealed at rest: written sealed, sealed by the migration when an older
Wafa left them plain, resealed by ``wafa integration keys rotate``; none stays plain."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from tests.conftest import PG_ADMIN_URL, make_settings
from tests.integrations.shops import body, shopify_headers, shopify_order
from wafa.core import migrate
from wafa.core.db import dispose_engines, session_scope
from wafa.core.sealing import is_sealed, key_id_of, key_ring, unseal
from wafa.core.settings import Settings
from wafa.integrations import connections, outbound
from wafa.integrations.models import Connection, Endpoint
from wafa.integrations.sealed import SEALED, key_usage

#: The migration before secrets were sealed, and the one that seals them.
BEFORE, SEALING = "a4d5e6f7b8c9", "5e1a7c0d2b93"


def _stored(session: Session) -> list[str]:
    """Every stored secret, as the database holds it."""
    found: list[str] = []
    for table, name in SEALED:
        found += [v for v in session.scalars(select(table.c[name])) if v is not None]
    return found


def test_secrets_are_written_sealed_and_still_check_signatures(
    session: Session, settings: Settings, client: object
) -> None:
    created = connections.add_connection(
        session, settings=settings, shop="shopify", name="souq", secret="shpss_plain_0001"
    )
    connections.rotate_secret(session, "souq", settings=settings, secret="shpss_plain_0002")
    endpoint = outbound.add_endpoint(
        session, settings=settings, url="https://crm.example.com/h", topics=["*"]
    )
    session.flush()
    stored = _stored(session)
    assert len(stored) == 3 and all(is_sealed(v) for v in stored)
    for plain in ("shpss_plain_0001", "shpss_plain_0002", endpoint.secret):
        assert not any(plain in v for v in stored)
    connection = session.get(Connection, created.connection.id)
    assert connection is not None
    raw = b'{"id": 1}'
    good = connections.signature("shpss_plain_0002", raw)
    old = connections.signature("shpss_plain_0001", raw)
    assert connections.verify(connection, raw, good, settings=settings)
    assert connections.verify(connection, raw, old, settings=settings)  # the grace
    assert not connections.verify(connection, raw, "x" + good, settings=settings)


# --------------------------------------------------------------------------- migration


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the suite's kind, for migrating step by step."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        dispose_engines()
        return
    name = f"wafa_seal_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_migration_seals_what_an_older_wafa_stored_plain(fresh_url: str) -> None:
    settings = make_settings(fresh_url)
    migrate.upgrade(fresh_url, BEFORE, settings=settings)
    plain = {
        "a": ("shpss_old_secret_a", "shpss_older_secret_a"),
        "b": ("wc-old-secret-b", None),
    }
    engine = create_engine(fresh_url)
    with engine.begin() as conn:
        for name, (secret, previous) in plain.items():
            conn.execute(
                text(
                    "INSERT INTO integration_connections (id, name, shop, token_hash, secret, "
                    "previous_secret, created_at) VALUES (:id, :name, 'shopify', :token, "
                    ":secret, :previous, CURRENT_TIMESTAMP)"
                ),
                {
                    "id": uuid.uuid4().hex if "sqlite" in fresh_url else uuid.uuid4(),
                    "name": name,
                    "token": name * 10,
                    "secret": secret,
                    "previous": previous,
                },
            )
        conn.execute(
            text(
                "INSERT INTO webhook_endpoints (id, url, topics, secret, created_at) VALUES "
                "(:id, 'https://crm.example.com/h', '[\"*\"]', 'whsec_b2xkLXNlY3JldA==', "
                "CURRENT_TIMESTAMP)"
            ),
            {"id": uuid.uuid4().hex if "sqlite" in fresh_url else uuid.uuid4()},
        )
    engine.dispose()

    migrate.upgrade(fresh_url, SEALING, settings=settings)
    with session_scope(settings) as s:
        stored = _stored(s)
        assert len(stored) == 4 and all(is_sealed(v) for v in stored)
        opened = {
            name: (unseal(settings, secret), previous and unseal(settings, previous))
            for name, secret, previous in s.execute(
                select(Connection.name, Connection.secret, Connection.previous_secret)
            )
        }
        assert opened == plain
        (endpoint_secret,) = s.scalars(select(Endpoint.secret)).all()
        assert unseal(settings, endpoint_secret) == "whsec_b2xkLXNlY3JldA=="
    dispose_engines()

    # Running it again seals nothing twice; going down opens them for the older code.
    migrate.downgrade(fresh_url, BEFORE, settings=settings)
    with session_scope(settings) as s:
        assert sorted(_stored(s)) == sorted(
            [
                "shpss_old_secret_a",
                "shpss_older_secret_a",
                "wc-old-secret-b",
                "whsec_b2xkLXNlY3JldA==",
            ]
        )
    dispose_engines()
    migrate.upgrade(fresh_url, settings=settings)
    with session_scope(settings) as s:
        assert all(is_sealed(v) for v in _stored(s))


# --------------------------------------------------------------------------- rotation


def test_rotate_reseals_every_secret_and_prunes_the_old_key(
    committed_db: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from tests.serving import running_app
    from wafa.cli.main import app as cli
    from wafa.core.settings import get_settings

    keys = tmp_path / "data.keys"
    settings = committed_db.model_copy(update={"data_keys": None, "data_keys_file": str(keys)})
    with session_scope(settings) as s:
        path = connections.add_connection(
            s, settings=settings, shop="shopify", name="souq", secret="shpss_rotate_0001"
        ).path
        outbound.add_endpoint(s, settings=settings, url="https://crm.example.com/h", topics=["*"])
        # And a plain secret an older Wafa (or a hand edit) left: reseal seals it too.
        s.execute(text("UPDATE integration_connections SET previous_secret = 'shpss_plain_left'"))
    first = key_ring(settings).ids[0]

    monkeypatch.setenv("WAFA_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("WAFA_ENVIRONMENT", "test")
    monkeypatch.setenv("WAFA_SECRET_KEY", settings.secret_key or "")
    monkeypatch.delenv("WAFA_DATA_KEYS", raising=False)
    monkeypatch.setenv("WAFA_DATA_KEYS_FILE", str(keys))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        before = runner.invoke(cli, ["integration", "keys", "status"])
        assert before.exit_code == 0, before.output
        assert f"{first}  2 secret(s)" in before.output
        assert "1 secret(s) in plain text" in before.output
        done = runner.invoke(cli, ["integration", "keys", "rotate", "--prune"])
        assert done.exit_code == 0, done.output
        assert "3 secret(s) sealed with the newest key (1 were in plain text)" in done.output
        assert f"dropped 1 key(s) no secret uses: {first}" in done.output
    finally:
        get_settings.cache_clear()
        dispose_engines()

    newest = key_ring(settings).ids
    assert len(newest) == 1 and newest[0] != first
    with session_scope(settings) as s:
        assert key_usage(s) == {newest[0]: 3}
        assert all(key_id_of(v) == newest[0] for v in _stored(s))
    # A served Wafa checks signatures with the resealed secret.
    raw = body(shopify_order())
    with running_app(settings) as base:
        import httpx2 as httpx

        answer = httpx.post(
            base + path,
            content=raw,
            headers=shopify_headers("shpss_rotate_0001", raw, "orders/create", "rot-1"),
            timeout=120,  # a loaded machine's first order
        )
    assert answer.status_code == 200, answer.text
