"""``wafa flows list|enable|disable``: the lifecycle flows and their switches."""

from __future__ import annotations

import typer

from wafa.cli.common import console, echo_json, handle_errors, load_settings, session_scope

flows_app = typer.Typer(
    help="Lifecycle flows (order confirmation, win-back, ...).", no_args_is_help=True
)


@flows_app.command("list")
@handle_errors
def list_flows(as_json: bool = typer.Option(False, "--json", help="Machine-readable.")) -> None:
    """Every flow, on or off, with how many customers are in it now."""
    from wafa.flows import presets, service

    settings = load_settings()
    with session_scope(settings) as session:
        presets.ensure_presets(session)
        rows = [
            (f.key, f.enabled, f.kind, service.flow_counts(session, f.id), f.name)
            for f in service.list_flows(session)
        ]
    if as_json:
        echo_json(
            [
                {"key": k, "enabled": on, "kind": kind, "entered": c.entered, "active": c.active}
                for k, on, kind, c, _ in rows
            ]
        )
        return
    for key, on, kind, counts, name in rows:
        state = "on " if on else "off"
        console.print(
            f"{state}  {key:<20} {kind:<13} entered {counts.entered:>7}  "
            f"in it {counts.active:>6}  {name}"
        )


def _switch(key: str, enabled: bool) -> None:
    from wafa.flows import presets, service

    settings = load_settings()
    with session_scope(settings) as session:
        presets.ensure_presets(session)
        flow = service.set_enabled(session, key=key, enabled=enabled, by="cli")
        console.print(f"{flow.key}: {'on' if flow.enabled else 'off'}")


@flows_app.command("enable")
@handle_errors
def enable(key: str = typer.Argument(..., help="The flow's key (see wafa flows list).")) -> None:
    """Switch a flow on."""
    _switch(key, True)


@flows_app.command("disable")
@handle_errors
def disable(key: str = typer.Argument(..., help="The flow's key.")) -> None:
    """Switch a flow off: nobody enters; those mid-way wait until it is on again."""
    _switch(key, False)


def register(app: typer.Typer) -> None:
    """Add ``wafa flows`` to the root command."""
    app.add_typer(flows_app, name="flows")
