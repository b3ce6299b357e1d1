"""What the PostgreSQL benchmarks share: throwaway databases, the orders load, results files.

Imported by the benchmark scripts, which run as ``python benchmarks/NAME.py`` (so this
folder is on ``sys.path``).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import create_engine, text

from wafa.core import migrate
from wafa.core.db import dispose_engines

ADMIN_URL = os.environ.get("WAFA_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


ROOT = Path(__file__).resolve().parent.parent


def revision_src(revision: str, workdir: Path | None = None) -> Path:
    """Return the ``src`` folder of git ``revision``, exported once (``git archive``) into
    ``workdir`` (the system's temporary folder by default).

    For benchmarks that run an earlier revision beside this checkout in one run (a child
    process with ``PYTHONPATH`` set to the returned folder imports that revision's code).
    An export, not a worktree: nothing is registered in the repository.
    """
    target = (workdir or Path(tempfile.gettempdir())) / f"wafa-{revision}"
    if not (target / "src").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", revision, "src"],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def empty_database(prefix: str) -> str:
    """Create an empty PostgreSQL database named ``PREFIX_xxxxxxxx``; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def fresh_database(prefix: str) -> str:
    """Create an empty PostgreSQL database named ``PREFIX_xxxxxxxx``, migrated; its URL."""
    url = empty_database(prefix)
    migrate.upgrade(url)
    return url


def drop_database(url: str) -> None:
    """Drop the database of ``url`` (after closing this process's connections to it)."""
    dispose_engines()
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def orders_lua(*, categories: bool = False) -> str:
    """wrk script: every request a new two-line order by one of 2,000 returning customers."""
    beans, cup = ('"category":"beans"', '"category":"coffee"') if categories else ("", "")
    sep = "," if categories else ""
    return rf"""
local counter = 0
function setup(thread)
  thread:set("tid", tostring(math.random(1, 1000000000)))
end
function request()
  counter = counter + 1
  local c = (counter * 7919) % 2000
  local body = string.format(
    '{{"source":"bench","external_id":"%s-%d","channel":"online",' ..
    '"placed_at":"2026-05-01T10:00:00+00:00","currency":"USD",' ..
    '"customer":{{"email":"c%d@bench.example.com","name":"Customer %d"}},' ..
    '"lines":[{{"sku":"SKU-%d","name":"Beans","quantity":2,"unit_price":1250{sep}{beans}}},' ..
    '{{"sku":"SKU-%d","name":"Cup","quantity":1,"unit_price":450{sep}{cup}}}]}}',
    tid, counter, c, c, counter % 50, (counter + 7) % 50)
  return wrk.format("POST", "/api/v1/orders", nil, body)
end
"""


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s, latency percentiles (ms), non-2xx answers and requests from wrk's output."""

    def ms(value: str, unit: str) -> float:
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    stats: dict[str, float] = {}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    stats["rps"] = float(rps.group(1)) if rps else 0.0
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\b", output)
        if m:
            stats[f"p{pct}_ms"] = ms(m.group(1), m.group(2))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    stats["errors"] = float(non2xx.group(1)) if non2xx else 0.0
    total = re.search(r"(\d+) requests in", output)
    stats["requests"] = float(total.group(1)) if total else 0.0
    return stats


def write_section(path: Path, name: str, body: str, *, title: str) -> None:
    """Replace the ``name`` section of ``path`` (creating the file or section as needed)."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{body.rstrip()}\n{end}\n"
    current = path.read_text() if path.exists() else f"## {title}\n\n"
    if start in current and end in current:
        before, rest = current.split(start, 1)
        after = rest.split(end, 1)[1].lstrip("\n")
        current = before + block + ("\n" + after if after else "")
    else:
        current = current.rstrip() + "\n\n" + block
    path.parent.mkdir(exist_ok=True)
    path.write_text(current)


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, proc: subprocess.Popen[bytes]) -> None:
    """Wait until the ``wafa serve`` in ``proc`` answers on ``port`` (300 s at most: two
    uvicorn workers importing Wafa at load 20 on two cores took over 90 s)."""
    deadline = time.monotonic() + 300
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("server did not start") from None
            time.sleep(0.2)
