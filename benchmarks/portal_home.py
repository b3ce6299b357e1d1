"""The portal's home page under load on PostgreSQL: throughput, latency percentiles, CPU per page.

    .venv/bin/python benchmarks/portal_home.py [--customers 1000000] [--members 50]
        [--connections 50] [--seconds 20] [--workers 1] [--keep | --database URL]
        [--against REV --turns 2]

A fresh database gets ``--customers`` customer rows (one ``INSERT … SELECT
generate_series``), then ``--members`` of them get points through the loyalty service and
the catalogue three rewards (``--keep`` keeps it and prints its URL; ``--database URL``
measures such a kept store again without filling it). A fresh ``wafa serve``
(``--workers`` processes, no background worker) runs on loopback; each member signs in by
a real sign-in link (httpx). The load is ``wrk`` (the Debian/Ubuntu package ``wrk``: a
benchmark tool, not a dependency of Wafa; it must be on ``PATH``): ``--connections``
connections, one per wrk thread, each sending one signed-in member's cookie, ask for
``/portal/`` back to back (a closed loop) for ``--seconds`` after a 3-second warm-up;
every answer must be 200 with the balance on it (checked by the wrk script). The load
generator runs on the same machine as the server and the database; its CPU per page is
reported too.

Reported per turn: requests a second, p50/p90/p99 latency (wrk's), the load average, and the CPU
time per page of the server's processes and of the PostgreSQL backends serving the
benchmark's database (read from ``/proc``; neither depends much on what else the machine
runs, unlike the latencies). With ``--against REV`` the code of git revision ``REV``
(checked out once under ``/tmp``) is served in turns with this checkout's, on the same
store, ``--turns`` times each (old first), so both meet the same load.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx2 as httpx
from _common import (
    drop_database,
    free_port,
    fresh_database,
    parse_wrk,
    revision_src,
    write_section,
)
from sqlalchemy import create_engine, text

from wafa.core.db import dispose_engines, session_scope
from wafa.core.settings import Settings
from wafa.loyalty import rewards
from wafa.loyalty import service as loyalty
from wafa.loyalty.schemas.io import RewardCreate
from wafa.portal import access
from wafa.portal.web.common import COOKIE

ROOT = Path(__file__).resolve().parent
SRC = ROOT.parent / "src"
TICK = os.sysconf("SC_CLK_TCK")

FILL = """
INSERT INTO customers (id, name, search_name, email, tags, source, email_consent,
                       sms_consent, created_at, updated_at)
SELECT gen_random_uuid(), 'Customer ' || n, 'customer ' || n, 'c' || n || '@bench.example',
       '[]', 'bench', false, false, now(), now()
FROM generate_series(CAST(:start AS integer), CAST(:stop AS integer)) AS n
"""
MEMBERS = "SELECT id FROM customers ORDER BY email LIMIT :n"


def fill(url: str, count: int) -> float:
    started = time.perf_counter()
    engine = create_engine(url)
    with engine.begin() as conn:
        for start in range(1, count + 1, 250_000):
            conn.execute(text(FILL), {"start": start, "stop": min(count, start + 249_999)})
        conn.execute(text("ANALYZE customers"))
    engine.dispose()
    return time.perf_counter() - started


def members(settings: Settings, count: int) -> list[uuid.UUID]:
    with session_scope(settings) as s:
        for n, cost in enumerate((300, 800, 2000)):
            rewards.create_reward(
                s,
                settings=settings,
                data=RewardCreate(name=f"Reward {n}", kind="gift", cost_points=cost),
            )
        ids = list(s.scalars(text(MEMBERS), {"n": count}))
        for i, cid in enumerate(ids):
            loyalty.adjust(
                s, settings=settings, customer_id=cid, points=100 + 37 * i, reason="b", by="b"
            )
    return ids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` (those still running)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's worker processes)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def backends(url: str) -> list[int]:
    """Process ids of the PostgreSQL backends connected to ``url``'s database now."""
    engine = create_engine(url)
    with engine.connect() as conn:
        pids = list(
            conn.scalars(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            )
        )
    engine.dispose()
    return pids


def wait_for(public: str, server: subprocess.Popen[bytes]) -> None:
    """Wait until the server answers its sign-in page (5 minutes at most: on a machine at
    load 20 its start alone has taken over a minute)."""
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(f"{public}/portal/login", timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError("the server did not start")
        time.sleep(0.5)


@dataclass
class Turn:
    code: str
    rps: float
    p50: float
    p90: float
    p99: float
    errors: int
    server_ms: float  # server CPU per page
    db_ms: float  # PostgreSQL backends' CPU per page
    wrk_ms: float  # the load generator's CPU per page
    opened: int  # PostgreSQL connections opened during the turn (seen at least)
    closed: int  # and closed
    load: float
    html: int
    css: int


def lua(cookies: list[str]) -> str:
    """wrk script: wrk thread ``n`` (one connection each) sends member ``n``'s cookie on
    every request; an answer that is not 200 with the balance on it counts as bad."""
    quoted = ", ".join(f'"{c}"' for c in cookies)
    return f"""
local cookies = {{{quoted}}}
local threads = {{}}
local made = 0
function setup(thread)
  made = made + 1
  thread:set("cookie", cookies[(made - 1) % #cookies + 1])
  table.insert(threads, thread)
end
function init(args)
  bad = 0
  wrk.headers["Cookie"] = "{COOKIE}=" .. cookie
end
function response(status, headers, body)
  if status ~= 200 or not string.find(body, 'data-testid="available"', 1, true) then
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("bad") end
  io.write(string.format("bad answers: %d\\n", total))
end
"""


def wrk(public: str, script: Path, *, connections: int, seconds: float) -> tuple[str, float]:
    """Run wrk (``connections`` threads of one connection each, closed loop); its output
    and its CPU seconds."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(
            ["wrk", "-t", str(connections), "-c", str(connections), "-d", f"{seconds:g}s",
             "--timeout", "60s", "--latency", "-s", str(script), f"{public}/portal/"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise SystemExit(f"wrk failed ({proc.returncode}):\n{text}")
    return text, usage.ru_utime + usage.ru_stime


def turn(
    code: str, src: Path, *, url: str, secret: str, ids: list[uuid.UUID], args: argparse.Namespace
) -> Turn:
    """Serve ``src``'s code on the store, sign the members in, load it; the figures."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    settings = Settings.model_validate(
        {"database_url": url, "secret_key": secret, "public_url": public}
    )
    with session_scope(settings) as s:
        links = [access.issue_link(s, settings=settings, customer_id=c).url for c in ids]
    dispose_engines()
    env = {**os.environ, "WAFA_DATABASE_URL": url, "WAFA_ENVIRONMENT": "production",
           "WAFA_SECRET_KEY": secret, "WAFA_PUBLIC_URL": public,
           "PYTHONPATH": os.pathsep.join([str(src), *args.server_path])}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "wafa.cli", "serve", "--port", str(port), "--workers",
         str(args.workers), "--no-access-log", "--no-worker"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(public, server)
        cookies: list[str] = []
        with httpx.Client(base_url=public, timeout=30) as client:
            for link in links:
                client.cookies.clear()
                client.get(urlparse(link).path)  # signs in: the cookie stays in the client
                cookies.append(client.cookies[COOKIE])
            first = client.get("/portal/")
            if first.status_code != 200 or 'data-testid="available"' not in first.text:
                raise SystemExit(f"{code}: the home page answered {first.status_code}")
            css_path = first.text.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
            css = client.get(css_path).content
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
            script.write(lua(cookies))
            script.flush()
            # Warm-up: every connection at once, so every worker process has served each
            # member (and kept the page) and its pool holds the connections it will use.
            wrk(public, Path(script.name), connections=args.connections, seconds=3)
            served, db = process_tree(server.pid), backends(url)
            cpu0, db0 = cpu_seconds(served), cpu_seconds(db)
            seen = set(db)
            done = threading.Event()

            def watch() -> None:  # backends that come and go meanwhile
                while not done.wait(0.5):
                    seen.update(backends(url))

            watcher = threading.Thread(target=watch)
            watcher.start()
            try:
                output, wrk_cpu = wrk(
                    public, Path(script.name), connections=args.connections, seconds=args.seconds
                )
            finally:
                done.set()
                watcher.join()
        cpu1 = cpu_seconds(served)
        after = backends(url)
        # A backend opened during the turn counts whole; one that ended is lost (no figure).
        db1, closed = cpu_seconds(after), len(seen - set(after))
        opened = len(seen - set(db))
    finally:
        server.terminate()
        server.wait(timeout=60)
    stats = parse_wrk(output)
    pages = stats["requests"]
    if not pages:
        raise SystemExit(f"{code}: wrk reported no requests:\n{output}")
    bad = re.search(r"bad answers: (\d+)", output)
    if bad is None:
        raise SystemExit(f"{code}: the wrk script reported nothing:\n{output}")
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(bad.group(1)) + (sum(int(g) for g in sockets.groups()) if sockets else 0)
    return Turn(
        code=code,
        rps=stats["rps"],
        p50=stats["p50_ms"],
        p90=stats["p90_ms"],
        p99=stats["p99_ms"],
        errors=errors,
        server_ms=(cpu1 - cpu0) * 1000 / pages,
        # The CPU of a backend that ended before the last reading is lost: no figure then.
        db_ms=(db1 - db0) * 1000 / pages if not closed else float("nan"),
        wrk_ms=wrk_cpu * 1000 / pages,
        opened=opened,
        closed=closed,
        load=os.getloadavg()[0],
        html=len(first.content),
        css=len(css),
    )


def row(t: Turn) -> str:
    return (
        f"| {t.code} | {t.rps:.0f} | {t.p50:.0f} | {t.p90:.0f} | {t.p99:.0f} | {t.errors} | "
        f"{t.server_ms:.1f} | {_ms(t.db_ms)} | {t.wrk_ms:.2f} | {t.opened} / {t.closed} | "
        f"{t.load:.1f} |"
    )


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the database; print its URL")
    parser.add_argument("--database", help="measure a store kept by --keep (not filled again)")
    parser.add_argument("--against", help="git revision served in turns with this checkout")
    parser.add_argument("--turns", type=int, default=2)
    parser.add_argument(
        "--server-path",
        action="append",
        default=[],
        help="a folder put after the code on the server's PYTHONPATH (repeatable): e.g. "
        "httptools and uvloop installed there with pip --target, which uvicorn then uses",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "portal.md")
    args = parser.parse_args()
    secret = uuid.uuid4().hex * 2
    url = args.database or fresh_database("wafa_bench_portal")
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    codes: list[tuple[str, Path]] = [(f"this checkout ({head or '?'})", SRC)]
    if args.against:
        codes.insert(0, (args.against, revision_src(args.against, Path("/tmp/wafa-bench-src"))))
    try:
        settings = Settings.model_validate({"database_url": url, "secret_key": secret})
        if args.database:
            with session_scope(settings) as s:
                ids = list(s.scalars(text(MEMBERS), {"n": args.members}))
                customers = s.scalar(text("SELECT count(*) FROM customers")) or 0
            print(f"{customers:,} customers in {url}")
        else:
            customers = args.customers
            filled = fill(url, customers)
            print(f"{customers:,} customers in {filled:.1f} s")
            ids = members(settings, args.members)
        dispose_engines()
        turns: list[Turn] = []
        for _ in range(args.turns if args.against else 1):
            for code, src in codes:
                t = turn(code, src, url=url, secret=secret, ids=ids, args=args)
                print(row(t), flush=True)
                turns.append(t)
    finally:
        if args.keep or args.database:
            print(f"kept: --database {url}")
        else:
            drop_database(url)
    header = (
        "| code | requests/s | p50 (ms) | p90 (ms) | p99 (ms) | errors | server CPU/page (ms) "
        "| PostgreSQL CPU/page (ms) | wrk CPU/page (ms) | connections opened / closed | load |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    medians = []
    for code, _src in codes:
        mine = [t for t in turns if t.code == code]
        if len(mine) > 1:
            medians.append(
                f"| **{code}, median of {len(mine)}** | "
                f"{statistics.median(t.rps for t in mine):.0f} | "
                f"{statistics.median(t.p50 for t in mine):.0f} | "
                f"{statistics.median(t.p90 for t in mine):.0f} | "
                f"{statistics.median(t.p99 for t in mine):.0f} | "
                f"{sum(t.errors for t in mine)} | "
                f"{statistics.median(t.server_ms for t in mine):.1f} | "
                f"{_ms(_median([t.db_ms for t in mine if not math.isnan(t.db_ms)]))} | "
                f"{statistics.median(t.wrk_ms for t in mine):.2f} | "
                f"{statistics.median(t.opened for t in mine):.0f} / "
                f"{statistics.median(t.closed for t in mine):.0f} | "
                f"{statistics.median(t.load for t in mine):.1f} |"
            )
    table = "\n".join([header, *(row(t) for t in turns), *medians])
    print(table)
    shown = ["URL" if a == args.database else a for a in sys.argv[1:]]  # no local address
    command = " ".join(["benchmarks/portal_home.py", *shown])
    last = turns[-1]
    write_section(
        args.out,
        f"portal_home_wrk_c{args.connections}_w{args.workers}",
        f"""### Portal home page, {customers:,} customers, {args.connections} connections, {args.workers} server worker(s), load by wrk (PostgreSQL)

Command: `.venv/bin/python {command}` (needs `wrk` installed: `apt-get install wrk`).
`wafa serve --workers {args.workers}` on loopback; wrk with {args.connections} connections
(one per wrk thread), each a signed-in member's browser ({len(ids)} members), asking for
`/portal/` back to back (closed loop) for {args.seconds:g} s per turn after a 3 s warm-up,
the load generator on the same machine (a shared 2-core machine: the load average is given
per turn). CPU per page: the server's processes, and the
PostgreSQL backends of the benchmark's database (no figure when connections were closed
during the turn: an ended backend's CPU cannot be read). Page: {last.html:,} bytes of HTML and
{last.css:,} of CSS.

{table}
""",
        title="Portal",
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
