"""``wafa customer export|erase``: GDPR requests from the command line."""

from __future__ import annotations

import uuid

import typer

from wafa.cli.common import console, echo_json, fail, handle_errors, interactive, load_settings

customer_app = typer.Typer(help="One customer's data.", no_args_is_help=True)


def _id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise fail(f"{raw!r} is not a customer id") from None


@customer_app.command("export")
@handle_errors
def export(customer_id: str = typer.Argument(..., help="Customer id.")) -> None:
    """Print everything held on one person as JSON."""
    from wafa.app.domains import people_hooks
    from wafa.core.db import session_scope
    from wafa.people import service as people

    with session_scope(load_settings(), write=False) as session:
        echo_json(people.export_customer(session, _id(customer_id), hooks=people_hooks()))


@customer_app.command("erase")
@handle_errors
def erase(
    customer_id: str = typer.Argument(..., help="Customer id."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Remove a person's personal data; order totals stay, anonymously, for the books."""
    cid = _id(customer_id)
    if not yes and interactive():
        typer.confirm(
            f"Erase all personal data of customer {cid}? This cannot be undone", abort=True
        )
    from wafa.app.domains import people_hooks
    from wafa.core.db import session_scope
    from wafa.people import service as people

    settings = load_settings()
    with session_scope(settings) as session:
        people.erase_customer(
            session, settings=settings, customer_id=cid, erased_by="cli", hooks=people_hooks()
        )
    console.print(f"erased customer {cid}")


def register(app: typer.Typer) -> None:
    app.add_typer(customer_app, name="customer")
