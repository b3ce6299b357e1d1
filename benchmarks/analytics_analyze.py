"""Benchmark ``wafa analyze`` on a synthetic store of 1,000,000 customers (~5M orders).

Side by side in one run, on the same file:

* a bare DuckDB GROUP BY that computes the per-customer summary straight from the CSV
  (purchase days per customer, then frequency, recency, first purchase and spend);
* Wafa's summary step: ``load_orders`` (validation, refunds, cancellations, currency,
  one pass) plus ``duckdb_summary``;
* the whole ``wafa analyze FILE --json OUT --out REPORT`` in a subprocess, with its wall
  time and peak memory (maximum resident set size).

Runs alternate (bare, Wafa, bare, Wafa, ...) so that both see the same machine load;
medians are reported. The file is generated once, deterministically, by
``benchmarks/analytics_data.py`` and kept in ``--workdir``.

    .venv/bin/python benchmarks/analytics_analyze.py --customers 1000000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from analytics_data import generate  # noqa: E402

from wafa.analytics.reading import load_orders  # noqa: E402
from wafa.analytics.summary import duckdb_day_range, duckdb_summary  # noqa: E402

BARE_SQL = """
SELECT customer_id,
       count(*) - 1 AS frequency,
       max(d) - min(d) AS recency,
       min(d) AS first_day,
       sum(v) AS spend
FROM (
    SELECT customer_id, CAST(placed_at AS DATE) AS d, sum(total) AS v
    FROM read_csv('{path}', header = true)
    GROUP BY 1, 2
)
GROUP BY 1
"""


def bare(path: Path) -> float:
    con = duckdb.connect()
    started = time.perf_counter()
    result = con.execute(BARE_SQL.format(path=path)).fetchnumpy()
    elapsed = time.perf_counter() - started
    assert len(result["customer_id"]) > 0
    con.close()
    return elapsed


def wafa_summary(path: Path) -> float:
    con = duckdb.connect()
    started = time.perf_counter()
    load_orders(con, path, items=False)
    _, last = duckdb_day_range(con)
    summary = duckdb_summary(con, as_of_day=last, calibration_day=last)
    elapsed = time.perf_counter() - started
    assert len(summary) > 0
    con.close()
    return elapsed


def analyze(path: Path, out: Path, extra: list[str]) -> tuple[float, float, dict[str, float]]:
    """Run ``wafa analyze`` in a child; return (seconds, peak RSS in MB, step timings)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "wafa"),
            "analyze",
            str(path),
            "--json",
            str(out / "analysis.json"),
            "--out",
            str(out / "report.html"),
            "--quiet",
            *extra,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "WAFA_ENVIRONMENT": "development"},
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"wafa analyze failed:\n{done.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figures = json.loads((out / "analysis.json").read_text())
    # ru_maxrss is the largest child so far: run the biggest job first or alone.
    return elapsed, max(peak, before) / 1024, figures.get("timings", {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/wafa-bench"))
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = args.workdir / f"orders-{args.customers}.csv"
    if not path.exists():
        started = time.perf_counter()
        orders = generate(path, customers=args.customers)
        print(f"generated {orders:,} orders in {time.perf_counter() - started:.1f} s -> {path}")
    with duckdb.connect() as con:
        orders, rows = con.execute(
            f"SELECT count(DISTINCT order_id), count(*) FROM read_csv('{path}', header = true)"
        ).fetchone() or (0, 0)
    print(f"{path.name}: {rows:,} rows, {orders:,} orders, {path.stat().st_size / 1e6:.0f} MB")

    bare_times, wafa_times = [], []
    for i in range(args.runs):
        bare_times.append(bare(path))
        wafa_times.append(wafa_summary(path))
        print(f"run {i + 1}: bare {bare_times[-1]:.2f} s, wafa summary {wafa_times[-1]:.2f} s")
    b, w = statistics.median(bare_times), statistics.median(wafa_times)
    print(f"summary step: wafa {w:.2f} s vs bare DuckDB GROUP BY {b:.2f} s -> {w / b:.2f}x")

    analyze_times, peaks, steps = [], [], []
    for i in range(args.runs):
        elapsed, peak, timings = analyze(path, args.workdir, [])
        analyze_times.append(elapsed)
        peaks.append(peak)
        steps.append(timings)
        print(f"wafa analyze run {i + 1}: {elapsed:.1f} s, peak {peak:.0f} MB, steps {timings}")
    holdout_elapsed, _, holdout_steps = analyze(path, args.workdir, ["--holdout-days", "180"])
    print(f"wafa analyze --holdout-days 180: {holdout_elapsed:.1f} s, steps {holdout_steps}")
    load = os.getloadavg()
    total = statistics.median(analyze_times)
    lines = [
        "## Analytics: `wafa analyze` on 1,000,000 customers",
        "",
        f"Synthetic store (BG/NBD buyers, Gamma-Gamma spend, refunds and cancellations, "
        f"two-line orders): {rows:,} CSV rows, {orders:,} orders of {args.customers:,} "
        f"customers, {path.stat().st_size / 1e6:.0f} MB. Machine: {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, DuckDB "
        f"{duckdb.__version__}; load average during the run {load[0]:.1f}. Medians of "
        f"{args.runs} alternating runs.",
        "",
        "| step | seconds |",
        "|---|---:|",
        f"| bare DuckDB GROUP BY (customer summary from the CSV) | {b:.2f} |",
        f"| Wafa summary step (validated read + summary) | {w:.2f} ({w / b:.2f}x) |",
        f"| whole `wafa analyze --json --out` | {total:.1f} (peak memory "
        f"{statistics.median(peaks):.0f} MB) |",
        f"| whole `wafa analyze --holdout-days 180 --json --out` | {holdout_elapsed:.1f} |",
        "",
        "Steps of the median run (s): "
        + ", ".join(f"{k} {v:.1f}" for k, v in steps[len(steps) // 2].items()),
        "",
        "Command: `.venv/bin/python benchmarks/analytics_analyze.py "
        f"--customers {args.customers} --runs {args.runs}`",
        "",
    ]
    args.results.mkdir(parents=True, exist_ok=True)
    target = args.results / "analytics.md"
    existing = target.read_text() if target.exists() else ""
    marker = "## Analytics: `wafa analyze`"
    kept = existing.split(marker)[0].rstrip() if marker in existing else existing.rstrip()
    rest = ""
    if marker in existing:
        after = existing.split(marker, 1)[1]
        if "\n## " in after:
            rest = "\n## " + after.split("\n## ", 1)[1]
    target.write_text(((kept + "\n\n") if kept else "") + "\n".join(lines) + rest.rstrip() + "\n")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
