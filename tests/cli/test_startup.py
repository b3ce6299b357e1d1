"""``wafa --help`` starts fast: the root command imports no database, web or numeric code.

Each command imports what it needs when it runs. This bounds the imports rather than the
time (a loaded machine would make a timing test flaky): the help of the root and of a few
sub-commands is printed in a fresh interpreter, which then lists what it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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


#: Runs the real entry point with an ``atexit`` mark: the mark is written only when the
#: interpreter tears itself down.
ENTRY = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("torn down\\n"))
sys.argv = ["wafa", *json.loads(sys.argv[1])]
from wafa.cli.main import main
main()
"""


def _entry(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "WAFA_ENVIRONMENT": "test",
        "WAFA_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
    }
    return subprocess.run(
        [sys.executable, "-c", ENTRY, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_analyze_ends_at_once_with_everything_written(tmp_path: Path) -> None:
    """Once ``wafa analyze`` has written and closed its outputs, the process ends without
    the interpreter's teardown (freeing a big analysis object by object); what it
    printed and wrote is all there."""
    path = tmp_path / "orders.csv"
    lines = ["customer_id,order_id,placed_at,total"]
    n = 0
    for c in range(40):
        for k in range(1 + c % 5):
            n += 1
            lines.append(f"c{c},o{n},2024-{1 + (c + 2 * k) % 12:02d}-{1 + c % 28:02d},1{k}.50")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out, customers = tmp_path / "out.json", tmp_path / "customers.csv"
    done = _entry(
        ["analyze", str(path), "--json", str(out), "--customers-out", str(customers)], tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "torn down" not in done.stderr
    assert f"wrote {customers}" in done.stdout.replace("\n", "")
    assert json.loads(out.read_text(encoding="utf-8"))["customers"] == 40
    assert len(customers.read_text(encoding="utf-8").splitlines()) == 41


def test_a_failed_analyze_exits_normally(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("customer_id,order_id,placed_at,total\nc1,o1,not a date,1.00\n")
    done = _entry(["analyze", str(path), "--quiet"], tmp_path)
    assert done.returncode == 1
    assert "not a date" in done.stderr
    assert "torn down" in done.stderr
