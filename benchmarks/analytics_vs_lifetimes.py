"""The whole ``wafa analyze`` process against a lifetimes user's whole process, one run.

On the same 1,000,000-customer export (``benchmarks/analytics_data.py``), alternately:

* ``wafa analyze FILE --json OUT --out REPORT`` (reading, validation, summary,
  descriptive figures, both purchase models and Gamma-Gamma, every customer's forecast
  with its 90 % range, RFM, recommendations, the JSON and the HTML report);
* ``benchmarks/_lifetimes_analyze.py FILE`` in lifetimes' own virtual environment
  (pandas read, lifetimes' summary, BG/NBD and Gamma-Gamma fits), and the same with
  ``--predict`` (plus every customer's expected purchases, P(alive) and 12-month CLV).

Each is a separate process timed from start to exit (imports included), with its CPU
seconds and peak memory from ``wait4``. Medians are reported, and the ratio of the
medians. lifetimes' environment is created on first use as in ``benchmarks/clv_fit.py``.

    .venv/bin/python benchmarks/analytics_vs_lifetimes.py --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
sys.path.insert(0, str(HERE))

from analytics_data import generate  # noqa: E402

LIFETIMES_PY = HERE / ".venv-lifetimes" / "bin" / "python"


def run(command: list[str]) -> tuple[float, float, float, str]:
    """Run a process; return (wall seconds, CPU seconds, peak RSS in MB, stdout)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, stdout=out, stderr=err, env={**os.environ, "WAFA_ENVIRONMENT": "development"}
        )
        # wait4 reports this child's own CPU time and peak memory.
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(f"{command[0]} failed:\n{err.read().decode()}")
        return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read().decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/wafa-bench"))
    parser.add_argument("--results", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if not LIFETIMES_PY.exists():
        raise SystemExit(
            "create lifetimes' environment first: python -m venv benchmarks/.venv-lifetimes && "
            "benchmarks/.venv-lifetimes/bin/pip install lifetimes pandas numpy scipy"
        )
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = args.workdir / f"orders-{args.customers}.csv"
    if not path.exists():
        generate(path, customers=args.customers)
    wafa = [
        str(ROOT / ".venv" / "bin" / "wafa"),
        "analyze",
        str(path),
        "--json",
        str(args.workdir / "vs.json"),
        "--out",
        str(args.workdir / "vs.html"),
        "--quiet",
    ]
    lifetimes = [str(LIFETIMES_PY), str(HERE / "_lifetimes_analyze.py"), str(path)]
    jobs = {
        "wafa analyze": wafa,
        "lifetimes: summary + BG/NBD + Gamma-Gamma": lifetimes,
        "lifetimes: the same + every customer's forecast": [*lifetimes, "--predict"],
    }
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in jobs}
    steps: dict[str, dict[str, float]] = {}
    for i in range(args.runs):
        for name, command in jobs.items():
            wall, cpu, peak, out = run(command)
            results[name].append((wall, cpu, peak))
            if out.strip().startswith("{"):
                steps[name] = json.loads(out.strip().splitlines()[-1])["steps"]
            print(f"run {i + 1}: {name}: {wall:.1f} s wall, {cpu:.1f} s CPU, {peak:.0f} MB")
    wafa_steps = json.loads((args.workdir / "vs.json").read_text()).get("timings", {})
    median = {n: [statistics.median(v[k] for v in r) for k in range(3)] for n, r in results.items()}
    base = median["wafa analyze"]
    load = os.getloadavg()
    lines = [
        "## Analytics: `wafa analyze` against lifetimes, whole processes",
        "",
        f"`{path.name}` ({path.stat().st_size / 1e6:.0f} MB, {args.customers:,} customers); "
        f"{args.runs} alternating runs of each, medians; {os.cpu_count()} cores, load average "
        f"at the end {load[0]:.1f}. Each process is timed from start to exit, imports included.",
        "",
        "| process | wall s | CPU s | peak MB | wafa is faster by (wall) |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {n} | {m[0]:.1f} | {m[1]:.1f} | {m[2]:.0f} | "
            + ("—" if n == "wafa analyze" else f"{m[0] / base[0]:.1f}×")
            + " |"
            for n, m in median.items()
        ),
        "",
        "Steps of the last runs (s): wafa "
        + ", ".join(f"{k} {v:.1f}" for k, v in wafa_steps.items())
        + "; lifetimes "
        + "; ".join(
            f"{n.split(': ')[1]}: " + ", ".join(f"{k} {v:.1f}" for k, v in s.items())
            for n, s in steps.items()
        ),
        "",
        "Individual runs (wall s): "
        + "; ".join(f"{n}: " + ", ".join(f"{v[0]:.1f}" for v in r) for n, r in results.items()),
        "",
        f"Command: `.venv/bin/python benchmarks/analytics_vs_lifetimes.py --runs {args.runs}`",
        "",
    ]
    args.results.mkdir(parents=True, exist_ok=True)
    target = args.results / "analytics.md"
    existing = target.read_text() if target.exists() else ""
    marker = lines[0]
    if marker in existing:
        before, after = existing.split(marker, 1)
        rest = "\n## " + after.split("\n## ", 1)[1] if "\n## " in after else ""
        existing = before.rstrip() + rest
    target.write_text(existing.rstrip() + "\n\n" + "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
