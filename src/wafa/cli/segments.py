"""``wafa segment …``: list and count segments, export their customers, rebuild order figures."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import typer

from wafa.cli.common import console, echo_json, fail, handle_errors, load_settings

segment_app = typer.Typer(help="Customer segments (messaging).", no_args_is_help=True)


def _id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise fail(f"{raw!r} is not a segment id") from None


@segment_app.command("list")
@handle_errors
def list_segments(as_json: bool = typer.Option(False, "--json", help="Machine-readable.")) -> None:
    """Every live segment with its size when last counted."""
    from wafa.core.db import session_scope
    from wafa.messaging.segments import service

    settings = load_settings()
    with session_scope(settings, write=False) as session:
        items = service.segment_choices(session)
    if as_json:
        echo_json([{"id": str(s.id), "name": s.name, "count": s.last_count} for s in items])
        return
    for s in items:
        console.print(f"{s.id}  {s.last_count if s.last_count is not None else '-':>10}  {s.name}")


@segment_app.command("count")
@handle_errors
def count(segment_id: str = typer.Argument(..., help="The segment's id.")) -> None:
    """Count a segment now (and keep the figure on it)."""
    from wafa.core.db import session_scope
    from wafa.messaging.segments import service

    settings = load_settings()
    with session_scope(settings) as session:
        segment = service.recount_segment(session, settings=settings, segment_id=_id(segment_id))
        console.print(f"{segment.last_count}")


@segment_app.command("export")
@handle_errors
def export(
    segment_id: str = typer.Argument(..., help="The segment's id."),
    out: Path = typer.Option(None, "--out", help="CSV file to write (standard output by default)."),
) -> None:
    """The segment's customers as CSV (cells that would run as formulas are escaped)."""
    from wafa.core.db import session_scope
    from wafa.messaging.segments import service

    settings = load_settings()
    target = _id(segment_id)
    with session_scope(settings, write=False) as session:
        rows = service.export_rows(session, settings=settings, segment_id=target)
        chunks = service.csv_chunks(rows)
        if out is None:
            for chunk in chunks:
                sys.stdout.write(chunk)
            return
        written = 0
        with out.open("w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
                written += chunk.count("\n")
    console.print(f"wrote {max(written - 1, 0)} customers to {out}")


@segment_app.command("rebuild-stats")
@handle_errors
def rebuild_stats(
    check: bool = typer.Option(
        False, "--check", help="Only report how many customers' figures differ (exit 1 if any)."
    ),
) -> None:
    """Recompute every customer's order figures from the orders (the worker does it daily)."""
    from wafa.core.db import session_scope
    from wafa.messaging.segments import stats

    settings = load_settings()
    if check:
        with session_scope(settings, write=False) as session:
            off = stats.drifted(session, currency=settings.currency)
        console.print(f"{off} customers' order figures differ from the orders")
        if off:
            raise typer.Exit(1)
        return
    with session_scope(settings) as session:
        build = stats.rebuild(session, currency=settings.currency)
        seconds = (build.finished_at - build.started_at).total_seconds()
    console.print(f"order figures of {build.customers} customers rebuilt in {seconds:.1f} s")


def register(app: typer.Typer) -> None:
    """Add ``wafa segment`` to the root command."""
    app.add_typer(segment_app, name="segment")
