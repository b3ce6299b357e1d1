"""Benchmark ``wafa analytics refresh`` on a PostgreSQL database of 1,000,000 customers.

The database is built by the real migrations, then filled in bulk with ``COPY``: the
same synthetic store as ``benchmarks/analytics_data.py`` (BG/NBD buyers, Gamma-Gamma
spend, refunds and cancellations, two-line orders over two years, 60 products of which a
few are one-offs), one order row per order and one line row per order line. The
refresh then runs end to end as the command does (summary, descriptive figures, both
models with a holdout choice, predictions, RFM, recommendations, scores written with
``COPY``), in one transaction, and its steps are timed.

    .venv/bin/python benchmarks/analytics_refresh.py --customers 1000000 --runs 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

import duckdb
import psycopg
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from analytics_data import generate  # noqa: E402

from wafa.analytics import refresh as refreshing  # noqa: E402
from wafa.core import migrate  # noqa: E402
from wafa.core.db import dispose_engines, session_scope  # noqa: E402
from wafa.core.settings import Settings  # noqa: E402

ADMIN = os.environ.get("WAFA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _uuid(prefix: int, column: str) -> str:
    return f"printf('{prefix:08x}-0000-4000-8000-%012x', {column})"


def build(url: str, csv_path: Path, workdir: Path) -> dict[str, int]:
    """Load the synthetic store into the (migrated, empty) database at ``url``."""
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(
        f"""
        CREATE TABLE rows AS
        SELECT row_number() OVER () AS line_key, *
        FROM read_csv('{csv_path}', header = true,
                      columns = {{'customer_id': 'VARCHAR', 'order_id': 'VARCHAR',
                                 'placed_at': 'TIMESTAMP', 'total': 'DECIMAL(12,2)',
                                 'sku': 'VARCHAR', 'quantity': 'INTEGER', 'status': 'VARCHAR',
                                 'refunded': 'DECIMAL(12,2)'}})
        """
    )
    con.execute(
        """
        CREATE TABLE orders AS
        SELECT CAST(substr(order_id, 2) AS BIGINT) AS o, CAST(substr(customer_id, 2) AS BIGINT) AS c,
               min(placed_at) AS placed_at, CAST(sum(total) * 100 AS BIGINT) AS total,
               CAST(max(refunded) * 100 AS BIGINT) AS refunded, min(status) AS status
        FROM rows GROUP BY order_id, customer_id
        """
    )
    files = {
        "products": f"""
            SELECT {_uuid(0x40000000, "k")} AS id, 'SKU' || lpad(k::VARCHAR, 3, '0') AS sku,
                   'Product ' || k AS name, 'Category ' || (k % 8) AS category,
                   500 + 37 * k AS price_amount, 'USD' AS currency, k % 17 <> 5 AS repeatable,
                   true AS active, TIMESTAMPTZ '2023-01-01 00:00:00+00' AS created_at
            FROM range(60) t(k)
        """,
        "customers": f"""
            SELECT {_uuid(0x10000000, "c")} AS id, 'Customer ' || c AS name,
                   'c' || c || '@bench.example' AS email, '[]' AS tags, 'bench' AS source,
                   false AS email_consent, false AS sms_consent,
                   min(placed_at) AS created_at, min(placed_at) AS updated_at
            FROM orders GROUP BY c
        """,
        "orders": f"""
            SELECT {_uuid(0x20000000, "o")} AS id, 'bench' AS source, 'O' || o AS external_id,
                   CASE WHEN o % 5 = 0 THEN 'in_store' ELSE 'online' END AS channel,
                   {_uuid(0x10000000, "c")} AS customer_id,
                   CASE status WHEN 'cancelled' THEN 'cancelled' WHEN 'refunded' THEN 'refunded'
                        WHEN 'partially_refunded' THEN 'partially_refunded' ELSE 'delivered' END
                       AS status,
                   'USD' AS currency, total AS subtotal_amount, 0 AS discount_amount,
                   0 AS shipping_amount, 0 AS tax_amount, total AS total_amount,
                   CASE status WHEN 'refunded' THEN total
                        WHEN 'partially_refunded' THEN least(refunded, total) ELSE 0 END
                       AS refunded_amount,
                   '[]' AS coupon_codes, placed_at::TIMESTAMPTZ AS placed_at,
                   placed_at::TIMESTAMPTZ AS created_at, '{{}}' AS attributes,
                   CASE WHEN o % 3 = 0 THEN placed_at::TIMESTAMPTZ + INTERVAL 3 DAY END AS promised_at,
                   CASE WHEN o % 3 = 0 THEN placed_at::TIMESTAMPTZ + INTERVAL (o % 5) DAY END
                       AS delivered_at
            FROM orders
        """,
        "order_lines": f"""
            SELECT {_uuid(0x30000000, "line_key")} AS id,
                   {_uuid(0x20000000, "CAST(substr(order_id, 2) AS BIGINT)")} AS order_id,
                   row_number() OVER (PARTITION BY order_id ORDER BY line_key) AS line_no,
                   {_uuid(0x40000000, "CAST(substr(sku, 4) AS BIGINT)")} AS product_id,
                   sku, 'Product ' || CAST(substr(sku, 4) AS BIGINT) AS name,
                   'Category ' || (CAST(substr(sku, 4) AS BIGINT) % 8) AS category,
                   quantity, CAST(total * 100 AS BIGINT) AS unit_price_amount,
                   0 AS discount_amount, CAST(total * 100 AS BIGINT) AS total_amount,
                   CASE status WHEN 'refunded' THEN quantity ELSE 0 END AS refunded_quantity
            FROM rows
        """,
    }
    counts: dict[str, int] = {}
    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw, autocommit=True) as pg:
        for table, sql in files.items():
            out = workdir / f"{table}.csv"
            con.execute(f"COPY ({sql}) TO '{out}' (HEADER, DELIMITER ',')")
            header = out.open().readline().strip()
            started = time.perf_counter()
            with pg.cursor() as cur, out.open("rb") as fh:
                with cur.copy(
                    f"COPY {table} ({header}) FROM STDIN (FORMAT csv, HEADER true)"
                ) as copy:
                    while chunk := fh.read(1 << 22):
                        copy.write(chunk)
                counts[table] = int(cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
            print(f"  {table}: {counts[table]:,} rows in {time.perf_counter() - started:.1f} s")
            out.unlink()
        pg.execute("ANALYZE")
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/wafa-bench"))
    parser.add_argument("--database", default="wafa_bench_analytics")
    parser.add_argument("--keep", action="store_true", help="Reuse an existing database.")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    csv_path = args.workdir / f"orders-{args.customers}.csv"
    if not csv_path.exists():
        generate(csv_path, customers=args.customers)
    url = ADMIN.rsplit("/", 1)[0] + f"/{args.database}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": args.database}
        ).scalar()
        if exists and not args.keep:
            conn.execute(text(f'DROP DATABASE "{args.database}" WITH (FORCE)'))
            exists = None
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{args.database}"'))
    admin.dispose()
    if not exists:
        print(f"building {args.database} ...")
        started = time.perf_counter()
        migrate.upgrade(url)
        counts = build(url, csv_path, args.workdir)
        built = f"built in {time.perf_counter() - started:.0f} s"
        print(built)
    else:
        migrate.upgrade(url)  # a kept database follows the latest migrations
        raw = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(raw, autocommit=True) as pg:
            counts = {
                table: int(pg.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
                for table in ("customers", "products", "orders", "order_lines")
            }
        built = "reused from an earlier run of this script (--keep)"
    settings = Settings(_env_file=None, database_url=url, environment="development")  # type: ignore[call-arg]
    runs: list[tuple[float, dict[str, float], int]] = []
    for i in range(args.runs):
        started = time.perf_counter()
        with session_scope(settings) as session:
            run = refreshing.refresh(
                session,
                settings=settings,
                options=refreshing.RefreshOptions(as_of=dt.date(2025, 12, 31)),
            )
            timings = dict(run.details.get("timings", {}))
            customers = run.customers
        elapsed = time.perf_counter() - started
        runs.append((elapsed, timings, customers))
        print(f"refresh {i + 1}: {elapsed:.1f} s for {customers:,} customers; steps {timings}")
    dispose_engines()
    median = statistics.median(r[0] for r in runs)
    middle = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
    load = os.getloadavg()
    lines = [
        "## Analytics: `wafa analytics refresh` on PostgreSQL, 1,000,000 customers",
        "",
        "Database built by the migrations and filled with COPY ("
        + built
        + "): "
        + ", ".join(f"{n:,} {t}" for t, n in counts.items())
        + f". {os.cpu_count()} cores; load average during the run {load[0]:.1f}. "
        f"Median of {args.runs} refreshes (each replaces every stored score): "
        f"**{median:.1f} s** for {middle[2]:,} customers (target: under 120 s).",
        "",
        "Steps of the median run (s): " + ", ".join(f"{k} {v:.1f}" for k, v in middle[1].items()),
        "",
        "Individual runs: " + ", ".join(f"{r[0]:.1f}" for r in runs) + " s.",
        "",
        f"Command: `.venv/bin/python benchmarks/analytics_refresh.py --customers "
        f"{args.customers} --runs {args.runs}{' --keep' if args.keep else ''}`",
        "",
    ]
    args.results.mkdir(parents=True, exist_ok=True)
    target = args.results / "analytics.md"
    existing = target.read_text() if target.exists() else ""
    marker = "## Analytics: `wafa analytics refresh`"
    kept = existing.split(marker)[0].rstrip() if marker in existing else existing.rstrip()
    target.write_text(((kept + "\n\n") if kept else "") + "\n".join(lines))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
