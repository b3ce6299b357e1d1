"""Order confirmation latency: from ``POST /api/v1/orders`` to the email accepted by a
loopback SMTP server, with the worker running as in production (PostgreSQL).

    .venv/bin/python benchmarks/flows_confirmation.py [--orders 100] [--rate 2]
        [--before REV --turns 2]

A fresh database; one ``wafa serve`` (one process, no embedded worker) and one
``wafa worker run`` with its default settings (2 s idle poll); an aiosmtpd server in its
own process that notes the time each message arrives and the order's external id in
its text. The client posts ``--orders`` orders at ``--rate`` a second, each by a new
customer with an email address (the order confirmation is on in a new store), and
measures, per order, the time from the start of its POST to the sink's receipt.
Reports p50, p99 and the worst, and checks that every order got exactly one email.
With ``--before REV`` the same is measured with revision REV's server and worker (a git
worktree of it), turn about with this checkout's.
Target (issue 10): p99 under 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2 as httpx
from _common import (
    drop_database,
    free_port,
    fresh_database,
    revision_src,
    wait_for,
    write_section,
)

from wafa.auth import service as auth
from wafa.core.db import session_scope
from wafa.core.settings import Settings

ROOT = Path(__file__).resolve().parent
SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"

SINK = r"""
import json, re, sys, time, email
from email import policy
from aiosmtpd.controller import Controller
seen = []
class H:
    async def handle_DATA(self, server, session, envelope):
        at = time.time()
        msg = email.message_from_bytes(envelope.original_content or b"", policy=policy.default)
        part = msg.get_body(("plain",))
        body = part.get_content() if part is not None else ""
        seen.append((at, re.findall(r"conf-[0-9a-f]{8}-\d+", body)))
        return "250 OK"
c = Controller(H(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
try:
    for line in sys.stdin:
        print(json.dumps(seen), flush=True)
finally:
    c.stop()
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def measure(args: argparse.Namespace, src: Path) -> dict[str, Any]:
    """One turn: a fresh database, a server and a worker importing ``src``, the orders."""
    url = fresh_database("wafa_confirm_bench")
    settings = Settings.model_validate({"database_url": url, "secret_key": SECRET})
    with session_scope(settings) as s:
        _, token = auth.create_api_key(s, name="bench", scopes=["read", "write"])
    smtp_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "WAFA_DATABASE_URL": url,
        "WAFA_SECRET_KEY": SECRET,
        "WAFA_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "WAFA_MAIL_FROM": "Café <orders@bench.example.com>",
        "WAFA_PUBLIC_URL": "https://cafe.example.com",
    }
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK, str(smtp_port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdin is not None
    assert sink.stdout is not None
    assert sink.stdout.readline().strip() == "ready"
    server = subprocess.Popen(
        [sys.executable, "-m", "wafa.cli", "serve", "--port", str(http_port), "--workers", "1",
         "--no-access-log", "--no-worker"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "wafa.cli", "worker", "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    tag = uuid.uuid4().hex[:8]
    posted: dict[str, float] = {}
    answers: list[float] = []
    failed = 0
    cpu0 = _children_cpu(worker.pid)
    try:
        wait_for(http_port, server)
        time.sleep(3)  # the worker's first pass (presets, daily jobs of an empty store)
        cpu0 = _children_cpu(worker.pid)
        base = f"http://127.0.0.1:{http_port}"
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            start = time.monotonic()
            for i in range(args.orders):
                time.sleep(max(0.0, start + i / args.rate - time.monotonic()))
                external_id = f"conf-{tag}-{i}"
                body = {
                    "source": "bench",
                    "external_id": external_id,
                    "channel": "online",
                    "placed_at": datetime.now(UTC).isoformat(),
                    "currency": "USD",
                    "customer": {"email": f"c{i}-{tag}@bench.example.com", "name": f"C {i}"},
                    "lines": [{"sku": "BEANS", "name": "Beans", "quantity": 1, "unit_price": 1200}],
                }
                t = time.time()
                answer = client.post("/api/v1/orders", json=body)
                answers.append(time.time() - t)
                if answer.status_code not in (200, 201):
                    failed += 1
                posted[external_id] = t
        deadline = time.monotonic() + 30
        while True:
            sink.stdin.write("dump\n")
            sink.stdin.flush()
            seen = json.loads(sink.stdout.readline())
            got = {e for _, ids in seen for e in ids}
            if len(got) >= len(posted) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        worker_cpu = _children_cpu(worker.pid) - cpu0
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        server.terminate()
        server.wait(timeout=30)
        sink.stdin.close()
        sink.wait(timeout=30)
        drop_database(url)
    arrival: dict[str, list[float]] = {}
    for at, ids in seen:
        for external_id in set(ids):
            arrival.setdefault(external_id, []).append(at)
    latencies = [min(arrival[e]) - posted[e] for e in posted if e in arrival]
    return {
        "latencies": latencies,
        "twice": sum(1 for times in arrival.values() if len(times) > 1),
        "missing": len(posted) - len(latencies),
        "answers": answers,
        "failed": failed,
        "worker_cpu": worker_cpu,
    }


def _children_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process ``pid`` has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _row(name: str, runs: list[dict[str, Any]]) -> str:
    latencies = [x for r in runs for x in r["latencies"]]
    answers = [x for r in runs for x in r["answers"]]
    cpu = sum(r["worker_cpu"] for r in runs) / max(1, sum(len(r["latencies"]) for r in runs))
    return (
        f"| {name} | {statistics.median(latencies):.2f} s | {percentile(latencies, 0.99):.2f} s | "
        f"{max(latencies):.2f} s | {len(latencies)} | {sum(r['missing'] for r in runs)} | "
        f"{sum(r['twice'] for r in runs)} | {statistics.median(answers) * 1000:.0f} ms | "
        f"{cpu * 1000:.0f} ms |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--rate", type=float, default=2.0, help="Orders a second.")
    parser.add_argument(
        "--before", help="An earlier git revision, measured too, in alternating turns."
    )
    parser.add_argument("--turns", type=int, default=1, help="Turns per side.")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/wafa-bench"))
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "flows.md")
    args = parser.parse_args()
    sides = {"this checkout": ROOT.parent / "src"}
    if args.before:
        sides = {f"before ({args.before})": revision_src(args.before, args.workdir), **sides}
    load_start = os.getloadavg()[0]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for turn in range(args.turns):
        for name, src in sides.items():
            runs[name].append(measure(args, src))
            print(f"turn {turn + 1} {name}: {_row(name, runs[name][-1:])}", flush=True)
    load_end = os.getloadavg()[0]
    cmd = f".venv/bin/python benchmarks/flows_confirmation.py --orders {args.orders} --rate {args.rate:g}"
    if args.before:
        cmd += f" --before {args.before}"
    if args.turns != 1:
        cmd += f" --turns {args.turns}"
    failed = sum(r["failed"] for rs in runs.values() for r in rs)
    lines = [
        "### Order confirmation latency (PostgreSQL, worker running)",
        "",
        f"Command: `{cmd}` (run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average "
        f"{load_start:.1f} at the start, {load_end:.1f} at the end, on a shared 2-core VM).",
        "",
        f"{args.orders} orders a turn, posted at {args.rate:g} a second by new customers (one "
        "`wafa serve` process, one `wafa worker run` with its default 2 s idle poll), "
        f"{args.turns} turn(s) a side, the sides alternating; from the start of each POST to "
        "the email accepted by the loopback SMTP server (worker CPU: the worker process's CPU "
        "seconds per order):",
        "",
        "| side | p50 | p99 | worst | emails | missing | twice | POST p50 | worker CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *[_row(name, rs) for name, rs in runs.items()],
        "",
        f"Failed POSTs: {failed}. Target (issue 10): p99 under 5 s.",
        "",
    ]
    write_section(args.out, "flows_confirmation", "\n".join(lines), title="Lifecycle flows")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
