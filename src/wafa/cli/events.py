"""``wafa events list``: the members-only events, their seats and answers, in a table.

Days are written in the shop's calendar (``WAFA_CALENDAR``: Jalali shops read
``1405-09-29``), times in the shop's timezone.
"""

from __future__ import annotations

import typer

from wafa.cli.common import console, echo_json, handle_errors, load_settings, session_scope

events_app = typer.Typer(help="Members-only events.", no_args_is_help=True)


@events_app.command("list")
@handle_errors
def list_events(
    past: bool = typer.Option(False, "--past", help="Events that are over, latest first."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable."),
) -> None:
    """Upcoming events (soonest first) with their seats, waiting list and answers."""
    from rich.markup import escape
    from rich.table import Table

    from wafa.core.calendars import local_date, ymd
    from wafa.gatherings import service

    settings = load_settings()
    zone = settings.zone
    with session_scope(settings) as session:
        rows = [
            (g, service.counts(session, g.id)) for g in service.list_gatherings(session, past=past)
        ]
        session.expunge_all()
    if as_json:
        echo_json(
            [
                {
                    "id": str(g.id),
                    "name": g.name_en,
                    "starts_at": g.starts_at.isoformat(),
                    "ends_at": g.ends_at.isoformat(),
                    "place": g.place,
                    "status": g.status,
                    "capacity": g.capacity,
                    "seats_taken": g.accepted,
                    "waiting": c.waiting,
                    "no_answer": c.invited,
                    "cannot_come": c.no,
                    "checked_in": c.checked_in,
                }
                for g, c in rows
            ]
        )
        return
    if not rows:
        console.print("no past events" if past else "no upcoming events (wafa events list --past)")
        return
    table = Table(title="Past events" if past else "Upcoming events", title_justify="left")
    table.add_column("event (status)", ratio=1)
    table.add_column("when", no_wrap=True)
    # Seats taken of the capacity; waiting; no answer yet; cannot come; came (checked in).
    for header in ("seats", "waiting", "silent", "no", "came"):
        table.add_column(header, justify="right", no_wrap=True)
    for g, c in rows:
        y, m, d = ymd(local_date(g.starts_at, zone), settings.calendar)
        table.add_row(
            f"{escape(g.name_en)}\n[dim]{g.status}[/dim]",
            f"{y:04d}-{m:02d}-{d:02d}\n"
            f"{g.starts_at.astimezone(zone):%H:%M}–{g.ends_at.astimezone(zone):%H:%M}",
            f"{g.accepted}/{g.capacity}",
            str(c.waiting),
            str(c.invited),
            str(c.no),
            str(c.checked_in),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``wafa events`` to the root command."""
    app.add_typer(events_app, name="events")
