"""``wafa serve``: the API and the dashboard."""

from __future__ import annotations

import typer

from wafa.cli.common import console, handle_errors, load_settings


def serve_app(host: str, port: int, *, workers: int = 1, access_log: bool = True) -> None:
    """Run the ASGI app with uvicorn until interrupted."""
    import uvicorn

    from wafa.api.app import create_app

    settings = load_settings()
    console.print(f"Wafa for [bold]{settings.business_name}[/] on http://{host}:{port}/")
    console.print(f"  dashboard  http://{host}:{port}/\n  API docs   http://{host}:{port}/api/docs")
    if workers > 1:
        uvicorn.run(
            "wafa.api.app:create_app",
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
    ) -> None:
        """Serve the API and the dashboard."""
        serve_app(host, port, workers=workers, access_log=access_log)
