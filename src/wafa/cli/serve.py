"""``wafa serve``: the API and the dashboard."""

from __future__ import annotations

import threading

import typer

from wafa.cli.common import console, handle_errors, load_settings


def serve_app(
    host: str,
    port: int,
    *,
    workers: int = 1,
    access_log: bool = True,
    background_worker: bool = True,
) -> None:
    """Run the ASGI app with uvicorn until interrupted.

    With ``background_worker`` the outbox consumers and daily jobs run in a thread of
    this process, so one command runs a whole shop; a larger installation serves
    with ``--no-worker`` and runs ``wafa worker run`` on its own (running both is
    safe: every event and daily job is handled exactly once).
    """
    settings = load_settings()
    console.print(f"Wafa for [bold]{settings.business_name}[/] on http://{host}:{port}/")
    console.print(f"  dashboard  http://{host}:{port}/\n  API docs   http://{host}:{port}/api/docs")
    stop = threading.Event()
    thread: threading.Thread | None = None
    if background_worker:
        from wafa.app.worker import build_worker

        thread = threading.Thread(
            target=build_worker(settings).run_forever,
            args=(stop,),
            name="wafa-worker",
            daemon=True,
        )
        thread.start()
        console.print("  worker     running in the background (events, daily jobs)")
    try:
        _run(host, port, workers=workers, access_log=access_log)
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=30)


def _run(host: str, port: int, *, workers: int, access_log: bool) -> None:
    import uvicorn

    from wafa.app.factory import create_app

    settings = load_settings()
    if workers > 1:
        uvicorn.run(
            "wafa.app.factory:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=access_log,
        )
    else:
        uvicorn.run(create_app(settings), host=host, port=port, access_log=access_log)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    @handle_errors
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(8000, help="TCP port."),
        workers: int = typer.Option(1, help="Worker processes."),
        access_log: bool = typer.Option(True, help="Log each request."),
        worker: bool = typer.Option(
            True, help="Also run the background worker (events, daily jobs) in this process."
        ),
    ) -> None:
        """Serve the API and the dashboard (and, by default, the background worker)."""
        serve_app(host, port, workers=workers, access_log=access_log, background_worker=worker)
