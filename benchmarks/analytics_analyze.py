"""Benchmark ``wafa analyze`` on a synthetic store of 1,000,000 customers (~5M orders).

Side by side in one run, on the same file:

* a bare DuckDB GROUP BY that computes the per-customer summary straight from the CSV
  (purchase days per customer, then frequency, recency, T and monetary value, the summary
  lifetimes computes);
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

from wafa.analytics.reading import connect, load_orders  # noqa: E402
from wafa.analytics.summary import duckdb_summary  # noqa: E402

# The summary lifetimes' ``summary_data_from_transaction_data`` gives (frequency, recency,
# T, monetary value: the mean value of the repeat purchase days), per customer, with
# several orders of one day counted as one purchase, as a bare DuckDB GROUP BY. The end of
# the observation period is given (lifetimes' ``observation_period_end``), not computed.
BARE_SQL = """
SELECT customer_id,
       count(*) - 1 AS frequency,
       max(d) - min(d) AS recency,
       DATE '{end}' - min(d) AS T,
       CASE WHEN count(*) > 1 THEN (sum(v) - arg_min(v, d)) / (count(*) - 1) ELSE 0 END
           AS monetary_value
FROM (
    SELECT customer_id, CAST(placed_at AS DATE) AS d, sum(total) AS v
    FROM read_csv('{path}', header = true)
    GROUP BY 1, 2
)
GROUP BY 1
"""


def cpu_seconds() -> float:
    """CPU time of this process so far (every thread), user plus system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bare(path: Path, end: str, *, tuned: bool = False) -> tuple[float, float]:
    """Run the bare GROUP BY up to ``end`` (ISO date); return (wall seconds, CPU seconds).

    ``tuned`` gives it the extra thread Wafa's connection has (``reading.connect``).
    """
    con = connect() if tuned else duckdb.connect()
    cpu, started = cpu_seconds(), time.perf_counter()
    result = con.execute(BARE_SQL.format(path=path, end=end)).fetchnumpy()
    elapsed, used = time.perf_counter() - started, cpu_seconds() - cpu
    assert len(result["customer_id"]) > 0
    con.close()
    return elapsed, used


def wafa_summary(path: Path) -> tuple[float, float]:
    """Run Wafa's summary step; return (wall seconds, CPU seconds)."""
    con = connect()  # as `wafa analyze` opens it
    cpu, started = cpu_seconds(), time.perf_counter()
    loaded = load_orders(con, path, items=False)
    last = loaded.last_day
    summary = duckdb_summary(con, as_of_day=last, calibration_day=last)
    elapsed, used = time.perf_counter() - started, cpu_seconds() - cpu
    assert len(summary) > 0
    con.close()
    return elapsed, used


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
    parser.add_argument("--runs", type=int, default=3, help="Runs of the whole wafa analyze.")
    parser.add_argument(
        "--summary-runs", type=int, default=5, help="Alternating runs of the summary comparison."
    )
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
        orders, rows, end = con.execute(
            "SELECT count(DISTINCT order_id), count(*), max(CAST(placed_at AS DATE))::VARCHAR "
            f"FROM read_csv('{path}', header = true)"
        ).fetchone() or (0, 0, "")
    print(f"{path.name}: {rows:,} rows, {orders:,} orders, {path.stat().st_size / 1e6:.0f} MB")

    bare_times: list[float] = []
    tuned_times: list[float] = []
    wafa_times: list[float] = []
    bare_cpu: list[float] = []
    tuned_cpu: list[float] = []
    wafa_cpu: list[float] = []
    for i in range(args.summary_runs):
        for times, cpus, run in (
            (bare_times, bare_cpu, lambda p: bare(p, end)),
            (tuned_times, tuned_cpu, lambda p: bare(p, end, tuned=True)),
            (wafa_times, wafa_cpu, wafa_summary),
        ):
            elapsed, used = run(path)
            times.append(elapsed)
            cpus.append(used)
        print(
            f"run {i + 1}: bare {bare_times[-1]:.2f} s (CPU {bare_cpu[-1]:.2f} s), "
            f"bare with Wafa's threads {tuned_times[-1]:.2f} s, "
            f"wafa summary {wafa_times[-1]:.2f} s (CPU {wafa_cpu[-1]:.2f} s)"
        )
    b, w = statistics.median(bare_times), statistics.median(wafa_times)
    bc, wc = statistics.median(bare_cpu), statistics.median(wafa_cpu)
    bt, btc = statistics.median(tuned_times), statistics.median(tuned_cpu)
    print(
        f"summary step: wafa {w:.2f} s vs bare DuckDB GROUP BY {b:.2f} s -> {w / b:.2f}x; "
        f"CPU {wc:.2f} s vs {bc:.2f} s -> {wc / bc:.2f}x; vs the bare query with the same "
        f"threads {bt:.2f} s -> {w / bt:.2f}x"
    )

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
    median_run = sorted(range(len(analyze_times)), key=analyze_times.__getitem__)[
        len(analyze_times) // 2
    ]
    lines = [
        "## Analytics: `wafa analyze` on 1,000,000 customers",
        "",
        f"Synthetic store (BG/NBD buyers, Gamma-Gamma spend, refunds and cancellations, "
        f"two-line orders): {rows:,} CSV rows, {orders:,} orders of {args.customers:,} "
        f"customers, {path.stat().st_size / 1e6:.0f} MB. Machine: {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, DuckDB "
        f"{duckdb.__version__}; load average at the end of the run {load[0]:.1f} (the machine is "
        f"shared: wall times vary with it, CPU seconds less). Medians of "
        f"{args.summary_runs} alternating runs of the summary comparison and of "
        f"{args.runs} runs of `wafa analyze`.",
        "",
        "| step | wall seconds | CPU seconds |",
        "|---|---:|---:|",
        f"| bare DuckDB GROUP BY (customer summary from the CSV), DuckDB's defaults | {b:.2f} | "
        f"{bc:.2f} |",
        f"| the same bare query with Wafa's thread count (cores + 1) | {bt:.2f} | {btc:.2f} |",
        f"| Wafa summary step (validated read + summary) | {w:.2f} ({w / b:.2f}x; "
        f"{w / bt:.2f}x the same-threads query) | {wc:.2f} ({wc / bc:.2f}x) |",
        f"| whole `wafa analyze --json --out` | {total:.1f} (peak memory "
        f"{statistics.median(peaks):.0f} MB) | |",
        f"| whole `wafa analyze --holdout-days 180 --json --out` | {holdout_elapsed:.1f} | |",
        "",
        "Individual runs: summary step wall "
        + ", ".join(f"{v:.2f}" for v in wafa_times)
        + " s vs bare "
        + ", ".join(f"{v:.2f}" for v in bare_times)
        + " s and bare with the same threads "
        + ", ".join(f"{v:.2f}" for v in tuned_times)
        + " s; `wafa analyze` "
        + ", ".join(f"{v:.1f}" for v in analyze_times)
        + " s.",
        "",
        "Steps of the median run (s): "
        + ", ".join(f"{k} {v:.1f}" for k, v in steps[median_run].items()),
        "",
        "Command: `.venv/bin/python benchmarks/analytics_analyze.py "
        f"--customers {args.customers} --runs {args.runs} --summary-runs {args.summary_runs}`",
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
