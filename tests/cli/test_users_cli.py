"""``wafa user list|disable|enable|set-role|set-password``."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tests.cli.conftest import Invoke
from wafa.auth import service as auth
from wafa.core.db import session_scope
from wafa.core.settings import Settings


def test_the_user_commands(wafa: Invoke, committed_db: Settings) -> None:
    assert (
        wafa("user", "create", "--email", "o@example.com", "--password", "owner-password").exit_code
        == 0
    )
    made = wafa("user", "create", "--email", "c@example.com", "--role", "cashier")
    assert made.exit_code == 0 and "password: " in made.output
    listed = wafa("user", "list")
    assert "o@example.com  owner  active" in listed.output
    assert "c@example.com  cashier  active  last login: never" in listed.output

    assert wafa("user", "set-role", "c@example.com", "manager").exit_code == 0
    assert wafa("user", "disable", "c@example.com").exit_code == 0
    assert "c@example.com  manager  disabled" in wafa("user", "list").output
    assert wafa("user", "enable", "c@example.com").exit_code == 0

    changed = wafa("user", "set-password", "c@example.com", "--password", "a-new-password")
    assert changed.exit_code == 0
    with session_scope(committed_db) as session:
        assert isinstance(session, Session)
        auth.authenticate(session, email="c@example.com", password="a-new-password")

    # The last owner stays; an unknown email is a clear error.
    last = wafa("user", "disable", "o@example.com")
    assert last.exit_code != 0 and "last active owner" in last.output
    unknown = wafa("user", "disable", "nobody@example.com")
    assert unknown.exit_code != 0 and "no staff user" in unknown.output
