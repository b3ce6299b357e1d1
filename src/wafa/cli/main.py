"""The root ``wafa`` command; each file in ``wafa.cli`` adds its own commands.

Every sub-command module is imported here by name. They import what a command needs
when the command runs (the database, the app, NumPy), so ``wafa --help`` starts fast.
"""

from __future__ import annotations

import typer

from wafa import __version__
from wafa.cli import (
    analytics,
    customers,
    db,
    demo,
    doctor,
    events,
    flows,
    imports,
    integrations,
    loyalty,
    messaging,
    segments,
    serve,
    users,
    worker,
)
from wafa.cli.common import exit_when_done

app = typer.Typer(
    name="wafa",
    help="Wafa: customers, loyalty and retention analytics for shops.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
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
    """Wafa: customers, loyalty and retention analytics for shops."""


for _module in (
    db,
    serve,
    users,
    customers,
    doctor,
    imports,
    integrations,
    demo,
    worker,
    loyalty,
    analytics,
    messaging,
    segments,
    flows,
    events,
):
    _module.register(app)


def main() -> None:
    """Console-script entry point.

    A command that says it is done with nothing to tear down
    (:func:`wafa.cli.common.done_nothing_to_tear_down`) ends the process as soon as it
    succeeds, once its output is flushed.
    """
    try:
        app()
    except SystemExit as exc:
        exit_when_done(exc.code)
        raise
