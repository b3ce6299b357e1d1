"""Deterministic synthetic order exports for the analytics benchmarks.

Customers buy as the BG/NBD model describes (Fader, Hardie & Lee 2005): each has a
purchase rate ``lambda ~ Gamma(r, alpha)`` per week and, after every purchase, drops
out with probability ``p ~ Beta(a, b)``; first purchases are spread over two years and
the export ends on 2025-12-31. Order values are Gamma-Gamma (spend per order ``Gamma(p,
nu)``, ``nu ~ Gamma(q, gamma)``); a few orders are refunded or cancelled; one order in
five has two lines. Same seed, same file, byte for byte.

    python benchmarks/analytics_data.py --customers 1000000 --out /tmp/orders-5m.csv
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb
import numpy as np

END = np.datetime64("2025-12-31")
SPAN_DAYS = 730
SKUS = 60


def generate(
    path: Path,
    *,
    customers: int = 1_000_000,
    seed: int = 20251231,
    r: float = 0.6,
    alpha: float = 2.15,
    a: float = 0.8,
    b: float = 2.6,
) -> int:
    """Write the export to ``path``; return the number of orders."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, customers) / 7.0  # per day
    p = rng.beta(a, b, customers)
    first = rng.integers(0, SPAN_DAYS, customers)
    horizon = SPAN_DAYS - first
    # Simulate purchase by purchase, all customers at once, until everyone is done.
    cust_ids = [np.arange(customers)]
    days = [first.astype(np.int64)]
    alive = np.ones(customers, dtype=bool)
    current = first.astype(np.float64)
    while True:
        alive &= rng.random(customers) >= p  # drop out right after a purchase
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        wait = rng.exponential(1.0 / np.maximum(lam[idx], 1e-9))
        nxt = current[idx] + wait
        ok = nxt < SPAN_DAYS
        alive[idx[~ok]] = False
        idx, nxt = idx[ok], nxt[ok]
        if idx.size == 0:
            break
        current[idx] = nxt
        cust_ids.append(idx)
        days.append(np.floor(nxt).astype(np.int64))
    customer = np.concatenate(cust_ids)
    day = np.concatenate(days)
    n = customer.size
    nu = rng.gamma(3.5, 1.0 / 60.0, customers)
    value = rng.gamma(4.0, 1.0 / nu[customer])
    cents = np.maximum(np.rint(value * 100), 50).astype(np.int64)
    seconds = rng.integers(7 * 3600, 22 * 3600, n)
    status_roll = rng.random(n)
    two_lines = rng.random(n) < 0.2
    sku1 = rng.integers(0, SKUS, n)
    sku2 = (sku1 + rng.integers(1, 6, n)) % SKUS
    del horizon
    order_no = np.arange(n)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.register(
        "o",
        {
            "c": customer,
            "d": day,
            "s": seconds,
            "v": cents,
            "st": status_roll,
            "two": two_lines,
            "k1": sku1,
            "k2": sku2,
            "n": order_no,
        },
    )
    start = str(END - np.timedelta64(SPAN_DAYS, "D"))
    con.execute(
        f"""
        COPY (
          WITH base AS (
            SELECT 'C' || lpad(c::VARCHAR, 7, '0') AS customer_id,
                   'O' || lpad(n::VARCHAR, 8, '0') AS order_id,
                   strftime(TIMESTAMP '{start}' + to_days(d::INTEGER) + to_seconds(s::BIGINT),
                            '%Y-%m-%dT%H:%M:%S') AS placed_at,
                   v, two, k1, k2,
                   CASE WHEN st < 0.015 THEN 'cancelled' WHEN st < 0.03 THEN 'refunded'
                        WHEN st < 0.05 THEN 'partially_refunded' ELSE 'completed' END AS status,
                   n
            FROM o
          ), lines AS (
            SELECT customer_id, order_id, placed_at, status, n, 1 AS line,
                   CASE WHEN two THEN v // 2 ELSE v END AS cents, k1 AS k FROM base
            UNION ALL
            SELECT customer_id, order_id, placed_at, status, n, 2, v - v // 2, k2
            FROM base WHERE two
          )
          SELECT customer_id, order_id, placed_at,
                 (cents / 100.0)::DECIMAL(12, 2) AS total,
                 'SKU' || lpad(k::VARCHAR, 3, '0') AS sku,
                 1 AS quantity,
                 status,
                 CASE WHEN status = 'partially_refunded'
                      THEN ((cents // 3) / 100.0)::DECIMAL(12, 2) ELSE 0 END AS refunded
          FROM lines ORDER BY n, line
        ) TO '{path}' (HEADER, DELIMITER ',')
        """
    )
    con.close()
    return int(n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20251231)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    orders = generate(args.out, customers=args.customers, seed=args.seed)
    print(
        f"{orders:,} orders of {args.customers:,} customers -> {args.out} "
        f"({args.out.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
