"""CPU per request of a Shopify webhook and of ``POST /api/v1/orders``, in one process.

The app runs in-process (Starlette's test client, one thread) on a fresh PostgreSQL
database; blocks of ``--block`` API orders and ``--block`` signed ``orders/create``
webhooks are sent in alternating turns (``--turns``), with the same two-line orders by
2,000 returning customers as ``webhook_intake.py``. What is measured is this process's
CPU time per request (client, app and driver; PostgreSQL's own work is not in it), so a
loaded machine changes it little; the SQL statements each request sends are counted too.
``--before REV`` runs this script on the code of git revision ``REV`` and on this
checkout in turns (``--rounds`` child processes each), and prints both sides' medians and
their ratios, measured in the same minutes. ``--profile`` prints where each kind spends it
(cProfile of the app's own work: the sync routes and dependencies FastAPI runs in its
threadpool, which is where the two differ; top functions by own and by cumulative time).
Run::

    .venv/bin/python benchmarks/intake_cpu.py [--turns 5] [--block 100] [--profile]
    .venv/bin/python benchmarks/intake_cpu.py --before REV [--rounds 3] [--turns 3]
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import hmac
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import drop_database, fresh_database, revision_src
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webhook_intake import SECRET, _api_body, _shopify_body

from wafa.app.factory import create_app
from wafa.auth import service as auth
from wafa.core.db import dispose_engines, session_scope
from wafa.core.sealing import generate_key
from wafa.core.settings import Settings
from wafa.integrations import connections
from wafa.orders.models import Order


class ThreadpoolProfiles:
    """Profile what FastAPI runs in its threadpool (sync routes and dependencies) into the
    profile of the kind being measured; cProfile sees one thread at a time."""

    def __init__(self) -> None:
        import fastapi.dependencies.utils
        import fastapi.routing
        from starlette.concurrency import run_in_threadpool

        self.current: cProfile.Profile | None = None
        original = run_in_threadpool

        async def profiled(func, *args, **kwargs):  # type: ignore[no-untyped-def]
            profile = self.current
            if profile is None:
                return await original(func, *args, **kwargs)

            def run(*a, **k):  # type: ignore[no-untyped-def]
                profile.enable()
                try:
                    return func(*a, **k)
                finally:
                    profile.disable()

            return await original(run, *args, **kwargs)

        fastapi.routing.run_in_threadpool = profiled  # type: ignore[assignment]
        fastapi.dependencies.utils.run_in_threadpool = profiled  # type: ignore[assignment]


def compare(args: argparse.Namespace) -> None:
    """This script on ``--before``'s code and on this checkout's, in turns; medians."""
    here = Path(__file__).resolve()
    sides = {f"before ({args.before})": revision_src(args.before), "this checkout": None}
    found: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    for turn in range(args.rounds):
        for side, src in sides.items():
            env = dict(os.environ)
            if src is not None:
                env["PYTHONPATH"] = os.pathsep.join([str(src), str(here.parent)])
            command = [sys.executable, str(here), "--turns", str(args.turns)]
            command += ["--block", str(args.block), "--json"]
            done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            found[side].append(figures)
            print(f"round {turn + 1} {side}: {figures}", flush=True)
    keys = (
        ("api_ms", "API: CPU ms per request"),
        ("webhook_ms", "webhook: CPU ms per request"),
        ("ratio", "webhook / API CPU"),
        ("api_sql", "API: SQL statements per request"),
        ("webhook_sql", "webhook: SQL statements per request"),
    )
    before, after = sides
    print(f"\n| median of {args.rounds} | {before} | {after} | after / before |")
    print("|---|---:|---:|---:|")
    for key, label in keys:
        old = statistics.median(f[key] for f in found[before])
        new = statistics.median(f[key] for f in found[after])
        print(f"| {label} | {old:.2f} | {new:.2f} | {new / old:.2f} |")
    loads = [f["load"] for side in found.values() for f in side]
    print(f"\nload average during the runs: {min(loads):.1f}-{max(loads):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--block", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--before", help="a git revision to compare with, in turns")
    parser.add_argument("--rounds", type=int, default=3, help="child runs of each side")
    parser.add_argument("--json", action="store_true", help="end with the medians as JSON")
    args = parser.parse_args()
    if args.before:
        compare(args)
        return
    statements = [0]

    @event.listens_for(Engine, "before_cursor_execute")
    def count(*_: object) -> None:
        statements[0] += 1

    url = fresh_database("wafa_bench_cpu")
    settings = Settings.model_validate(
        {"database_url": url, "data_keys": generate_key(), "secret_key": "x" * 48}
    )
    try:
        with session_scope(settings) as s:
            _, token = auth.create_api_key(s, name="bench", scopes=["read", "write"])
            path = connections.add_connection(
                s, settings=settings, shop="shopify", name="shop", secret=SECRET
            ).path
        counters = {"api": 0, "webhook": 0}
        # CPU time, not wall time: waiting for the database is not the app's work.
        profiles = {k: cProfile.Profile(time.process_time) for k in ("api", "webhook")}
        pool = ThreadpoolProfiles() if args.profile else None
        per_request: dict[str, list[float]] = {"api": [], "webhook": []}
        sql: dict[str, list[float]] = {"api": [], "webhook": []}
        with TestClient(create_app(settings)) as client:
            auth_header = {"Authorization": f"Bearer {token}"}

            def api(n: int) -> None:
                answer = client.post("/api/v1/orders", json=_api_body(n, 1), headers=auth_header)
                assert answer.status_code == 201, answer.text

            def hook(n: int) -> None:
                raw = json.dumps(_shopify_body(n, 1)).encode()
                digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()
                headers = {
                    "Content-Type": "application/json",
                    "X-Shopify-Topic": "orders/create",
                    "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
                    "X-Shopify-Webhook-Id": f"bench-{n}",
                    "X-Shopify-Shop-Domain": "bench.myshopify.com",
                }
                answer = client.post(path, content=raw, headers=headers)
                assert answer.status_code == 200, answer.text
                assert answer.json()["status"] == "processed", answer.text

            for n in range(20):  # warm both paths (imports, caches, prepared plans)
                api(1_000_000 + n)
                hook(1_000_000 + n)
            for turn in range(args.turns):
                for kind, send in (("api", api), ("webhook", hook)):
                    if pool is not None:
                        pool.current = profiles[kind]
                    started, sent = time.process_time(), statements[0]
                    for _ in range(args.block):
                        counters[kind] += 1
                        send(counters[kind])
                    if pool is not None:
                        pool.current = None
                    took = (time.process_time() - started) / args.block * 1000
                    per_request[kind].append(took)
                    sql[kind].append((statements[0] - sent) / args.block)
                    print(
                        f"turn {turn + 1} {kind}: {took:.2f} ms CPU, "
                        f"{sql[kind][-1]:.2f} SQL statements per request",
                        flush=True,
                    )
        with session_scope(settings, write=False) as s:
            stored = s.scalar(select(func.count()).select_from(Order))
        api_ms = statistics.median(per_request["api"])
        hook_ms = statistics.median(per_request["webhook"])
        api_sql, hook_sql = statistics.median(sql["api"]), statistics.median(sql["webhook"])
        print(
            f"\nmedian CPU per request: API {api_ms:.2f} ms, webhook {hook_ms:.2f} ms; "
            f"webhook / API = {hook_ms / api_ms:.2f}; SQL statements per request: API "
            f"{api_sql:.2f}, webhook {hook_sql:.2f}; orders stored {stored}; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        if args.json:
            figures = {
                "api_ms": api_ms,
                "webhook_ms": hook_ms,
                "ratio": hook_ms / api_ms,
                "api_sql": api_sql,
                "webhook_sql": hook_sql,
                "load": os.getloadavg()[0],
            }
            print(json.dumps(figures))
        if args.profile:
            for kind, profile in profiles.items():
                print(f"\n===== {kind}: by own time")
                pstats.Stats(profile).sort_stats("tottime").print_stats(30)
                print(f"\n===== {kind}: cumulative")
                pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
    finally:
        dispose_engines()
        drop_database(url)


if __name__ == "__main__":
    main()
