"""``wafa --help`` starts fast: the root command imports no database, web or numeric code.

Each command imports what it needs when it runs. This bounds the imports rather than the
time (a loaded machine would make a timing test flaky): the help of the root and of a few
sub-commands is printed in a fresh interpreter, which then lists what it imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Third-party packages a help screen must not load (each costs 50 ms to 1 s). Typer itself
#: reads options through pydantic, so pydantic is not listed; pydantic-settings is ours.
HEAVY = {
    "alembic",
    "argon2",
    "babel",
    "duckdb",
    "fastapi",
    "holidays",
    "httpx",
    "jdatetime",
    "jinja2",
    "numpy",
    "phonenumbers",
    "plotly",
    "psycopg",
    "pydantic_settings",
    "scipy",
    "sqlalchemy",
    "starlette",
    "uvicorn",
}

#: The only Wafa modules outside ``wafa.cli`` that help may import: option choices.
LIGHT = {
    "wafa",
    "wafa.analytics",
    "wafa.analytics.choices",
    "wafa.auth",
    "wafa.auth.roles",
    "wafa.core",
    "wafa.core.choices",
    "wafa.core.errors",
}

PROBE = """
import json, sys
sys.argv = ["wafa", *json.loads(sys.argv[1])]
from wafa.cli.main import main
try:
    main()
except SystemExit:
    pass
sys.stderr.write(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["analyze", "--help"],
        ["import", "orders", "--help"],
        ["loyalty", "run-daily", "--help"],
        ["user", "--help"],
    ],
)
def test_help_imports_no_application_code(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "Usage" in done.stdout
    modules = set(json.loads(done.stderr.strip().splitlines()[-1]))
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert not heavy, f"`wafa {' '.join(args)}` imported {heavy[:10]}"
    ours = sorted(m for m in modules if m.split(".")[0] == "wafa" and not m.startswith("wafa.cli"))
    assert set(ours) <= LIGHT, (
        f"`wafa {' '.join(args)}` imported {sorted(set(ours) - LIGHT)}: import them inside "
        "the command that needs them"
    )
