"""``wafa doctor``: check the database for what should never be there."""

from __future__ import annotations

import typer

from wafa.cli.common import console, fail, handle_errors, load_settings, session_scope


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    @handle_errors
    def doctor() -> None:
        """Find merge cycles and orders or points stranded on merged records; exit 1 if any."""
        from wafa.people.doctor import diagnose

        with session_scope(load_settings(), write=False) as session:
            found = diagnose(session)
        for note in found.notes:
            console.print(f"note: {note}", highlight=False, soft_wrap=True)
        for problem in found.problems:
            console.print(f"problem: {problem}", highlight=False, soft_wrap=True)
        if not found.healthy:
            raise fail(f"{len(found.problems)} problems found")
        console.print("no merge cycles, nothing stranded on merged records")
