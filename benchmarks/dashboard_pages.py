"""Dashboard pages on a store of 1,000,000 customers (PostgreSQL), as a manager opens them.

    .venv/bin/python benchmarks/dashboard_pages.py [--database wafa_bench_analytics] [--rounds 5]

Uses the database ``benchmarks/analytics_refresh.py --keep`` leaves behind (1,000,000
customers, 4.9 M orders, one analytics refresh). A fresh ``wafa serve`` (one worker, no
background worker) is started on loopback, a manager logs in, and each page is fetched
once right after start ("first": what the first visitor waits, including the figures
the server then keeps) and ``--rounds`` more times (median). A page counts only when it
answers 200 with its content.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx2 as httpx
from _common import ADMIN_URL, free_port, wait_for, write_section
from sqlalchemy import create_engine, select, text

from wafa.analytics.tables import AnalyticsRun
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.customers.models import Customer

ROOT = Path(__file__).resolve().parent


def page_list(settings: Settings) -> list[tuple[str, str]]:
    """(label, path) of the pages timed; a customer and a search word come from the store."""
    with session_scope(settings, write=False) as s:
        if s.scalar(select(AnalyticsRun.id).limit(1)) is None:
            raise SystemExit("no analytics refresh in this database: run analytics_refresh.py")
        customer = s.scalars(
            select(Customer).where(Customer.name.is_not(None)).order_by(Customer.id).limit(1)
        ).one()
    word = (customer.name or "").split()[0]
    return [
        ("overview", "/"),
        ("customers list", "/customers"),
        (f"customer search ({word!r})", f"/customers?q={word}"),
        ("customer profile", f"/customers/{customer.id}"),
        ("orders list", "/orders"),
        ("analytics", "/analytics"),
        ("loyalty", "/loyalty"),
    ]


def login(client: httpx.Client, email: str, password: str) -> None:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    data = {"email": email, "password": password}
    if token:
        data["csrf_token"] = token.group(1)
    # Not following the redirect: the overview it leads to is timed below, first visit.
    answer = client.post("/login", data=data, follow_redirects=False)
    if answer.status_code != 303 or answer.headers.get("location", "").endswith("/login"):
        raise SystemExit(f"login failed: {answer.status_code}")


def fetch(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    answer = client.get(path)
    elapsed = time.perf_counter() - started
    if answer.status_code != 200 or "<main" not in answer.text:
        raise SystemExit(f"{path} answered {answer.status_code}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="wafa_bench_analytics")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "dashboard.md")
    args = parser.parse_args()
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{args.database}"
    settings = Settings.model_validate({"database_url": url})
    pages = page_list(settings)
    with create_engine(url).connect() as conn:
        customers = conn.execute(text("SELECT count(*) FROM customers")).scalar_one()
        orders = conn.execute(text("SELECT count(*) FROM orders")).scalar_one()
    email, password = f"bench-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4().hex
    with session_scope(settings) as s:
        auth.create_user(s, email=email, password=password, role=Role.manager, name="Bench")
    port = free_port()
    env = {**os.environ, "WAFA_DATABASE_URL": url, "WAFA_ENVIRONMENT": "production",
           "WAFA_SECRET_KEY": uuid.uuid4().hex * 2}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "wafa.cli", "serve", "--port", str(port), "--workers", "1",
         "--no-access-log", "--no-worker"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    rows = []
    try:
        wait_for(port, server)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=300, follow_redirects=True
        ) as client:
            login(client, email, password)
            firsts = {path: fetch(client, path) for _, path in pages}
            for label, path in pages:
                times = [fetch(client, path) for _ in range(args.rounds)]
                rows.append((label, firsts[path], statistics.median(times)))
                print(f"{label:40s} first {firsts[path]:7.3f} s   then {rows[-1][2]:7.3f} s")
    finally:
        server.terminate()
        server.wait(timeout=30)
        with session_scope(settings) as s:
            s.execute(text("DELETE FROM staff_users WHERE email = :e"), {"e": email})
    table = "\n".join(f"| {label} | {first:.3f} | {then:.3f} |" for label, first, then in rows)
    write_section(
        args.out,
        "dashboard_pages",
        f"""### Dashboard pages, {customers:,} customers and {orders:,} orders (PostgreSQL)

Command: `.venv/bin/python benchmarks/dashboard_pages.py --rounds {args.rounds}` (on the database
`benchmarks/analytics_refresh.py --keep` builds). One `wafa serve` worker on loopback, a
manager logged in; "first" is the first request after the server started, "then" the
median of {args.rounds} more. Load average at the end: {os.getloadavg()[0]:.1f}.

| page | first (s) | then (s) |
|---|---:|---:|
{table}
""",
        title="Dashboard",
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
