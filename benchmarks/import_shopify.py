"""Import throughput: a deterministic 1,000,000-line Shopify Orders export into SQLite and PostgreSQL.

    .venv/bin/python benchmarks/import_shopify.py [--lines 1000000] [--runs 1] [--small 100000]
        [--backends sqlite,postgresql] [--out benchmarks/results/import.md]

Each import runs in a child process (the real ``wafa import orders`` code path, via
``import_orders`` in one transaction) against a freshly migrated database; the child
reports its peak resident memory (``VmHWM``). Memory is compared between a small and
the full file to show that it does not grow with the file's size.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from _common import drop_database, empty_database, revision_src

HEADER = [
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code",
    "Discount Amount", "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name",
    "Lineitem price", "Lineitem compare at price", "Lineitem sku", "Lineitem requires shipping",
    "Lineitem taxable", "Lineitem fulfillment status", "Billing Name", "Billing Street",
    "Billing Address1", "Billing Address2", "Billing Company", "Billing City", "Billing Zip",
    "Billing Province", "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street",
    "Shipping Address1", "Shipping Address2", "Shipping Company", "Shipping City",
    "Shipping Zip", "Shipping Province", "Shipping Country", "Shipping Phone", "Notes",
    "Note Attributes", "Cancelled at", "Payment Method", "Payment Reference", "Refunded Amount",
    "Vendor", "Outstanding Balance", "Employee", "Location", "Device ID", "Id", "Tags",
    "Risk Level", "Source", "Lineitem discount", "Tax 1 Name", "Tax 1 Value", "Phone",
]  # fmt: skip
FIRST = [
    "Sara",
    "Omar",
    "Layla",
    "Reza",
    "Maryam",
    "John",
    "Emma",
    "سارا",
    "علی",
    "مریم",
    "فاطمة",
    "یوسف",
]
LAST = ["Ahmadi", "Haddad", "Smith", "Karimi", "Nasser", "رضایی", "الحسن", "محمدی", "Brown"]
PRODUCTS = [(f"SKU-{i:03d}", f"Product {i}", 350 + 25 * (i % 40)) for i in range(200)]


def generate(path: Path, lines: int, seed: int = 7) -> int:
    """Write a Shopify export with ``lines`` data rows; returns the number of orders."""
    rng = np.random.default_rng(seed)
    customers = max(lines // 10, 10)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    written = 0
    order = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        while written < lines:
            order += 1
            n_lines = min(int(rng.integers(1, 5)), lines - written)
            who = int(rng.integers(0, customers))
            guest = rng.random() < 0.03
            email = "" if guest else f"customer{who}@example.com"
            phone = "" if guest or who % 3 else f"+1202555{who % 10000:04d}"
            name = f"{FIRST[who % len(FIRST)]} {LAST[who % len(LAST)]}"
            placed = start + timedelta(minutes=int(order * 0.9))
            stamp = placed.strftime("%Y-%m-%d %H:%M:%S +0000")
            items = [PRODUCTS[int(i)] for i in rng.integers(0, len(PRODUCTS), n_lines)]
            qtys = [int(q) for q in rng.integers(1, 4, n_lines)]
            subtotal = sum(p[2] * q for p, q in zip(items, qtys, strict=True))
            refund = rng.random()
            status = (
                "refunded" if refund < 0.02 else "partially_refunded" if refund < 0.04 else "paid"
            )
            refunded = (
                subtotal
                if status == "refunded"
                else subtotal // 2
                if status == "partially_refunded"
                else 0
            )
            for i, (product, qty) in enumerate(zip(items, qtys, strict=True)):
                row = dict.fromkeys(HEADER, "")
                row.update(
                    {"Name": f"#{1000 + order}", "Email": email, "Created at": stamp,
                     "Lineitem quantity": str(qty), "Lineitem name": product[1],
                     "Lineitem price": f"{product[2] / 100:.2f}", "Lineitem sku": product[0],
                     "Lineitem discount": "0.00", "Lineitem requires shipping": "true",
                     "Lineitem taxable": "true"}
                )  # fmt: skip
                if i == 0:
                    row.update(
                        {"Financial Status": status, "Paid at": stamp, "Fulfillment Status": "fulfilled",
                         "Fulfilled at": stamp, "Accepts Marketing": "yes" if who % 2 else "no",
                         "Currency": "USD", "Subtotal": f"{subtotal / 100:.2f}", "Shipping": "0.00",
                         "Taxes": "0.00", "Total": f"{subtotal / 100:.2f}", "Discount Amount": "0.00",
                         "Billing Name": name, "Billing City": "Dubai", "Billing Phone": phone,
                         "Shipping Name": name, "Shipping Address1": "1 Main St", "Shipping City": "Dubai",
                         "Shipping Country": "AE", "Refunded Amount": f"{refunded / 100:.2f}",
                         "Id": str(5_000_000 + order), "Source": "pos" if order % 4 == 0 else "web",
                         "Payment Method": "Card", "Risk Level": "Low"}
                    )  # fmt: skip
                out.writerow([row[h] for h in HEADER])
                written += 1
    return order


CHILD = r"""
import json, os, sys, time
from pathlib import Path
from sqlalchemy import text
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.orders.importing.pipeline import import_orders
url, path = sys.argv[1], Path(sys.argv[2])
settings = Settings(_env_file=None, database_url=url, currency="USD", phone_region="US")
tick = os.sysconf("SC_CLK_TCK")

def server_cpu(pid):
    if pid is None:
        return 0.0
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick

started, cpu = time.perf_counter(), time.process_time()
with session_scope(settings) as session:
    pid = session.execute(text("select pg_backend_pid()")).scalar() if url.startswith("postgresql") else None
    server = server_cpu(pid)
    report = import_orders(session, path, fmt="shopify", settings=settings)
    server = server_cpu(pid) - server
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"seconds": seconds, "cpu": cpu, "server_cpu": server, "load": os.getloadavg()[0],
                  "lines": report.lines - 1, "orders": report.stats.orders_created,
                  "customers": report.stats.customers_created, "peak_kib": hwm}))
"""


def database(backend: str, tmp: Path, env: dict[str, str]) -> tuple[str, bool]:
    """A freshly migrated database for one run: its URL, and whether it is PostgreSQL.

    It is migrated by the code the run imports (``env``'s ``PYTHONPATH``), so that an
    earlier revision writes to the schema it knows.
    """
    if backend == "sqlite":
        url = f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:8]}.db'}"
    else:
        url = empty_database("wafa_bench")
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from wafa.core import migrate; migrate.upgrade(sys.argv[1])",
            url,
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    return url, backend != "sqlite"


def run_once(backend: str, path: Path, tmp: Path, src: Path | None = None) -> dict[str, float]:
    """Import ``path`` once in a child process (``src``: an earlier revision's code)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    url, postgres = database(backend, tmp, env)
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, url, str(path)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
    finally:
        if postgres:
            drop_database(url)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def summarise(backend: str, size: int, code: str, runs: list[dict[str, float]]) -> dict[str, Any]:
    """One table row: medians over ``runs`` of one backend, file size and code."""
    return {
        "backend": backend,
        "code": code,
        "size": size,
        "runs": len(runs),
        "orders": runs[0]["orders"],
        "customers": runs[0]["customers"],
        "seconds": statistics.median(r["seconds"] for r in runs),
        "rate": statistics.median(r["lines"] / r["seconds"] for r in runs),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "server": statistics.median(r["server_cpu"] for r in runs),
        "cpu_rate": statistics.median(r["lines"] / (r["cpu"] + r["server_cpu"]) for r in runs),
        "load": statistics.median(r["load"] for r in runs),
        "peak": max(r["peak_kib"] for r in runs) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--before",
        help="Also import with this earlier git revision, alternating with this checkout.",
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/wafa-bench"))
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/import.md"))
    args = parser.parse_args()
    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        files = {}
        for size in sorted({args.small, args.lines}):
            path = tmp / f"orders-{size}.csv"
            t0 = time.perf_counter()
            orders = generate(path, size)
            print(
                f"generated {size:,} lines ({orders:,} orders, {path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s",
                flush=True,
            )
            files[size] = path
        rows = []
        sides: dict[str, Path | None] = {"now": None}
        if args.before:
            sides[f"before ({args.before})"] = revision_src(args.before, args.workdir)
        for backend in backends:
            for size, path in files.items():
                results: dict[str, list[dict[str, float]]] = {code: [] for code in sides}
                for _ in range(args.runs if size == args.lines else 1):
                    for code, src in sides.items():  # alternating: the same load for both
                        results[code].append(run_once(backend, path, tmp, src))
                for code, runs in results.items():
                    rows.append(summarise(backend, size, code, runs))
                    print(
                        "{backend:<10} {code:<10} {size:>9,} lines  {seconds:7.1f} s  "
                        "{rate:9,.0f} lines/s  cpu {cpu:6.1f} s + db {server:5.1f} s = "
                        "{cpu_rate:7,.0f} lines/cpu-s  load {load:4.1f}  peak RSS {peak:5.0f} MiB  "
                        "(runs: {runs})".format(**rows[-1]),
                        flush=True,
                    )
    command = "python benchmarks/import_shopify.py " + " ".join(sys.argv[1:])
    lines = [
        "## Import throughput (Shopify Orders export)",
        "",
        f"Command: `{command.strip()}` on {os.cpu_count()} cores. A deterministic Shopify export "
        "(1-4 line items per order, one customer per ten lines, 3 % guests, 4 % refunds, Arabic and "
        "Persian names) is imported in one transaction by `import_orders` (the code behind "
        "`wafa import orders --format shopify`) into a freshly migrated database, in a child process "
        "whose peak resident memory (VmHWM) is reported. `cpu` is the importer's CPU time, `db` the "
        "PostgreSQL backend's; lines per CPU-second is what an otherwise idle machine would reach "
        "when the two do not overlap; `load` is the machine's 1-minute load average at the end of the run.",
        "",
        "| backend | code | lines | orders | customers | seconds | lines/s | cpu s | db cpu s | lines/cpu-s | load | peak RSS |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            "| {backend} | {code} | {size:,} | {orders:,} | {customers:,} | {seconds:.1f} | {rate:,.0f} | "
            "{cpu:.1f} | {server:.1f} | {cpu_rate:,.0f} | {load:.1f} | {peak:.0f} MiB |".format(
                **row
            )
        )
    lines += [
        "",
        "Seconds and lines/s are medians over the runs of the full file; target ≥ 20,000 lines/s "
        "with memory that does not grow with the file's size (compare the two sizes).",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
