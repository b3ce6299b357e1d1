"""The dashboard's customer list on a store of 100,000 customers: each sort both ways, a
deep page, and the filters (PostgreSQL).

    .venv/bin/python benchmarks/customer_list.py [--customers 100000] [--runs 5] [--keep]

The store is the segment benchmark's (``segments_count.fill``: customers with city, tags
and consent, about 4.9 orders each, loyalty accounts for 70 %, one analytics refresh's
scores), then the order figures are rebuilt. Each case is one page of 25 through the real
query (``wafa.people.queries.directory``: the filters compiled as a segment rule, the
count, one page by offset, the page's order totals), in a new read session. Medians of
``--runs``; the first run apart (cold caches).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

from _common import drop_database, fresh_database, write_section
from segments_count import NOW, _pg_version, count_rows, fill
from sqlalchemy import create_engine, text

from wafa.core.db import dispose_engines, session_scope
from wafa.core.settings import Settings
from wafa.loyalty import program
from wafa.loyalty.schemas.program import ProgramRules
from wafa.messaging.segments import stats
from wafa.people import queries

ROOT = Path(__file__).resolve().parent

F = queries.ListFilters
CASES: list[tuple[str, queries.ListQuery, int]] = [
    ("newest first", queries.ListQuery(), 1),
    ("newest first, page 2,000", queries.ListQuery(), 2000),
    ("name A-Z", queries.ListQuery(sort="name", descending=False), 1),
    ("name A-Z, page 2,000", queries.ListQuery(sort="name", descending=False), 2000),
    ("last order, latest first", queries.ListQuery(sort="last_order"), 1),
    ("last order, earliest first", queries.ListQuery(sort="last_order", descending=False), 1),
    ("spend, highest first", queries.ListQuery(sort="spend"), 1),
    ("spend, highest first, page 2,000", queries.ListQuery(sort="spend"), 2000),
    ("spend, lowest first", queries.ListQuery(sort="spend", descending=False), 1),
    ("points, most first", queries.ListQuery(sort="points"), 1),
    ("search 'customer 12' by spend", queries.ListQuery(q="customer 12", sort="spend"), 1),
    ("tier gold", queries.ListQuery(filters=F(tier="gold")), 1),
    ("tag vip, by spend", queries.ListQuery(filters=F(tag="vip"), sort="spend"), 1),
    (
        "city Tehran + email consent",
        queries.ListQuery(filters=F(city="Tehran", consent="email")),
        1,
    ),
    ("spent 100-500", queries.ListQuery(filters=F(spend_min=10_000, spend_max=50_000)), 1),
    (
        "last order in 2025, by last order",
        queries.ListQuery(
            filters=F(last_from=date(2025, 1, 1), last_to=date(2025, 12, 31)), sort="last_order"
        ),
        1,
    ),
    ("RFM at risk, by points", queries.ListQuery(filters=F(rfm="at_risk"), sort="points"), 1),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database", help="reuse a database this script kept (--keep)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    from wafa.core import time as wafa_time

    wafa_time.set_clock(lambda: NOW)
    if args.database:
        url = os.environ.get(
            "WAFA_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        )
        url = url.rsplit("/", 1)[0] + "/" + args.database
    else:
        url = fresh_database("wafa_bench_customer_list")
        print(f"database {url.rsplit('/', 1)[1]}: loading {args.customers:,} customers", flush=True)
        fill(url, args.customers)
    settings = Settings.model_validate(
        {
            "database_url": url,
            "environment": "test",
            "secret_key": "x" * 40,
            "timezone": "Asia/Tehran",
            "currency": "USD",
        }
    )
    try:
        if not args.database:
            with session_scope(settings) as s:
                program.save_rules(
                    s,
                    rules=ProgramRules.model_validate(
                        {
                            "tiers": {
                                "enabled": True,
                                "levels": [
                                    {"code": "bronze", "name": "Bronze", "threshold": 0},
                                    {"code": "silver", "name": "Silver", "threshold": 1000},
                                    {"code": "gold", "name": "Gold", "threshold": 5000},
                                ],
                            }
                        }
                    ),
                    by="bench",
                )
            with session_scope(settings) as s:
                stats.rebuild(s, currency="USD")
            engine = create_engine(url, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text("VACUUM ANALYZE"))
            engine.dispose()
        rows = count_rows(url)
        results = []
        for label, query, page_no in CASES:
            times = []
            total = 0
            for _ in range(args.runs + 1):
                started = time.perf_counter()
                with session_scope(settings, write=False) as s:
                    page = queries.directory(
                        s, q=query.q, limit=25, settings=settings, query=query, page=page_no
                    )
                    total = page.total
                times.append(time.perf_counter() - started)
            median = statistics.median(times[1:])
            results.append((label, total, times[0], median, max(times[1:])))
            print(
                f"  {label}: {total:,}, first {times[0]:.3f} s, median {median:.3f} s", flush=True
            )
        load_avg = os.getloadavg()[0]
        lines = [
            f"### The customer list, {rows['customers']:,} customers, {rows['orders']:,} orders "
            "(PostgreSQL)",
            "",
            f"Command: `.venv/bin/python benchmarks/customer_list.py --customers {args.customers} "
            f"--runs {args.runs}`. PostgreSQL {_pg_version(url)}, default settings; 2 cores. "
            "One page of 25 through `wafa.people.queries.directory` (filters compiled as a "
            "segment rule, the count, the page by offset, the page's order totals) in a new "
            f"read session; the first run apart, then the median and the slowest of {args.runs}. "
            f"Load average at the end: {load_avg:.1f}.",
            "",
            "| list | customers | first (s) | median (s) | slowest (s) |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {lbl} | {n:,} | {first:.3f} | {med:.3f} | {worst:.3f} |"
            for lbl, n, first, med, worst in results
        ]
        write_section(
            ROOT / "results" / "dashboard.md",
            "customer_list",
            "\n".join(lines),
            title="Dashboard",
        )
        print("\n".join(lines))
    finally:
        dispose_engines()
        if not args.keep and not args.database:
            drop_database(url)


if __name__ == "__main__":
    sys.exit(main())
