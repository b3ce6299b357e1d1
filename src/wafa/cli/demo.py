"""``wafa demo``: build a realistic demo store, print the login, serve the dashboard."""

from __future__ import annotations

import time

import typer

from wafa.cli.common import console, fail, handle_errors, load_settings
from wafa.cli.db import init_database
from wafa.cli.serve import serve_app
from wafa.core.db import session_scope
from wafa.demo import store


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
                summary = store.build_demo(
                    session,
                    settings=settings,
                    customers_count=customers,
                    seed=seed,
                    progress=lambda msg: console.print(f"  {msg}", highlight=False),
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
