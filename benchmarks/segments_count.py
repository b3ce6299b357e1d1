"""Counting segments on a store of 1,000,000 customers (PostgreSQL).

    .venv/bin/python benchmarks/segments_count.py [--customers 1000000] [--runs 5] [--keep]

A throwaway database is built by the real migrations and filled in SQL
(``generate_series``; deterministic): customers with city, language, tags, gender,
birthday, consent and source; about 4.9 orders each on average (18 % never ordered),
over two years, 3 % cancelled and 2 % refunded, two lines each from 60 products in 8
categories, online, in one of five shops or by phone; loyalty accounts for 70 % with
points and tiers; badges; and one analytics refresh's scores. Then the order figures are
rebuilt (the worker's daily job, timed: cold, then again with nothing to change), and
each segment below is counted ``--runs`` times through the real service
(``count_rules``: context, compilation, one query). Medians; the first run of each
segment is kept apart (cold caches).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import drop_database, fresh_database, write_section
from sqlalchemy import create_engine, text

from wafa.core.db import dispose_engines, session_scope
from wafa.core.settings import Settings
from wafa.loyalty import program
from wafa.loyalty.schemas.program import ProgramRules
from wafa.messaging.segments import service, stats
from wafa.messaging.segments.rules import parse_rules

ROOT = Path(__file__).resolve().parent
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)

SEGMENTS: list[tuple[str, dict[str, Any]]] = [
    ("everyone", {"all": []}),
    (
        "win-back: 3+ orders, none in 90 days",
        {
            "all": [
                {"field": "orders_count", "op": ">=", "value": 3},
                {"field": "days_since_last_order", "op": ">", "value": 90},
            ]
        },
    ),
    (
        "city + language + email consent",
        {
            "all": [
                {"field": "city", "op": "=", "value": "Tehran"},
                {"field": "language", "op": "=", "value": "fa"},
                {"field": "consent_email", "op": "=", "value": True},
            ]
        },
    ),
    (
        "tier silver+ with 500+ points",
        {
            "all": [
                {"field": "tier", "op": ">=", "value": "silver"},
                {"field": "points_available", "op": ">=", "value": 500},
            ]
        },
    ),
    (
        "at risk, low P(alive), spent 100+",
        {
            "all": [
                {"field": "p_alive", "op": "<", "value": 0.3},
                {"field": "rfm_segment", "op": "in", "value": ["at_risk", "cannot_lose"]},
                {"field": "total_spent", "op": ">", "value": 10000},
            ]
        },
    ),
    (
        "tag vip or badge big_spender",
        {
            "any": [
                {"field": "tags", "op": "contains", "value": "vip"},
                {"field": "badges", "op": "=", "value": "big_spender"},
            ]
        },
    ),
    (
        "birthday this month, email consent",
        {
            "all": [
                {"field": "birthday_month", "op": "=", "value": 3},
                {"field": "consent_email", "op": "=", "value": True},
            ]
        },
    ),
    (
        "bought category beans, 30+ days ago",
        {
            "all": [
                {"field": "bought_category", "op": "=", "value": "beans"},
                {"field": "days_since_last_order", "op": ">=", "value": 30},
            ]
        },
    ),
    (
        "ordered in shop SHOP1",
        {"all": [{"field": "order_location", "op": "=", "value": "SHOP1"}]},
    ),
    (
        "nested: every source of fields",
        {
            "any": [
                {
                    "all": [
                        {"field": "orders_count", "op": ">=", "value": 5},
                        {"field": "tier", "op": "=", "value": "gold"},
                    ]
                },
                {
                    "all": [
                        {"field": "p_alive", "op": ">", "value": 0.8},
                        {"field": "city", "op": "in", "value": ["Shiraz", "Isfahan"]},
                        {
                            "any": [
                                {"field": "tags", "op": "=", "value": "coffee"},
                                {"field": "days_since_created", "op": "<", "value": 60},
                            ]
                        },
                    ]
                },
            ]
        },
    ),
]

CITIES = [
    "Tehran",
    "Shiraz",
    "Isfahan",
    "Tabriz",
    "Mashhad",
    "Dubai",
    "Riyadh",
    "Cairo",
    "Amman",
    "Doha",
    "London",
    "Berlin",
    "Toronto",
    "Paris",
    "Madrid",
    "Rome",
]


def _uuid(prefix: int, column: str) -> str:
    return f"('{prefix:08x}-0000-4000-8000-' || lpad(to_hex({column}), 12, '0'))::uuid"


def fill(url: str, customers: int) -> dict[str, float]:
    """Load the synthetic store with SQL; returns seconds per step."""
    timings: dict[str, float] = {}
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    cities = "ARRAY[" + ",".join(f"'{c}'" for c in CITIES) + "]"
    now = "timestamptz '2026-03-15 12:00:00+00'"
    steps = {
        "customers": f"""
            INSERT INTO customers (id, name, search_name, email, birth_day, birth_month,
                birth_calendar, city, gender, language, tags, source, email_consent,
                sms_consent, created_at, updated_at)
            SELECT {_uuid(1, "n")}, 'Customer ' || n, 'customer ' || n,
                'c' || n || '@bench.example.com',
                CASE WHEN n % 3 = 0 THEN 1 + n % 28 END,
                CASE WHEN n % 3 = 0 THEN 1 + (n / 7) % 12 END,
                CASE WHEN n % 3 = 0 THEN (CASE WHEN n % 5 = 0 THEN 'jalali' ELSE 'gregorian' END) END,
                ({cities})[1 + (hashint4(n) & 1023) % 16],
                (ARRAY['female','male','other'])[1 + (hashint4(n + 1) & 255) % 3],
                (ARRAY['fa','en','ar'])[1 + (hashint4(n + 2) & 255) % 3],
                CASE (hashint4(n + 3) & 255) % 10
                    WHEN 0 THEN '["vip"]'::json WHEN 1 THEN '["coffee","vip"]'::json
                    WHEN 2 THEN '["coffee"]'::json WHEN 3 THEN '["tea"]'::json ELSE '[]'::json END,
                (ARRAY['pos','shopify','import','api'])[1 + (hashint4(n + 4) & 255) % 4],
                (hashint4(n + 5) & 255) % 3 <> 0, (hashint4(n + 6) & 255) % 4 = 0,
                {now} - ((hashint4(n + 7) & 1048575) % 1000) * interval '1 day',
                {now}
            FROM generate_series(1, {customers}) AS n
        """,
        "locations": """
            INSERT INTO locations (id, code, name, kind, created_at)
            SELECT ('00000009-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid,
                   'SHOP' || n, 'Shop ' || n, 'shop', now()
            FROM generate_series(1, 5) AS n
        """,
        "orders": f"""
            INSERT INTO orders (id, source, external_id, channel, location_id, customer_id,
                status, currency, subtotal_amount, discount_amount, shipping_amount,
                tax_amount, total_amount, refunded_amount, coupon_codes, placed_at,
                created_at, attributes)
            SELECT {_uuid(2, "(c * 64 + k)")}, 'bench', c || '-' || k,
                CASE WHEN r.ch < 6 THEN 'online' WHEN r.ch < 9 THEN 'in_store' ELSE 'phone' END,
                CASE WHEN r.ch BETWEEN 6 AND 8
                    THEN ('00000009-0000-4000-8000-' || lpad(to_hex(1 + (c + k) % 5), 12, '0'))::uuid END,
                {_uuid(1, "c")},
                CASE WHEN r.st < 3 THEN 'cancelled' WHEN r.st < 5 THEN 'refunded' ELSE 'delivered' END,
                'USD', r.amount, 0, 0, 0, r.amount,
                CASE WHEN r.st BETWEEN 3 AND 4 THEN r.amount ELSE 0 END, '[]'::json,
                {now} - (r.age * interval '1 minute'), {now}, '{{}}'::json
            FROM generate_series(1, {customers}) AS c
            CROSS JOIN LATERAL generate_series(
                1, least(60, floor(-ln(1 - random() * 0.999999 + c * 0) * 4.9))::int) AS k
            CROSS JOIN LATERAL (SELECT (hashint4(c * 64 + k) & 1023) % 10 AS ch,
                                       (hashint4(c * 64 + k + 1) & 1023) % 100 AS st,
                                       500 + (hashint4(c * 64 + k + 2) & 1048575) % 19500 AS amount,
                                       (hashint4(c * 64 + k + 3) & 2147483647) % 1051200 AS age) AS r
        """,
        "order lines": """
            INSERT INTO order_lines (id, order_id, line_no, sku, name, category, quantity,
                unit_price_amount, discount_amount, total_amount, refunded_quantity)
            SELECT gen_random_uuid(), o.id, l, 'SKU-' || p, 'Product ' || p,
                (ARRAY['beans','coffee','tea','mugs','cakes','syrups','grinders','gifts'])[1 + p % 8],
                1, o.total_amount / 2, 0, o.total_amount / 2,
                CASE WHEN o.status = 'refunded' THEN 1 ELSE 0 END
            FROM orders o CROSS JOIN generate_series(1, 2) AS l
            CROSS JOIN LATERAL (SELECT (hashint4(hashtext(o.external_id) + l) & 1023) % 60 AS p) AS q
        """,
        "loyalty accounts": f"""
            INSERT INTO loyalty_accounts (customer_id, available, pending, lifetime, carried,
                debt, lock_version, tier_code, joined_on, visits, streak_current,
                streak_best, leaderboard_opt_in, spend, categories, badge_codes,
                created_at, updated_at)
            SELECT {_uuid(1, "n")}, (hashint4(n + 8) & 4095) % 3000, 0, 3000, 0, 0, 0,
                CASE (hashint4(n + 9) & 255) % 10 WHEN 0 THEN 'gold' WHEN 1 THEN 'silver'
                     WHEN 2 THEN 'silver' ELSE 'bronze' END,
                date '2026-03-15' - ((hashint4(n + 7) & 1048575) % 1000), 0, 0, 0, false, 0,
                '[]'::json, '[]'::json, {now}, {now}
            FROM generate_series(1, {customers}) AS n WHERE n % 10 < 7
        """,
        "badges": f"""
            INSERT INTO loyalty_badges (customer_id, code, name, earned_at)
            SELECT {_uuid(1, "n")}, b.code, b.code, {now}
            FROM generate_series(1, {customers}) AS n
            CROSS JOIN (VALUES ('first_order', 7), ('big_spender', 20)) AS b(code, every)
            WHERE n % b.every = 0 AND n % 10 < 7
        """,
        "analytics scores": f"""
            INSERT INTO analytics_customer_scores (customer_id, run_id, currency,
                first_order_on, last_order_on, orders, repeat_purchases, spend_amount,
                average_order_amount, recency_days, tenure_days, activity, r_score, f_score,
                m_score, segment, p_alive, clv_amount, churn_risk, channels, computed_at)
            SELECT {_uuid(1, "n")}, '00000008-0000-4000-8000-000000000001', 'USD',
                date '2025-01-01', date '2026-01-01', 2, 1, 5000, 2500, 30, 400, 'active',
                3, 3, 3,
                (ARRAY['champions','loyal','potential_loyalists','new','promising',
                       'need_attention','about_to_sleep','at_risk','cannot_lose',
                       'hibernating','lost'])[1 + (hashint4(n + 10) & 1023) % 11],
                ((hashint4(n + 11) & 1048575) % 1000) / 1000.0,
                (hashint4(n + 12) & 1048575) % 200000,
                (ARRAY['low','medium','high'])[1 + (hashint4(n + 13) & 255) % 3],
                '[]'::json, {now}
            FROM generate_series(1, {customers}) AS n WHERE n % 100 < 82
        """,
    }
    with engine.connect() as conn:
        conn.execute(text("SELECT setseed(0.42)"))
        for name, sql in steps.items():
            started = time.perf_counter()
            conn.execute(text(sql))
            timings[name] = time.perf_counter() - started
            print(f"  {name}: {timings[name]:.1f} s", flush=True)
        started = time.perf_counter()
        conn.execute(text("VACUUM ANALYZE"))
        timings["vacuum analyze"] = time.perf_counter() - started
    engine.dispose()
    return timings


def count_rows(url: str) -> dict[str, int]:
    engine = create_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in (
            "customers",
            "orders",
            "order_lines",
            "loyalty_accounts",
            "analytics_customer_scores",
            "messaging_customer_order_stats",
        ):
            out[table] = int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
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
        load: dict[str, float] = {}
    else:
        url = fresh_database("wafa_bench_segments")
        print(f"database {url.rsplit('/', 1)[1]}: loading {args.customers:,} customers", flush=True)
        load = fill(url, args.customers)
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
        rebuild: list[float] = []
        for _ in range(2):
            started = time.perf_counter()
            with session_scope(settings) as s:
                stats.rebuild(s, currency="USD")
            rebuild.append(time.perf_counter() - started)
            print(f"  rebuild of the order figures: {rebuild[-1]:.1f} s", flush=True)
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("VACUUM ANALYZE messaging_customer_order_stats"))
        engine.dispose()
        rows = count_rows(url)
        results = []
        for label, rules in SEGMENTS:
            parsed = parse_rules(rules)
            times = []
            count = 0
            for _ in range(args.runs + 1):
                started = time.perf_counter()
                with session_scope(settings, write=False) as s:
                    count = service.count_rules(s, settings=settings, rules=parsed)
                times.append(time.perf_counter() - started)
            median = statistics.median(times[1:])
            results.append((label, count, times[0], median, max(times[1:])))
            print(
                f"  {label}: {count:,} customers, first {times[0]:.3f} s, median {median:.3f} s",
                flush=True,
            )
        load_avg = os.getloadavg()[0]
        lines = [
            f"### Counting segments, {rows['customers']:,} customers, {rows['orders']:,} orders "
            "(PostgreSQL)",
            "",
            f"Command: `.venv/bin/python benchmarks/segments_count.py --customers {args.customers} "
            f"--runs {args.runs}`. PostgreSQL {_pg_version(url)} with its default settings "
            "(shared_buffers 128 MB, work_mem 4 MB); 2 cores. Each count goes through "
            "`wafa.messaging.segments.service.count_rules` (context, compilation, one query), "
            f"in a new session; the first run apart, then the median and the slowest of {args.runs}. "
            f"Load average at the end: {load_avg:.1f}.",
            "",
            f"Order figures ({rows['messaging_customer_order_stats']:,} customers with a sale): "
            f"rebuilt from every order in {rebuild[0]:.1f} s, again with nothing to change in "
            f"{rebuild[1]:.1f} s (the worker does this once a day; events keep them current "
            "between).",
            "",
            "| segment | customers | first (s) | median (s) | slowest (s) |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {lbl} | {n:,} | {first:.3f} | {med:.3f} | {worst:.3f} |"
            for lbl, n, first, med, worst in results
        ]
        if load:
            lines += ["", "Load: " + ", ".join(f"{k} {v:.0f} s" for k, v in load.items()) + "."]
        write_section(
            ROOT / "results" / "segments.md", "segments_count", "\n".join(lines), title="Segments"
        )
        print("\n".join(lines))
    finally:
        dispose_engines()
        if not args.keep and not args.database:
            drop_database(url)


def _pg_version(url: str) -> str:
    engine = create_engine(url)
    with engine.connect() as conn:
        version = str(conn.execute(text("SHOW server_version")).scalar_one())
    engine.dispose()
    return version.split()[0]


if __name__ == "__main__":
    sys.exit(main())
