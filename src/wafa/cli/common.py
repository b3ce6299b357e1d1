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

#: Set by a command whose work is done and whose outputs are written and closed, when
#: nothing else it leaves behind needs tearing down (see :func:`exit_when_done`).
_exit_at_once = False

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


def done_nothing_to_tear_down() -> None:
    """Say that the running command is done and left nothing that needs tearing down.

    Its files must be written and closed, its connections closed, and nothing it
    started may still run. The console entry point then ends the process at once
    (:func:`exit_when_done`) instead of letting the interpreter free every object it
    holds one by one (``wafa analyze`` of a million customers: about 0.3 s spent freeing
    gigabytes the operating system takes back in a few milliseconds). Only the real
    entry point acts on it: a command invoked from a test (``CliRunner``) returns as
    usual.
    """
    global _exit_at_once
    _exit_at_once = True


def exit_when_done(code: object) -> None:
    """End the process now if the finished command allowed it and it succeeded.

    Called by the console entry point with the exit code of the command; returns when
    the process must end normally. Standard output and error are flushed and logging is
    shut down first: nothing written is lost, only the interpreter's own teardown is
    skipped.
    """
    if not _exit_at_once or code not in (None, 0):
        return
    import logging
    import os

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken: the normal exit would fail too
            return
    os._exit(0)


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
