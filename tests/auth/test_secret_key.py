"""The secret key lives outside the database (issue 9 item 4): a 0600 file beside it (or
WAFA_SECRET_KEY); a key an older Wafa stored in the database is moved out on start-up;
``wafa secret rotate`` makes a new one and ends every session."""

from __future__ import annotations

import json
import shutil
import stat
from base64 import b64encode
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import make_settings
from wafa.app.factory import SESSION_COOKIE, create_app
from wafa.auth import service as auth
from wafa.auth.models import Role, StaffUser, SystemSetting
from wafa.cli.main import app as cli
from wafa.core import migrate
from wafa.core.db import dispose_engines, session_scope
from wafa.core.settings import Settings, get_settings
from wafa.core.time import utcnow

LEGACY_KEY = "legacy-key-stored-in-the-database-0123456789abcdef"


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Settings]:
    """A fresh SQLite shop whose database holds a secret key, as older Wafa stored it."""
    url = f"sqlite:///{tmp_path / 'wafa.db'}"
    migrate.upgrade(url)
    settings = make_settings(url, secret_key=None)
    with session_scope(settings) as s:
        s.add(SystemSetting(key=auth.SECRET_KEY, value=LEGACY_KEY))
        auth.create_user(s, email="o@example.com", password="owner-password", role=Role.owner)
    yield settings
    dispose_engines()


def forged(key: str, user: StaffUser) -> str:
    """A session cookie for ``user`` signed with ``key`` (what a thief holding it would do)."""
    data = {"user_id": str(user.id), "sv": user.session_version, "iat": int(utcnow().timestamp())}
    return TimestampSigner(key).sign(b64encode(json.dumps(data).encode())).decode()


def opens(settings: Settings, cookie: str) -> bool:
    with TestClient(create_app(settings)) as client:
        answer = client.get(
            "/customers", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, follow_redirects=False
        )
    return answer.status_code == 200


def owner(settings: Settings) -> StaffUser:
    with session_scope(settings, write=False) as s:
        user = s.scalar(select(StaffUser))
        assert user is not None
        s.expunge(user)
        found: StaffUser = user
        return found


def test_the_key_moves_out_of_the_database_into_a_private_file(shop: Settings) -> None:
    database = Path(shop.secret_key_path).with_suffix("")
    assert shop.secret_key_path == database.with_name("wafa.db.secret")
    before = shop.secret_key_path.parent / "before.db"
    shutil.copy(database, before)
    create_app(shop)  # start-up moves it
    assert shop.secret_key_path.read_text().strip() == LEGACY_KEY
    assert stat.S_IMODE(shop.secret_key_path.stat().st_mode) == 0o600
    with session_scope(shop, write=False) as s:
        assert auth.stored_secret_key(s) is None
    dispose_engines()
    # A copy of the database taken now holds no key at all (the freed page was zeroed).
    assert LEGACY_KEY.encode() not in database.read_bytes()
    assert LEGACY_KEY.encode() in before.read_bytes()


def test_a_cookie_forged_from_a_database_copy_stops_working_after_rotation(
    shop: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = owner(shop)
    cookie = forged(LEGACY_KEY, user)  # signed with the key read from a stolen copy
    assert opens(shop, cookie)  # still the same key after the move: rotate after upgrading
    monkeypatch.setenv("WAFA_DATABASE_URL", shop.database_url)
    monkeypatch.delenv("WAFA_SECRET_KEY", raising=False)
    monkeypatch.setenv("WAFA_ENVIRONMENT", "test")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["secret", "rotate"], catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "sessions of 1 staff users ended" in result.output
    dispose_engines()
    new_key = shop.secret_key_path.read_text().strip()
    assert new_key != LEGACY_KEY
    assert stat.S_IMODE(shop.secret_key_path.stat().st_mode) == 0o600
    assert not opens(shop, cookie)
    # Even re-forged with the user's new session version, the old key is useless.
    assert not opens(shop, forged(LEGACY_KEY, owner(shop)))
    assert opens(shop, forged(new_key, owner(shop)))  # the file's key is the real one


def test_rotation_is_refused_when_the_key_comes_from_the_environment(shop: Settings) -> None:
    pinned = make_settings(shop.database_url, secret_key="x" * 40)
    with session_scope(pinned) as s, pytest.raises(Exception, match="WAFA_SECRET_KEY"):
        auth.rotate_secret_key(pinned, s)


def test_a_new_shop_makes_its_key_in_the_file(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'new.db'}", secret_key=None)
    key = auth.secret_key(settings)
    assert settings.secret_key_path.read_text().strip() == key
    assert stat.S_IMODE(settings.secret_key_path.stat().st_mode) == 0o600
    assert auth.secret_key(settings) == key
