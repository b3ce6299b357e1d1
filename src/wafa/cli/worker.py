"""``wafa worker run [--once]``: drain the outbox and run the timed jobs."""

from __future__ import annotations

import logging
import signal
import threading

import typer

from wafa.cli.common import console, fail, handle_errors, load_settings
from wafa.worker.runner import Worker

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
    worker = Worker(settings, batch=batch)
    if once:
        result = worker.run_once(daily=not no_daily)
        console.print(f"handled {result.events} events")
        for name, report in result.tasks.items():
            done = ", ".join(f"{k} {v}" for k, v in report.items())
            console.print(f"{name}: {done or 'nothing to do'}")
        if result.failures:
            raise fail(f"failed: {', '.join(result.failures)} (see the log above)")
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


def register(app: typer.Typer) -> None:
    app.add_typer(worker_app, name="worker")
