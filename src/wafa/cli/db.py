"""``wafa init`` and ``wafa db upgrade|revision|check``: the CLI owns migrations."""

from __future__ import annotations

import typer

from wafa.cli.common import console, handle_errors, load_settings

db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)


def init_database() -> None:
    """Create or upgrade the database; make sure a secret key exists, outside the database."""
    from wafa.auth import service as auth
    from wafa.core import migrate
    from wafa.core.db import session_scope

    settings = load_settings()
    migrate.upgrade(settings.database_url, settings=settings)
    with session_scope(settings) as session:
        auth.ensure_secret_key(session, settings)


@db_app.command("upgrade")
@handle_errors
def upgrade(revision: str = typer.Argument("heads", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (all heads by default)."""
    from wafa.core import migrate

    settings = load_settings()
    migrate.upgrade(settings.database_url, revision, settings=settings)
    console.print(f"database at {revision}: {settings.database_url}")


@db_app.command("revision")
@handle_errors
def revision(message: str = typer.Option(..., "-m", "--message")) -> None:
    """Autogenerate a migration from the models (then read and edit it)."""
    from wafa.core import migrate

    migrate.revision(load_settings().database_url, message)


@db_app.command("check")
@handle_errors
def check() -> None:
    """Fail when the models and the migrations disagree."""
    from wafa.core import migrate

    migrate.check(load_settings().database_url)
    console.print("models and migrations agree")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")

    @app.command("init")
    @handle_errors
    def init() -> None:
        """Create or upgrade the database and generate the secret key if none is set."""
        init_database()
        console.print(f"database ready: {load_settings().database_url}")
