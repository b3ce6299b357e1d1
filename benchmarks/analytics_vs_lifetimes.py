"""The whole ``wafa analyze`` process against a lifetimes user's whole process, one run.

On the same 1,000,000-customer export (``benchmarks/analytics_data.py``), alternately:

* ``wafa analyze FILE --json OUT`` (reading, validation, summary, descriptive figures,
  both purchase models and Gamma-Gamma, every customer's forecast with its 90 % range,
  RFM, recommendations and the JSON; with ``--report`` also the HTML report, which a
  lifetimes user does not get);
* ``benchmarks/_lifetimes_analyze.py FILE`` in lifetimes' own virtual environment
  (pandas read, lifetimes' summary, BG/NBD and Gamma-Gamma fits), and the same with
  ``--predict`` (plus every customer's expected purchases, P(alive) and 12-month CLV).

Each is a separate process timed from start to exit (imports included), with its CPU
seconds and its own peak memory from GNU ``/usr/bin/time``. Medians are reported, and
the ratios of the medians (wall and CPU: on a shared machine the CPU seconds say more).
``wafa`` is the interpreter running this script with ``-m wafa.cli.main`` (so a worktree
measures its own code with ``PYTHONPATH=src``). lifetimes' environment:
``python -m venv benchmarks/.venv-lifetimes && benchmarks/.venv-lifetimes/bin/pip install
lifetimes pandas numpy scipy``.

With ``--before DIR`` a third process runs ``wafa analyze`` from ``DIR/src`` (an older
commit exported with ``git archive COMMIT src | tar -x -C DIR``), in the same rotation:
old against new in one run.

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
LIFETIMES_PY = HERE / ".venv-lifetimes" / "bin" / "python"


def run(command: list[str]) -> tuple[float, float, float, str]:
    """Run a process; return (wall seconds, CPU seconds, its own peak RSS in MB, stdout).

    The child runs under GNU ``/usr/bin/time``, which reports the peak of the process it
    started. ``wait4``'s ``ru_maxrss`` cannot be used here: Linux carries the parent's
    high-water mark into a child across fork and exec, so every child reported this
    script's own peak (its data generator's) whatever it used itself.
    """
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile() as usage:
        started = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-o", usage.name, "-f", "%e %U %S %M", *command],
            stdout=out,
            stderr=subprocess.PIPE,
            env={**os.environ, "WAFA_ENVIRONMENT": "development"},
            check=False,
        )
        elapsed = time.perf_counter() - started
        if proc.returncode:
            raise SystemExit(f"{command[0]} failed:\n{proc.stderr.decode()}")
        _wall, user, system, peak_kb = Path(usage.name).read_text().split()[-4:]
        out.seek(0)
        return elapsed, float(user) + float(system), int(peak_kb) / 1024, out.read().decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/wafa-bench"))
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--report", action="store_true", help="wafa also writes the HTML report")
    parser.add_argument(
        "--no-forecast", action="store_true", help="skip lifetimes with every forecast"
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="also run wafa from this checkout's src (e.g. an exported older commit), "
        "alternating with the others: old against new in the same run",
    )
    args = parser.parse_args()
    if not LIFETIMES_PY.exists():
        raise SystemExit(
            "create lifetimes' environment first: python -m venv benchmarks/.venv-lifetimes && "
            "benchmarks/.venv-lifetimes/bin/pip install lifetimes pandas numpy scipy"
        )
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = args.workdir / f"orders-{args.customers}.csv"
    if not path.exists():
        # In a child process: the generator's memory stays out of this one.
        subprocess.run(
            [
                sys.executable,
                str(HERE / "analytics_data.py"),
                "--customers",
                str(args.customers),
                "--out",
                str(path),
            ],
            check=True,
        )
    wafa = [
        sys.executable,
        "-c",
        "import sys; from wafa.cli.main import main; sys.argv[0] = 'wafa'; main()",
        "analyze",
        str(path),
        "--json",
        str(args.workdir / "vs.json"),
        *(["--out", str(args.workdir / "vs.html")] if args.report else []),
        "--quiet",
    ]
    lifetimes = [str(LIFETIMES_PY), str(HERE / "_lifetimes_analyze.py"), str(path)]
    wafa_name = "wafa analyze" + (" (with the HTML report)" if args.report else "")
    jobs = {wafa_name: wafa}
    if args.before is not None:
        before = [*wafa]
        before[before.index(str(args.workdir / "vs.json"))] = str(args.workdir / "before.json")
        jobs[f"wafa analyze from {args.before.name}"] = [
            "env",
            f"PYTHONPATH={(args.before / 'src').resolve()}",
            *before,
        ]
    jobs["lifetimes: summary + BG/NBD + Gamma-Gamma"] = lifetimes
    if not args.no_forecast:
        jobs["lifetimes: the same + every customer's forecast"] = [*lifetimes, "--predict"]
    load_start = os.getloadavg()
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in jobs}
    steps: dict[str, dict[str, float]] = {}
    for i in range(args.runs):
        for name, command in jobs.items():
            wall, cpu, peak, out = run(command)
            results[name].append((wall, cpu, peak))
            if out.strip().startswith("{"):
                steps[name] = json.loads(out.strip().splitlines()[-1])["steps"]
            print(f"run {i + 1}: {name}: {wall:.1f} s wall, {cpu:.1f} s CPU, {peak:.0f} MB")
    written = json.loads((args.workdir / "vs.json").read_text())
    wafa_steps = written.get("timings", {})
    wafa_cpu = written.get("cpu_timings", {})
    median = {n: [statistics.median(v[k] for v in r) for k in range(3)] for n, r in results.items()}
    base = median[wafa_name]
    load = os.getloadavg()
    lines = [
        "## Analytics: `wafa analyze` against lifetimes, whole processes",
        "",
        f"`{path.name}` ({path.stat().st_size / 1e6:.0f} MB, {args.customers:,} customers); "
        f"{args.runs} alternating runs of each, medians; {os.cpu_count()} cores, load average "
        f"{load_start[0]:.1f} at the start and {load[0]:.1f} at the end. Each process is timed from start to exit, imports included.",
        "",
        "| process | wall s | CPU s | peak MB | wafa is faster by (wall) | (CPU) |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {n} | {m[0]:.1f} | {m[1]:.1f} | {m[2]:.0f} | "
            + ("— | —" if n == wafa_name else f"{m[0] / base[0]:.2f}× | {m[1] / base[1]:.2f}×")
            + " |"
            for n, m in median.items()
        ),
        "",
        "Steps of the last runs (s): wafa "
        + ", ".join(f"{k} {v:.1f}" for k, v in wafa_steps.items())
        + " (CPU: "
        + ", ".join(f"{k} {v:.1f}" for k, v in wafa_cpu.items())
        + ")"
        + "; lifetimes "
        + "; ".join(
            f"{n.split(': ')[1]}: " + ", ".join(f"{k} {v:.1f}" for k, v in s.items())
            for n, s in steps.items()
        ),
        "",
        "Individual runs (wall s): "
        + "; ".join(f"{n}: " + ", ".join(f"{v[0]:.1f}" for v in r) for n, r in results.items()),
        "",
        "Command: `.venv/bin/python benchmarks/analytics_vs_lifetimes.py --runs "
        + f"{args.runs}{' --report' if args.report else ''}"
        + f"{' --no-forecast' if args.no_forecast else ''}"
        + (f" --before {args.before}" if args.before is not None else "")
        + "`",
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
