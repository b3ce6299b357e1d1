"""``wafa worker run [--once]``: drain the outbox and run the timed jobs."""

from __future__ import annotations

import logging
import signal
import threading

import typer

from wafa.cli.common import console, fail, handle_errors, load_settings

worker_app = typer.Typer(help="The background worker.", no_args_is_help=True)


@worker_app.command("run")
@handle_errors
def run(
    once: bool = typer.Option(False, "--once", help="One pass, then exit (cron, tests)."),
    poll: float = typer.Option(2.0, help="Seconds to wait when there is nothing to do."),
    batch: int = typer.Option(200, help="Events handled per transaction."),
    no_daily: bool = typer.Option(False, "--no-daily", help="Skip the daily jobs (with --once)."),
) -> None:
    """Handle outbox events and run daily jobs in the business's timezone, until stopped."""
    settings = load_settings()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from wafa.app.worker import build_worker

    worker = build_worker(settings, batch=batch)
    if once:
        result = worker.run_once(daily=not no_daily)
        console.print(f"handled {result.events} events")
        for name, report in result.tasks.items():
            done = ", ".join(f"{k} {v}" for k, v in report.items())
            console.print(f"{name}: {done or 'nothing to do'}")
        for failed in result.failed_events:
            later = "waits for you (wafa worker retry)" if failed.gave_up else "retried later"
            console.print(
                f"[red]event failed[/] {failed.topic} {failed.event_id} ({failed.consumer}, "
                f"attempt {failed.attempts}, {later}): {failed.error}",
                highlight=False,
            )
        if result.failures or result.failed_events:
            names = result.failures + sorted({f.consumer for f in result.failed_events})
            raise fail(f"failed: {', '.join(names)} (see above)")
        return
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        console.print(f"stopping (signal {signum}) after the current batch…")
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    console.print(
        f"worker running for [bold]{settings.business_name}[/] "
        f"(timezone {settings.timezone}, calendar {settings.calendar}); Ctrl-C to stop"
    )
    worker.run_forever(stop, poll=poll)
    console.print("worker stopped")


@worker_app.command("failures")
@handle_errors
def failures(limit: int = typer.Option(50, help="How many to show.")) -> None:
    """Events a consumer could not handle: the error, the attempts, the next retry."""
    from wafa.core import outbox
    from wafa.core.db import session_scope

    with session_scope(load_settings(), write=False) as session:
        found = outbox.failures(session, limit=limit)
    if not found:
        console.print("no failed events")
        return
    for failure, event in found:
        when = failure.retry_at.isoformat() if failure.retry_at else "waits for a retry by hand"
        console.print(
            f"{event.id} {event.topic} [{failure.consumer}] attempts {failure.attempts}, "
            f"next: {when}\n  {failure.error}",
            highlight=False,
        )


@worker_app.command("retry")
@handle_errors
def retry(
    event_id: str = typer.Argument(None, help="One event id (default: every failed event)."),
    consumer: str = typer.Option(None, help="Only this consumer's failed events."),
) -> None:
    """Make failed events due again (after fixing what made them fail)."""
    import uuid

    from wafa.core import outbox
    from wafa.core.db import session_scope

    try:
        target = uuid.UUID(event_id) if event_id else None
    except ValueError:
        raise fail(f"{event_id!r} is not an event id") from None
    with session_scope(load_settings()) as session:
        count = outbox.retry_failures(session, consumer=consumer, event_id=target)
    console.print(f"{count} failed event(s) will be retried at the worker's next pass")


def register(app: typer.Typer) -> None:
    app.add_typer(worker_app, name="worker")
