"""The portal's home page under load on PostgreSQL: throughput, latency percentiles and weight.

    .venv/bin/python benchmarks/portal_home.py [--customers 1000000] [--members 50]
        [--connections 50] [--seconds 20] [--keep]

A fresh database gets ``--customers`` customer rows (one ``INSERT … SELECT
generate_series``), then ``--members`` of them get points through the loyalty service and
the catalogue three rewards. A fresh ``wafa serve`` (one worker, no background worker) runs
on loopback; each member signs in by a real sign-in link. ``--connections`` threads, each a
signed-in member's browser, then ask for ``/portal/`` back to back for ``--seconds`` (after
one warm-up round); every answer must be 200 with the balance on it. Reported: requests a
second, p50/p95/p99 latency, and the page's weight (HTML and CSS; no script, no image, no
font). The load generator runs on the same machine as the server and the database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import httpx2 as httpx
from _common import drop_database, free_port, fresh_database, wait_for, write_section
from sqlalchemy import create_engine, text

from wafa.core.db import dispose_engines, session_scope
from wafa.core.settings import Settings
from wafa.loyalty import rewards
from wafa.loyalty import service as loyalty
from wafa.loyalty.schemas.io import RewardCreate
from wafa.portal import access

ROOT = Path(__file__).resolve().parent

FILL = """
INSERT INTO customers (id, name, search_name, email, tags, source, email_consent,
                       sms_consent, created_at, updated_at)
SELECT gen_random_uuid(), 'Customer ' || n, 'customer ' || n, 'c' || n || '@bench.example',
       '[]', 'bench', false, false, now(), now()
FROM generate_series(CAST(:start AS integer), CAST(:stop AS integer)) AS n
"""


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
        ids = list(
            s.scalars(text("SELECT id FROM customers ORDER BY email LIMIT :n"), {"n": count})
        )
        for i, cid in enumerate(ids):
            loyalty.adjust(
                s, settings=settings, customer_id=cid, points=100 + 37 * i, reason="b", by="b"
            )
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "portal.md")
    args = parser.parse_args()
    url = fresh_database("wafa_bench_portal")
    secret = uuid.uuid4().hex * 2
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    settings = Settings.model_validate(
        {"database_url": url, "secret_key": secret, "public_url": public}
    )
    server = None
    try:
        filled = fill(url, args.customers)
        print(f"{args.customers:,} customers in {filled:.1f} s")
        ids = members(settings, args.members)
        with session_scope(settings) as s:
            links = [access.issue_link(s, settings=settings, customer_id=c).url for c in ids]
        dispose_engines()
        env = {**os.environ, "WAFA_DATABASE_URL": url, "WAFA_ENVIRONMENT": "production",
               "WAFA_SECRET_KEY": secret, "WAFA_PUBLIC_URL": public}  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "wafa.cli", "serve", "--port", str(port), "--workers", "1",
             "--no-access-log", "--no-worker"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(port, server)
        signed: list[httpx.Client] = []
        for link in links:
            client = httpx.Client(base_url=public, timeout=30)
            client.get(urlparse(link).path)  # signs in: the cookie stays in the client
            signed.append(client)
        clients = signed + [
            httpx.Client(base_url=public, timeout=30, cookies=signed[i % len(signed)].cookies)
            for i in range(max(0, args.connections - len(signed)))
        ]
        clients = clients[: args.connections]
        first = clients[0].get("/portal/")
        if first.status_code != 200 or 'data-testid="available"' not in first.text:
            raise SystemExit(f"the home page answered {first.status_code}")
        css_path = first.text.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
        css = clients[0].get(css_path).content
        for client in clients:  # warm-up round
            assert client.get("/portal/").status_code == 200
        times: list[float] = []
        errors = [0]
        lock = threading.Lock()
        stop_at = time.perf_counter() + args.seconds

        def run(client: httpx.Client) -> None:
            mine: list[float] = []
            bad = 0
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                answer = client.get("/portal/")
                mine.append(time.perf_counter() - t0)
                if answer.status_code != 200 or 'data-testid="available"' not in answer.text:
                    bad += 1
            with lock:
                times.extend(mine)
                errors[0] += bad

        started = time.perf_counter()
        threads = [threading.Thread(target=run, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        load = os.getloadavg()[0]
        qs = statistics.quantiles(times, n=100)
        rps = len(times) / elapsed
        p50, p95, p99 = qs[49] * 1000, qs[94] * 1000, qs[98] * 1000
        html = len(first.content)
        print(f"{rps:.0f} req/s  p50 {p50:.0f} ms  p95 {p95:.0f} ms  p99 {p99:.0f} ms  "
              f"errors {errors[0]}  html {html} B  css {len(css)} B  load {load:.1f}")  # fmt: skip
        write_section(
            args.out,
            f"portal_home_c{args.connections}",
            f"""### Portal home page, {args.customers:,} customers, {args.connections} connections (PostgreSQL)

Command: `.venv/bin/python benchmarks/portal_home.py --customers {args.customers} --connections
{args.connections} --seconds {args.seconds:g}`. One `wafa serve` worker on loopback; {args.connections}
signed-in browsers ({len(links)} members) asking for `/portal/` back to back for
{args.seconds:g} s, the load generator on the same machine. Load average at the end: {load:.1f}
(on a shared 2-core machine).

| requests/s | p50 (ms) | p95 (ms) | p99 (ms) | errors | HTML (bytes) | CSS (bytes) |
|---:|---:|---:|---:|---:|---:|---:|
| {rps:.0f} | {p50:.0f} | {p95:.0f} | {p99:.0f} | {errors[0]} | {html:,} | {len(css):,} |
""",
            title="Portal",
        )
        print(f"wrote {args.out}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
