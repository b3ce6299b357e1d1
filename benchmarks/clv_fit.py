"""Benchmark: Wafa's customer-base models against lifetimes, same data, one run.

Fits BG/NBD, Pareto/NBD and Gamma-Gamma with ``wafa.analytics.models`` and with
lifetimes 0.11 on (1) the CDNOW calibration sample (2,357 customers) and (2) a
synthetic store of 1,000,000 customers drawn from a BG/NBD process (CDNOW's
parameters, T uniform on 26-52 weeks, times rounded to days, Gamma-Gamma spend), and
reports the median fitting time of a few repeats, the ratio, and both log-likelihoods
(each library's own formula at its own optimum).

lifetimes is never a dependency of Wafa: it runs in its own virtual environment,
``benchmarks/.venv-lifetimes`` (created on first use with
``python -m venv benchmarks/.venv-lifetimes && benchmarks/.venv-lifetimes/bin/pip install
lifetimes pandas numpy scipy``), through ``benchmarks/_clv_lifetimes_runner.py`` in a
subprocess that prints JSON.

Usage (from the repository root)::

    .venv/bin/python benchmarks/clv_fit.py                # full run, ~25 minutes
    .venv/bin/python benchmarks/clv_fit.py --n 100000     # smaller store
    .venv/bin/python benchmarks/clv_fit.py --skip-lifetimes

Results are printed as a Markdown table and saved to ``benchmarks/out/clv_fit.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from wafa.analytics.models import BetaGeoModel, GammaGammaModel, ParetoNBDModel
from wafa.analytics.models.simulate import simulate_bgnbd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
LIFETIMES_VENV = HERE / ".venv-lifetimes"
LIFETIMES_PY = LIFETIMES_VENV / "bin" / "python"
RUNNER = HERE / "_clv_lifetimes_runner.py"
CDNOW = (
    Path(os.environ.get("WAFA_SHARED_DATA") or ROOT / ".." / "shared" / "data")
    / "cdnow"
    / "CDNOW_sample.txt"
)


def cdnow_summary() -> dict[str, np.ndarray]:
    """Calibration summary of CDNOW_sample.txt: weeks, one transaction per day."""
    end = dt.date(1997, 9, 30)
    days: dict[int, dict[dt.date, float]] = {}
    for line in CDNOW.read_text().splitlines():
        f = line.split()
        if f:
            d = dt.date(int(f[2][:4]), int(f[2][4:6]), int(f[2][6:]))
            per = days.setdefault(int(f[1]), {})
            per[d] = per.get(d, 0.0) + float(f[4])
    rows = []
    for c in sorted(days):
        cal = sorted((d, v) for d, v in days[c].items() if d <= end)
        rep = [v for _, v in cal[1:]]
        rows.append(
            (
                len(rep),
                (cal[-1][0] - cal[0][0]).days / 7,
                (end - cal[0][0]).days / 7,
                float(np.mean(rep)) if rep else 0.0,
            )
        )
    a = np.array(rows)
    return {"frequency": a[:, 0], "recency": a[:, 1], "T": a[:, 2], "monetary_value": a[:, 3]}


def synthetic(n: int, seed: int) -> dict[str, np.ndarray]:
    d = simulate_bgnbd(
        n,
        r=0.243,
        alpha=4.414,
        a=0.793,
        b=2.426,
        t_min=26.0,
        t_max=52.0,
        spend=(6.25, 3.74, 15.44),
        random_state=seed,
    )
    return {
        "frequency": d.frequency,
        "recency": d.recency,
        "T": d.T,
        "monetary_value": d.monetary_value,
    }


def time_wafa(model: str, data: dict[str, np.ndarray], repeats: int) -> dict[str, Any]:
    full = (data["frequency"], data["recency"], data["T"], data["monetary_value"])
    times = []
    fitted: Any = None
    for i in range(repeats + 1):
        # Run 0 is an untimed warm-up on 2,000 customers (SciPy loads modules lazily).
        x, tx, big_t, m = (c[:2000] for c in full) if i == 0 else full
        t0 = time.perf_counter()
        if model == "bgnbd":
            fitted = BetaGeoModel().fit(x, tx, big_t)
        elif model == "pareto":
            fitted = ParetoNBDModel().fit(x, tx, big_t)
        else:
            keep = x > 0
            fitted = GammaGammaModel().fit(x[keep], m[keep])
        if i:
            times.append(time.perf_counter() - t0)
    return {
        "times": times,
        "median": statistics.median(times),
        "params": list(vars(fitted.params_).values()),
        "log_likelihood": fitted.log_likelihood_,
    }


def ensure_lifetimes_venv() -> None:
    if LIFETIMES_PY.exists():
        return
    print(f"creating {LIFETIMES_VENV} (lifetimes, pandas, numpy, scipy)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(LIFETIMES_VENV)], check=True)
    subprocess.run(
        [str(LIFETIMES_PY), "-m", "pip", "install", "-q", "lifetimes", "pandas", "numpy", "scipy"],
        check=True,
    )


def time_lifetimes(model: str, path: Path, repeats: int, weighted: bool) -> dict[str, Any]:
    cmd = [str(LIFETIMES_PY), str(RUNNER), str(path), model, str(repeats)]
    if weighted:
        cmd.append("--weighted")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def lifetimes_version() -> str:
    proc = subprocess.run(
        [
            str(LIFETIMES_PY),
            "-c",
            "import lifetimes, pandas, numpy, scipy;"
            "print(lifetimes.__version__, pandas.__version__, numpy.__version__, scipy.__version__)",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="customers in the synthetic store")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--repeats", type=int, default=3, help="repeats per fit (median reported)")
    parser.add_argument(
        "--slow-repeats",
        type=int,
        default=1,
        help="repeats for lifetimes' Pareto/NBD on the synthetic store (minutes per fit)",
    )
    parser.add_argument("--skip-lifetimes", action="store_true")
    parser.add_argument(
        "--models", nargs="+", default=["bgnbd", "pareto", "gamma"], help="subset to run"
    )
    parser.add_argument("--out", default="clv_fit.json", help="file name in benchmarks/out/")
    parser.add_argument(
        "--weighted-lifetimes",
        action="store_true",
        help="also time lifetimes given the distinct triples with weights",
    )
    args = parser.parse_args()

    OUT.mkdir(exist_ok=True)
    datasets = {
        "CDNOW (2,357)": cdnow_summary(),
        f"synthetic ({args.n:,})": synthetic(args.n, args.seed),
    }
    if not args.skip_lifetimes:
        ensure_lifetimes_venv()
    report: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "lifetimes_env": None if args.skip_lifetimes else lifetimes_version(),
        "command": " ".join([".venv/bin/python", "benchmarks/clv_fit.py", *sys.argv[1:]]),
        "results": [],
    }
    rows = []
    for name, data in datasets.items():
        slug = "cdnow" if name.startswith("CDNOW") else f"synthetic_{args.n}_{args.seed}"
        path = OUT / f"clv_{slug}.npz"
        np.savez(
            path,
            frequency=data["frequency"],
            recency=data["recency"],
            T=data["T"],
            monetary_value=data["monetary_value"],
        )
        big = not name.startswith("CDNOW")
        for model in args.models:
            w = time_wafa(model, data, args.repeats)
            entry: dict[str, Any] = {"dataset": name, "model": model, "wafa": w}
            if not args.skip_lifetimes:
                reps = args.slow_repeats if (big and model == "pareto") else args.repeats
                lt = time_lifetimes(model, path, reps, weighted=False)
                entry["lifetimes"] = lt
                if args.weighted_lifetimes and big:
                    entry["lifetimes_weighted"] = time_lifetimes(model, path, 1, weighted=True)
            report["results"].append(entry)
            rows.append(entry)
            print(json.dumps(entry), flush=True)
    report["openblas_num_threads"] = os.environ.get("OPENBLAS_NUM_THREADS")
    (OUT / args.out).write_text(json.dumps(report, indent=2))

    print(
        "\n| data | model | Wafa median (s) | lifetimes median (s) | ratio | Wafa LL | lifetimes LL | rel. diff |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for e in rows:
        w = e["wafa"]
        lt = e.get("lifetimes", {})
        if "median" in lt:
            ratio = f"{lt['median'] / w['median']:.0f}x"
            rel = abs(w["log_likelihood"] - lt["log_likelihood"]) / abs(lt["log_likelihood"])
            cells = [
                f"{lt['median']:.3g}",
                ratio,
                f"{w['log_likelihood']:.6f}",
                f"{lt['log_likelihood']:.6f}",
                f"{rel:.1e}",
            ]
        else:
            cells = [str(lt.get("error", "-")), "-", f"{w['log_likelihood']:.6f}", "-", "-"]
        print(f"| {e['dataset']} | {e['model']} | {w['median']:.3g} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
