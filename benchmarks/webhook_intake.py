"""Shopify webhook intake against ``POST /api/v1/orders`` on PostgreSQL, the same load.

Each request is a new two-line order by one of 2,000 returning customers: once as an API
order (bearer key), once as a signed ``orders/create`` webhook in Shopify's REST shape
(its own ``X-Shopify-Webhook-Id``, HMAC-SHA256 of the body). The two are run in turns
(``--rounds``), each on a fresh database, driven by the same Python client (threads with
one HTTP connection each), so the ratio is fair even where the client's own cost counts.
Run::

    .venv/bin/python benchmarks/webhook_intake.py [--duration 10] [--rounds 2] [--clients 16]

Needs PostgreSQL on 127.0.0.1:5432. Prints requests/s and latency percentiles of both and
writes ``benchmarks/results/webhooks.md``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx2 as httpx
from _common import drop_database, free_port, fresh_database, wait_for
from sqlalchemy import func, select

from wafa.auth import service as auth
from wafa.core.db import dispose_engines, session_scope
from wafa.core.sealing import generate_key
from wafa.core.settings import Settings
from wafa.integrations import connections
from wafa.orders.models import Order

ROOT = Path(__file__).resolve().parent
SECRET = "shpss_benchmark_secret"


def _api_body(n: int, tid: int) -> dict[str, object]:
    c = (n * 7919) % 2000
    return {
        "source": "bench",
        "external_id": f"{tid}-{n}",
        "channel": "online",
        "placed_at": "2026-05-01T10:00:00+00:00",
        "currency": "USD",
        "customer": {"email": f"c{c}@bench.example.com", "name": f"Customer {c}"},
        "lines": [
            {"sku": f"SKU-{n % 50}", "name": "Beans", "quantity": 2, "unit_price": 1250},
            {"sku": f"SKU-{(n + 7) % 50}", "name": "Cup", "quantity": 1, "unit_price": 450},
        ],
    }


def _shopify_body(n: int, tid: int) -> dict[str, object]:
    c = (n * 7919) % 2000
    return {
        "id": tid * 10_000_000 + n,
        "name": f"#{tid}-{n}",
        "email": f"c{c}@bench.example.com",
        "created_at": "2026-05-01T10:00:00+00:00",
        "updated_at": "2026-05-01T10:00:00+00:00",
        "currency": "USD",
        "financial_status": "pending",
        "fulfillment_status": None,
        "source_name": "web",
        "total_price": "29.50",
        "subtotal_price": "29.50",
        "total_discounts": "0.00",
        "total_tax": "0.00",
        "billing_address": {"name": f"Customer {c}"},
        "line_items": [
            {"id": 1, "name": "Beans", "sku": f"SKU-{n % 50}", "quantity": 2, "price": "12.50"},
            {"id": 2, "name": "Cup", "sku": f"SKU-{(n + 7) % 50}", "quantity": 1, "price": "4.50"},
        ],
        "refunds": [],
    }


Request = Callable[[httpx.Client, int, int], httpx.Response]


def _drive(base: str, send: Request, *, clients: int, duration: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop = time.monotonic() + duration

    def client(tid: int) -> None:
        nonlocal errors
        mine: list[float] = []
        bad = 0
        n = 0
        with httpx.Client(base_url=base, timeout=60) as http:
            while time.monotonic() < stop:
                n += 1
                started = time.perf_counter()
                answer = send(http, tid, n)
                mine.append(time.perf_counter() - started)
                bad += not 200 <= answer.status_code < 300
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=client, args=(t + 1,)) for t in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - began
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "rps": len(latencies) / took,
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "requests": float(len(latencies)),
        "errors": float(errors),
    }


def run(kind: str, *, duration: float, clients: int, workers: int) -> dict[str, float]:
    url = fresh_database("wafa_bench_hooks")
    data_keys = generate_key()  # seals the connection's secret; handed to the server too
    settings = Settings.model_validate({"database_url": url, "data_keys": data_keys})
    try:
        with session_scope(settings) as s:
            _, token = auth.create_api_key(s, name="bench", scopes=["read", "write"])
            path = connections.add_connection(
                s, settings=settings, shop="shopify", name="shop", secret=SECRET
            ).path
        port = free_port()
        # The server's CPU (its workers' too, once it has reaped them) is ours to read
        # when it has exited: CPU per request, which a loaded machine changes little.
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        env = {**os.environ, "WAFA_DATABASE_URL": url, "WAFA_DATA_KEYS": data_keys}
        server = subprocess.Popen(
            [sys.executable, "-m", "wafa.cli", "serve", "--port", str(port), "--workers",
             str(workers), "--no-access-log", "--no-worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for(port, server)
            auth_header = {"Authorization": f"Bearer {token}"}

            def api(http: httpx.Client, tid: int, n: int) -> httpx.Response:
                return http.post("/api/v1/orders", json=_api_body(n, tid), headers=auth_header)

            def hook(http: httpx.Client, tid: int, n: int) -> httpx.Response:
                raw = json.dumps(_shopify_body(n, tid)).encode()
                digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()
                headers = {
                    "Content-Type": "application/json",
                    "X-Shopify-Topic": "orders/create",
                    "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
                    "X-Shopify-Webhook-Id": f"bench-{tid}-{n}",
                    "X-Shopify-Shop-Domain": "bench.myshopify.com",
                }
                return http.post(path, content=raw, headers=headers)

            stats = _drive(
                f"http://127.0.0.1:{port}",
                api if kind == "api" else hook,
                clients=clients,
                duration=duration,
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
            cpu_after.ru_stime - cpu_before.ru_stime
        )
        stats["server_cpu_ms"] = server_cpu / max(stats["requests"], 1) * 1000
        with session_scope(settings, write=False) as s:
            stats["stored"] = float(s.scalar(select(func.count()).select_from(Order)) or 0)
        return stats
    finally:
        dispose_engines()
        drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    found: dict[str, list[dict[str, float]]] = {"api": [], "webhook": []}
    for i in range(args.rounds):
        for kind in ("api", "webhook"):
            stats = run(kind, duration=args.duration, clients=args.clients, workers=args.workers)
            print(f"round {i + 1} {kind}: {stats}", flush=True)
            found[kind].append(stats)
    load = os.getloadavg()[0]
    rows = []
    for kind, label in (("api", "`POST /api/v1/orders`"), ("webhook", "Shopify `orders/create`")):
        med = {k: statistics.median(r[k] for r in found[kind]) for k in found[kind][0]}
        once = all(r["stored"] == r["requests"] - r["errors"] for r in found[kind])
        rows.append(
            f"| {label} | {med['rps']:.0f} | {med['p50_ms']:.0f} | {med['p90_ms']:.0f} | "
            f"{med['p99_ms']:.0f} | {med['server_cpu_ms']:.1f} | {med['errors']:.0f} | "
            f"{'yes' if once else 'NO'} |"
        )
    ratio = statistics.median(r["rps"] for r in found["webhook"]) / statistics.median(
        r["rps"] for r in found["api"]
    )
    cpu_ratio = statistics.median(r["server_cpu_ms"] for r in found["webhook"]) / statistics.median(
        r["server_cpu_ms"] for r in found["api"]
    )
    lines = [
        "# Webhook intake against POST /api/v1/orders, PostgreSQL",
        "",
        f"Command: `.venv/bin/python benchmarks/webhook_intake.py --duration {args.duration:g} "
        f"--rounds {args.rounds} --clients {args.clients} --workers {args.workers}`",
        "",
        f"{args.clients} Python clients on loopback, {args.workers} uvicorn workers, the two "
        f"loads in turns, {args.rounds} rounds of {args.duration:g} s each on a fresh database; "
        f"medians. Load average at the end: {load:.1f} (a shared 2-core machine).",
        "",
        "| load | requests/s | p50 ms | p90 ms | p99 ms | server CPU ms/request | non-2xx "
        "| each stored once |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        *rows,
        "",
        f"Webhook throughput / API throughput: **{ratio:.2f}**; server CPU per request, "
        f"webhook / API: **{cpu_ratio:.2f}**.",
    ]
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "webhooks.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
