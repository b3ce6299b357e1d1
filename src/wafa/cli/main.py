"""The root ``wafa`` command; each file in ``wafa.cli`` adds its own commands."""

from __future__ import annotations

import typer

from wafa import __version__
from wafa.core.modules import import_optional

app = typer.Typer(
    name="wafa",
    help="Wafa: customers, loyalty, messages and retention analytics for shops.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Each module exposes ``register(app: typer.Typer) -> None``.
CLI_MODULES = (
    "wafa.cli.db",
    "wafa.cli.serve",
    "wafa.cli.users",
    "wafa.cli.customers",
    "wafa.cli.imports",
    "wafa.cli.demo",
    "wafa.cli.worker",
    "wafa.cli.loyalty",
    "wafa.cli.analytics",
    "wafa.cli.messaging",
    "wafa.cli.segments",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wafa {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Wafa: customers, loyalty, messages and retention analytics for shops."""


for _name in CLI_MODULES:
    _module = import_optional(_name)
    if _module is not None:
        _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
