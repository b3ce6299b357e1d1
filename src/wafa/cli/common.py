"""What every command shares: settings, the console, error exits."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from wafa.core.errors import Invalid, WafaError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from wafa.core.settings import Settings

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def load_settings() -> Settings:
    """Read settings, turning a bad environment into a readable exit."""
    from pydantic import ValidationError

    from wafa.core.settings import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            err_console.print(f"[red]error:[/] WAFA_{field.upper()}: {error['msg']}")
        raise typer.Exit(2) from None


@contextmanager
def session_scope(settings: Settings, *, write: bool = True) -> Iterator[Session]:
    """``wafa.core.db.session_scope``, imported when a command opens the database.

    Command modules import this one at the top instead of ``wafa.core.db``, so that
    ``wafa --help`` loads no SQLAlchemy (tests/cli/test_startup.py).
    """
    from wafa.core.db import session_scope as scope

    with scope(settings, write=write) as session:
        yield session


def load_shop_settings() -> Settings:
    """``load_settings()`` with the owner's stored settings (the dashboard's Settings page)
    under the environment: for commands that work on the shop's database."""
    from wafa.app.worker import stored_settings

    return stored_settings(load_settings())


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``message`` to stderr and return the exit to raise."""
    err_console.print(f"[red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Map Wafa errors to a message on stderr and exit status 1 (never a traceback)."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except Invalid as exc:
            err_console.print(f"[red]error:[/] {exc.detail}", highlight=False)
            for loc, msg in exc.errors:
                err_console.print(f"  {'.'.join(str(p) for p in loc)}: {msg}", highlight=False)
            raise typer.Exit(1) from None
        except WafaError as exc:
            raise fail(exc.detail) from None
        except Exception as exc:
            # SQLAlchemy is imported by the commands that use the database, not here.
            db_errors = sys.modules.get("sqlalchemy.exc")
            if db_errors is not None and isinstance(exc, db_errors.OperationalError):
                raise fail(f"database error: {getattr(exc, 'orig', exc)}") from None
            raise

    return wrapper


def interactive() -> bool:
    """Whether we may prompt: standard input is a terminal."""
    return sys.stdin.isatty()


@contextmanager
def quiet_sqlalchemy() -> Iterator[None]:
    """Placeholder context for commands that want no SQL echo (kept for symmetry)."""
    yield


def echo_json(data: Any) -> None:
    """Print JSON to standard output (machine-readable, no colour)."""
    import json

    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
