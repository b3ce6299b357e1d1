"""``wafa demo``: build a realistic demo store, print the login, serve the dashboard.

Building takes about two minutes for the default 5,000 customers on a quiet machine (README: "Two commands"),
so every step is printed with the time since the start, and a step that runs long says
every few seconds that it is still at work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from wafa.cli.common import console, fail, handle_errors, load_settings
from wafa.cli.db import init_database
from wafa.cli.serve import serve_app

#: Seconds of silence after which a long step says it is still at work.
HEARTBEAT = 10.0


class Progress:
    """Prints each step with the time since the start; repeats a long step's name."""

    def __init__(self, heartbeat: float = HEARTBEAT) -> None:
        self.started = time.monotonic()
        self.heartbeat = heartbeat
        self._step = ""
        self._said = self.started
        self._lock = threading.Lock()

    def _print(self, text: str) -> None:
        elapsed = int(time.monotonic() - self.started)
        console.print(f"  {elapsed // 60:d}:{elapsed % 60:02d}  {text}", highlight=False)

    def __call__(self, message: str) -> None:
        with self._lock:
            if message.startswith("["):
                self._step = message.split("] ", 1)[-1]
            self._said = time.monotonic()
            self._print(message)

    def beat(self) -> None:
        """Say the step is still running when nothing was said for ``heartbeat`` seconds."""
        with self._lock:
            if self._step and time.monotonic() - self._said >= self.heartbeat:
                self._said = time.monotonic()
                self._print(f"      still {self._step}")


@contextmanager
def progress(heartbeat: float = HEARTBEAT) -> Iterator[Progress]:
    """A ``Progress`` with a background thread that keeps a long step talking."""
    shown = Progress(heartbeat)
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(min(1.0, heartbeat / 2)):
            shown.beat()

    thread = threading.Thread(target=run, name="wafa-demo-progress", daemon=True)
    thread.start()
    try:
        yield shown
    finally:
        stop.set()
        thread.join()


def register(app: typer.Typer) -> None:
    @app.command("demo")
    @handle_errors
    def demo(
        no_serve: bool = typer.Option(
            False, "--no-serve", help="Build the store, do not serve it."
        ),
        customers: int = typer.Option(
            5000, "--customers", min=1, max=200_000, help="How many customers."
        ),
        seed: int = typer.Option(42, "--seed", help="Same seed, same customers and orders."),
        reset: bool = typer.Option(
            False, "--reset", help="Delete the demo store and build it again."
        ),
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(8000, help="TCP port."),
    ) -> None:
        """Create a demo café-roastery (two years of customers and orders) and serve it.

        The database is the configured one (WAFA_DATABASE_URL, default ./wafa.db). A
        database that already holds the demo store is reused unless --reset; one that holds
        other data is refused, so real data is never mixed with demo data.
        """
        from wafa.app.domains import DOMAINS
        from wafa.app.models import metadata
        from wafa.core.db import session_scope
        from wafa.demo import store

        settings = load_settings()
        init_database()
        started = time.perf_counter()
        with session_scope(settings) as session:
            state = store.database_state(session)
            if state is store.DemoState.other:
                raise fail(
                    "this database holds data that is not the demo store; the demo will not "
                    "mix with it. Point WAFA_DATABASE_URL at a new database (e.g. "
                    "sqlite:///./demo.db) to try the demo."
                )
            if state is store.DemoState.demo and reset:
                console.print("deleting the existing demo store")
                store.clear_demo(session, metadata=metadata)
                state = store.DemoState.empty
            if state is store.DemoState.empty:
                # Measured: 5,000 customers take about 105 CPU-seconds (README).
                minutes = max(1, round(2 * customers / 5000))
                console.print(
                    f"building the demo store: about {minutes} minute"
                    f"{'s' if minutes > 1 else ''} for {customers:,} customers "
                    "(longer on a busy machine)",
                    highlight=False,
                )
                with progress() as shown:
                    summary = store.build_demo(
                        session,
                        settings=settings,
                        customers_count=customers,
                        seed=seed,
                        progress=shown,
                        extensions=DOMAINS,
                    )
                console.print(
                    f"built the demo store in {time.perf_counter() - started:.1f} s: "
                    f"{summary.customers} customers, {summary.orders} orders, "
                    f"{summary.refunds} refunds, {summary.products} products "
                    f"(a café-roastery in {summary.city}, {settings.currency})",
                    highlight=False,
                )
            else:
                counts = store.demo_counts(session)
                console.print(
                    f"reusing the demo store: {counts['customers']} customers, "
                    f"{counts['orders']} orders (--reset builds it again)",
                    highlight=False,
                )
            email, password = store.ensure_owner(session)
        console.print(f"\n  dashboard  http://{host}:{port}/", highlight=False)
        console.print(f"  login      {email}", highlight=False)
        console.print(f"  password   {password}\n", highlight=False)
        if not no_serve:
            serve_app(host, port)
