"""Benchmark ``wafa analyze``'s reading step against an earlier revision, in one run.

Reads the same synthetic generic export (``benchmarks/analytics_data.py``: statuses,
partial refunds, products) with ``load_orders`` from this checkout and from an earlier
git revision (checked out once, read-only, into ``--workdir``), alternating the two in
fresh processes so that both see the same machine load. Reports each side's median and
the ratio (this checkout / the earlier revision: below 1 is faster).

    .venv/bin/python benchmarks/analytics_reading.py --before 8e78162 --customers 200000 --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import revision_src  # noqa: E402
from analytics_data import generate  # noqa: E402

#: One timed read in a fresh process: the load, then a query that touches every order.
PROBE = """
import sys, time
from pathlib import Path
from wafa.analytics.reading import connect, load_orders
con = connect()
con.execute("SET enable_progress_bar = false")
started = time.perf_counter()
loaded = load_orders(con, Path(sys.argv[1]))
con.execute("SELECT count(*), sum(net) FILTER (WHERE purchase) FROM wafa_orders").fetchall()
print(time.perf_counter() - started, loaded.orders, loaded.purchases)
"""


def timed(src: Path, path: Path) -> tuple[float, int, int]:
    """Time one read of ``path`` with the ``wafa`` package found in ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = (
        subprocess.run(
            [sys.executable, "-c", PROBE, str(path)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.splitlines()[-1]
        .split()
    )
    return float(out[0]), int(out[1]), int(out[2])


def main() -> None:
    """Run the comparison and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="The earlier git revision.")
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/wafa-bench"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = args.workdir / f"orders-{args.customers}.csv"
    if not path.exists():
        generate(path, customers=args.customers)
    sides = {"before": revision_src(args.before, args.workdir), "now": ROOT / "src"}
    times: dict[str, list[float]] = {name: [] for name in sides}
    counts: dict[str, tuple[int, int]] = {}
    for _ in range(args.runs):
        for name, src in sides.items():
            seconds, orders, purchases = timed(src, path)
            times[name].append(seconds)
            counts[name] = (orders, purchases)
    before, now = (statistics.median(times[n]) for n in ("before", "now"))
    print(f"reading {path.name} ({args.customers:,} customers), {args.runs} alternating runs\n")
    print("| side | median | runs | orders | purchases |")
    print("|---|---|---|---|---|")
    for name in sides:
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        orders, purchases = counts[name]
        median = statistics.median(times[name])
        print(f"| {name} | {median:.2f} s | {runs} | {orders:,} | {purchases:,} |")
    print(f"\nratio now / before: {now / before:.2f}; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
