"""Throughput and latency of ``POST /api/v1/orders`` on PostgreSQL, with wrk on loopback.

Each request is a new order (unique external id) from one of 2,000 returning
customers, so every request matches a customer and writes an order, its lines and
its outbox event. Run::

    .venv/bin/python benchmarks/api_orders.py [--duration 20] [--runs 3] [--workers 2]

Needs PostgreSQL on 127.0.0.1:5432 and ``wrk`` (Debian package ``wrk``). Prints the
median requests/s and latency percentiles over the runs and writes
``benchmarks/results/api_orders.md``. ``run_load`` is reusable by other benchmarks
that compare the same load under different settings.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import drop_database, fresh_database, orders_lua, parse_wrk, wait_for
from sqlalchemy import func, select

from wafa.auth import service as auth
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.orders.models import Order

ROOT = Path(__file__).resolve().parent


def run_load(
    database_url: str,
    *,
    duration: int,
    connections: int,
    workers: int,
    extra_env: dict[str, str] | None = None,
    port: int = 8765,
) -> dict[str, float]:
    """Serve Wafa on ``database_url`` and drive it with wrk; return its figures."""
    settings = Settings.model_validate({"database_url": database_url})
    with session_scope(settings) as s:
        _, token = auth.create_api_key(s, name="bench", scopes=["read", "write"])
    env = {**os.environ, "WAFA_DATABASE_URL": database_url, **(extra_env or {})}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wafa.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--no-worker",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(port, server)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            lua.write(orders_lua())
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{duration}s",
                "--latency",
                "-s",
                lua.name,
                "-H",
                f"Authorization: Bearer {token}",
                "-H",
                "Content-Type: application/json",
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        os.unlink(lua.name)
        stats = parse_wrk(out)
        with session_scope(settings, write=False) as s:
            stats["orders_stored"] = float(s.scalar(select(func.count()).select_from(Order)) or 0)
        return stats
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    results = []
    for i in range(args.runs):
        url = fresh_database("wafa_bench")
        try:
            stats = run_load(
                url, duration=args.duration, connections=args.connections, workers=args.workers
            )
        finally:
            drop_database(url)
        print(f"run {i + 1}: {stats}")
        results.append(stats)
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    lines = [
        "# POST /api/v1/orders on PostgreSQL",
        "",
        f"Command: `.venv/bin/python benchmarks/api_orders.py --duration {args.duration} "
        f"--runs {args.runs} --connections {args.connections} --workers {args.workers}`",
        "",
        f"wrk on loopback, {args.connections} connections, {args.workers} uvicorn workers, "
        f"{args.runs} runs of {args.duration} s on a fresh database each; medians.",
        "",
        "| requests/s | p50 ms | p90 ms | p99 ms | non-2xx | orders stored = requests |",
        "|---:|---:|---:|---:|---:|---|",
        f"| {med['rps']:.0f} | {med.get('p50_ms', 0):.1f} | {med.get('p90_ms', 0):.1f} | "
        f"{med.get('p99_ms', 0):.1f} | {med['errors']:.0f} | "
        f"{'yes' if all(r['orders_stored'] >= r['requests'] - r['errors'] - args.connections for r in results) else 'NO'} |",
    ]
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "api_orders.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
