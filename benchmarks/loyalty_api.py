"""Orders/s through ``POST /api/v1/orders`` with loyalty accrual and without, in one run.

    .venv/bin/python benchmarks/loyalty_api.py [--duration 15] [--runs 3] [--connections 16]
        [--api-workers 1] [--out benchmarks/results/loyalty_api.md]

Each round serves Wafa with uvicorn (a subprocess) on a fresh PostgreSQL database
with a loyalty program (points, tiers, a stamp card) and drives it with ``wrk`` on
loopback: every request is a new order (unique external id) from one of 2,000
returning customers. "without" is the API alone (the events wait in the outbox);
"with" also runs ``wafa worker run`` (another subprocess) during the load, and the
round ends only when the worker has accrued every order: its throughput is orders
divided by the time until the last one earned its points. Rounds alternate
without/with so both see the same machine.

The machine may be shared, so besides wall-clock rates the script reports CPU
seconds per order of each process (API, worker, PostgreSQL backends), which do
not depend on what else is running.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx2 as httpx
from _common import (
    ADMIN_URL,
    drop_database,
    free_port,
    fresh_database,
    orders_lua,
    wait_for,
    write_section,
)
from sqlalchemy import create_engine, func, select, text

from wafa.auth import service as auth
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.loyalty import program, rewards, stamps
from wafa.loyalty.models import Purchase
from wafa.loyalty.schemas.io import RewardCreate, StampCardCreate
from wafa.loyalty.schemas.program import ProgramRules
from wafa.orders.models import Order

ROOT = Path(__file__).resolve().parent

TICK = os.sysconf("SC_CLK_TCK")


def setup_program(settings: Settings) -> str:
    """A café program (1 point per dollar, tiers by spend, a stamp card) and an API key."""
    with session_scope(settings) as s:
        free = rewards.create_reward(
            s, settings=settings, data=RewardCreate(name="Free cup", kind="gift", cost_points=0)
        )
        program.save_rules(
            s,
            rules=ProgramRules.model_validate(
                {
                    "multipliers": [
                        {"name": "beans", "multiplier_bp": 20000, "categories": ["beans"]}
                    ],
                    "bonuses": {"first_order": 25},
                    "expiry": {"policy": "fixed", "months": 12},
                    "tiers": {
                        "enabled": True,
                        "basis": "spend",
                        "levels": [
                            {"code": "silver", "name": "Silver", "threshold": 20_000},
                            {"code": "gold", "name": "Gold", "threshold": 60_000},
                        ],
                    },
                }
            ),
            by="bench",
        )
        stamps.create_card(
            s,
            data=StampCardCreate(
                name="Cups",
                stamps_required=10,
                per="item",
                categories=["coffee"],
                reward_id=free.id,
            ),
        )
        _, token = auth.create_api_key(s, name="bench", scopes=["read", "write"])
    return token


def cpu_of(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by ``pids`` and their reaped children."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += sum(int(f) for f in fields[11:15]) / TICK
    return total


def children(pid: int) -> list[int]:
    found = [pid]
    for child in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int(Path(child, "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ValueError, IndexError):
            continue
        if ppid == pid:
            found.append(int(child.name))
    return found


def backends(url: str) -> list[int]:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        pids = [
            int(p)
            for p in conn.execute(
                text("select pid from pg_stat_activity where datname = :n"), {"n": name}
            ).scalars()
        ]
    admin.dispose()
    return pids


def counts(settings: Settings) -> tuple[int, int]:
    """Orders of customers (the ones that earn points) and orders accrued."""
    with session_scope(settings, write=False) as s:
        orders = int(
            s.scalar(select(func.count()).select_from(Order).where(Order.customer_id.is_not(None)))
            or 0
        )
        accrued = int(s.scalar(select(func.count()).select_from(Purchase)) or 0)
    return orders, accrued


def round_(
    mode: str, *, duration: int, connections: int, api_workers: int, port: int
) -> dict[str, float]:
    port = port or free_port()
    url = fresh_database("wafa_loyalty_bench")
    settings = Settings.model_validate({"database_url": url})
    with contextlib.ExitStack() as stack:
        stack.callback(drop_database, url)
        token = setup_program(settings)
        log = stack.enter_context(tempfile.TemporaryFile())
        env = {**os.environ, "WAFA_DATABASE_URL": url, "WAFA_ENVIRONMENT": "production",
               "WAFA_SECRET_KEY": uuid.uuid4().hex * 2}  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "wafa.cli", "serve", "--port", str(port), "--workers",
             str(api_workers), "--no-access-log", "--no-worker"],
            env=env, stdout=subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        worker = None
        try:
            try:
                wait_for(port, server)
            except RuntimeError:
                log.seek(0)
                raise RuntimeError(
                    f"the server did not start:\n{log.read().decode()[-2000:]}"
                ) from None
            probe = httpx.post(
                f"http://127.0.0.1:{port}/api/v1/orders",
                headers={"Authorization": f"Bearer {token}"},
                json={"source": "probe", "external_id": "probe", "channel": "online",
                      "placed_at": "2026-05-01T10:00:00+00:00", "currency": "USD",
                      "lines": [{"name": "x", "quantity": 1, "unit_price": 1}]},
            )  # fmt: skip
            if probe.status_code != 201:
                raise RuntimeError(f"the API refused an order: {probe.status_code} {probe.text}")
            api_pids = children(server.pid)
            if mode == "with":
                worker = subprocess.Popen(
                    [sys.executable, "-m", "wafa.cli", "worker", "run", "--poll", "0.2"],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                time.sleep(2)  # its start-up pass (today's daily jobs on an empty store)
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
                lua.write(orders_lua(categories=True))
            pg = backends(url)
            api0, worker0, pg0 = (
                cpu_of(api_pids),
                cpu_of([worker.pid] if worker else []),
                cpu_of(pg),
            )
            started = time.monotonic()
            out = subprocess.run(
                ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", lua.name,
                 "-H", f"Authorization: Bearer {token}", "-H", "Content-Type: application/json",
                 f"http://127.0.0.1:{port}"],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            os.unlink(lua.name)
            loaded = time.monotonic() - started
            orders, accrued = counts(settings)
            if not orders:
                raise RuntimeError(f"no order was stored; wrk said:\n{out}")
            if worker is not None:
                while accrued < orders:
                    if worker.poll() is not None:
                        raise RuntimeError(f"the worker stopped (exit {worker.returncode})")
                    if time.monotonic() - started > 20 * duration + 60:
                        raise RuntimeError(f"the worker accrued {accrued} of {orders} orders")
                    time.sleep(0.1)
                    orders, accrued = counts(settings)
            finished = time.monotonic() - started
            pg = sorted(set(pg) | set(backends(url)))
            print(f"  {len(pg)} PostgreSQL backends measured", flush=True)
            api_cpu = cpu_of(api_pids) - api0
            worker_cpu = cpu_of([worker.pid]) - worker0 if worker else 0.0
            pg_cpu = cpu_of(pg) - pg0
            non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
            return {
                "orders": orders,
                "accrued": accrued,
                "api_rps": orders / loaded,
                "effective_rps": orders / finished,
                "catch_up_s": finished - loaded,
                "api_cpu_ms": 1000 * api_cpu / orders,
                "worker_cpu_ms": 1000 * worker_cpu / orders,
                "pg_cpu_ms": 1000 * pg_cpu / orders,
                "errors": float(non2xx.group(1)) if non2xx else 0.0,
                "load": os.getloadavg()[0],
            }
        finally:
            for proc in (worker, server):
                if proc is not None:
                    proc.terminate()
                    proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--api-workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=0, help="0: any free port.")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "loyalty.md")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"without": [], "with": []}
    for i in range(args.runs):
        for mode in ("without", "with"):
            r = round_(mode, duration=args.duration, connections=args.connections,
                       api_workers=args.api_workers, port=args.port)  # fmt: skip
            results[mode].append(r)
            print(
                f"round {i + 1} {mode:7}: " + ", ".join(f"{k} {v:.2f}" for k, v in r.items()),
                flush=True,
            )
    med = {m: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for m, rs in results.items()}
    # Each "with" round ran right after its "without" round: compare them in pairs.
    pairs = [
        w["effective_rps"] / o["api_rps"]
        for o, w in zip(results["without"], results["with"], strict=True)
    ]
    ratio = statistics.median(pairs)
    cpu_without = med["without"]["api_cpu_ms"] + med["without"]["pg_cpu_ms"]
    cpu_with = med["with"]["api_cpu_ms"] + med["with"]["worker_cpu_ms"] + med["with"]["pg_cpu_ms"]
    cmd = (
        f".venv/bin/python benchmarks/loyalty_api.py --duration {args.duration} --runs {args.runs} "
        f"--connections {args.connections} --api-workers {args.api_workers}"
    )
    lines = [
        "### Orders through the API, with and without loyalty accrual (PostgreSQL)",
        "",
        f"Command: `{cmd}`",
        "",
        f"wrk on loopback, {args.connections} connections, {args.api_workers} uvicorn worker(s), "
        f"{args.runs} alternating rounds of {args.duration} s, fresh database each; medians. "
        '"with" runs `wafa worker run` during the load and counts an order only once it has '
        "earned its points (the round ends when the worker has caught up).",
        "",
        "| | orders/s (accrued) | API orders/s | API CPU ms/order | worker CPU ms/order | PostgreSQL CPU ms/order | orders | machine load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for mode, label in (("without", "without loyalty"), ("with", "with loyalty accrual")):
        m = med[mode]
        rate = m["api_rps"] if mode == "without" else m["effective_rps"]
        lines.append(
            f"| {label} | {rate:.0f} | {m['api_rps']:.0f} | {m['api_cpu_ms']:.2f} | {m['worker_cpu_ms']:.2f} | "
            f"{m['pg_cpu_ms']:.2f} | {m['orders']:.0f} | {m['load']:.1f} |"
        )
    lines += [
        "",
        f"Throughput with accrual (orders that have earned their points, per second) is "
        f"**{100 * ratio:.0f}%** of the throughput without, median of the paired rounds "
        f"(accrual costs {100 * (1 - ratio):.0f}%; target: under 30%); per round: "
        + ", ".join(f"{100 * p:.0f}%" for p in pairs)
        + ". The API alone, while the worker runs beside it, keeps "
        f"{100 * med['with']['api_rps'] / med['without']['api_rps']:.0f}% of its rate. By CPU, which does not "
        f"depend on the machine's other load: {cpu_without:.2f} ms per order without, "
        f"{cpu_with:.2f} ms with, so accrual adds {100 * (cpu_with - cpu_without) / cpu_with:.0f}% "
        "of the work per order.",
        "",
    ]
    write_section(args.out, "loyalty_api", "\n".join(lines), title="Loyalty engine")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
