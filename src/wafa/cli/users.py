"""``wafa user create|list|disable|enable|set-role|set-password``, ``wafa apikey
create|list|revoke`` and ``wafa secret rotate``."""

from __future__ import annotations

import os
import secrets
import uuid

import typer

from wafa.auth.roles import Role
from wafa.cli.common import console, fail, handle_errors, interactive, load_settings

user_app = typer.Typer(help="Staff users.", no_args_is_help=True)
key_app = typer.Typer(help="API keys.", no_args_is_help=True)


@user_app.command("create")
@handle_errors
def create_user(
    email: str = typer.Option(..., help="Login email."),
    role: Role = typer.Option(Role.owner, help="owner, manager or cashier."),
    name: str = typer.Option(None, help="Display name."),
    password: str = typer.Option(
        None,
        help="Password (or WAFA_PASSWORD). When omitted: asked for on a terminal, generated otherwise.",
    ),
) -> None:
    """Create a staff user who can log in to the dashboard."""
    from wafa.auth import service as auth
    from wafa.core.db import session_scope

    pwd, generated = _password(password)
    with session_scope(load_settings()) as session:
        user = auth.create_user(session, email=email, password=pwd, role=role, name=name)
    console.print(f"created {user.role} {user.email}")
    if generated:
        console.print(f"password: {pwd}")


@user_app.command("list")
@handle_errors
def list_users() -> None:
    """List staff logins: email, role, status, last login."""
    from wafa.auth import service as auth
    from wafa.core.db import session_scope

    with session_scope(load_settings(), write=False) as session:
        for user in auth.list_users(session):
            state = "active" if user.active else "disabled"
            last = user.last_login_at.isoformat() if user.last_login_at else "never"
            console.print(f"{user.email}  {user.role}  {state}  last login: {last}")


def _set_active(email: str, active: bool) -> None:
    from wafa.auth import service as auth
    from wafa.core.db import session_scope

    with session_scope(load_settings()) as session:
        user = auth.find_user(session, email)
        auth.set_active(session, user_id=user.id, active=active)
    console.print(f"{'enabled' if active else 'disabled'} {email}")


@user_app.command("disable")
@handle_errors
def disable_user(email: str = typer.Argument(..., help="Login email.")) -> None:
    """Disable a login: every session ends at once and the API keys the user made stop."""
    _set_active(email, False)


@user_app.command("enable")
@handle_errors
def enable_user(email: str = typer.Argument(..., help="Login email.")) -> None:
    """Let a disabled login log in again."""
    _set_active(email, True)


@user_app.command("set-role")
@handle_errors
def set_role(
    email: str = typer.Argument(..., help="Login email."),
    role: Role = typer.Argument(..., help="owner, manager or cashier."),
) -> None:
    """Change a login's role (their sessions end; the last owner stays an owner)."""
    from wafa.auth import service as auth
    from wafa.core.db import session_scope

    with session_scope(load_settings()) as session:
        user = auth.find_user(session, email)
        auth.set_role(session, user_id=user.id, role=role)
    console.print(f"{email} is now {role.value}")


@user_app.command("set-password")
@handle_errors
def set_password(
    email: str = typer.Argument(..., help="Login email."),
    password: str = typer.Option(
        None,
        help="New password (or WAFA_PASSWORD). When omitted: asked for on a terminal, generated otherwise.",
    ),
) -> None:
    """Set a new password; every session of that login ends."""
    from wafa.auth import service as auth
    from wafa.core.db import session_scope

    pwd, generated = _password(password)
    with session_scope(load_settings()) as session:
        user = auth.find_user(session, email)
        auth.set_password(session, user_id=user.id, password=pwd)
    console.print(f"password changed for {email}; their sessions ended")
    if generated:
        console.print(f"password: {pwd}")


def _password(given: str | None) -> tuple[str, bool]:
    pwd = given or os.environ.get("WAFA_PASSWORD")
    if pwd:
        return pwd, False
    if interactive():
        return typer.prompt("Password", hide_input=True, confirmation_prompt=True), False
    return secrets.token_urlsafe(12), True


@key_app.command("create")
@handle_errors
def create_key(
    name: str = typer.Option(..., help="What the key is for."),
    scopes: str = typer.Option("read", help="Comma-separated: read, write, admin."),
) -> None:
    """Create an API key. The key is printed once, alone on the last line."""
    from wafa.auth import service as auth
    from wafa.core.db import session_scope

    with session_scope(load_settings()) as session:
        key, token = auth.create_api_key(session, name=name, scopes=scopes.split(","))
    console.print(
        f"API key {key.prefix}… ({', '.join(key.scopes)}) — store it now, it is not shown again:"
    )
    print(token)


@key_app.command("list")
@handle_errors
def list_keys() -> None:
    """List API keys (never their secret)."""
    from wafa.auth import service as auth
    from wafa.core.db import session_scope

    with session_scope(load_settings(), write=False) as session:
        for key in auth.list_api_keys(session):
            state = "revoked" if key.revoked_at else "active"
            console.print(f"{key.id}  {key.prefix}…  {key.name}  {','.join(key.scopes)}  {state}")


@key_app.command("revoke")
@handle_errors
def revoke_key(key_id: str = typer.Argument(..., help="Key id (from `wafa apikey list`).")) -> None:
    """Revoke an API key."""
    from wafa.auth import service as auth
    from wafa.core.db import session_scope

    try:
        kid = uuid.UUID(key_id)
    except ValueError:
        raise fail(f"{key_id!r} is not a key id") from None
    with session_scope(load_settings()) as session:
        auth.revoke_api_key(session, key_id=kid)
    console.print(f"revoked {kid}")


secret_app = typer.Typer(help="The installation's secret key.", no_args_is_help=True)


@secret_app.command("rotate")
@handle_errors
def rotate_secret() -> None:
    """Replace the secret key (kept in a 0600 file beside the database, never in it).

    Every staff session ends; restart `wafa serve` and the worker so they read the new key.
    Links already sent to customers (unsubscribe, portal, surveys) stop working.
    """
    from wafa.auth import service as auth
    from wafa.core.db import session_scope

    settings = load_settings()
    with session_scope(settings) as session:
        users = auth.rotate_secret_key(settings, session)
    console.print(
        f"new secret key in {settings.secret_key_path}; sessions of {users} staff users ended. "
        "Restart `wafa serve` and the worker."
    )


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(key_app, name="apikey")
    app.add_typer(secret_app, name="secret")
