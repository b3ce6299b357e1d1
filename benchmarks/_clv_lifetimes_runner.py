"""Fit lifetimes' models on a saved data set and print timings as JSON.

Run by ``benchmarks/clv_fit.py`` with the interpreter of a separate virtual environment
that has lifetimes installed (lifetimes is never a dependency of Wafa). Usage::

    python _clv_lifetimes_runner.py DATA.npz MODEL REPEATS [--weighted]

MODEL is ``bgnbd``, ``pareto`` or ``gamma``. ``--weighted`` passes the distinct
(frequency, recency, T) triples with counts, through lifetimes' own ``weights``
argument, instead of one row per customer.
"""

import json
import statistics
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")

from lifetimes import BetaGeoFitter, GammaGammaFitter, ParetoNBDFitter  # noqa: E402


def distinct(*cols):
    stacked = np.column_stack(cols)
    uniq, counts = np.unique(stacked, axis=0, return_counts=True)
    return [uniq[:, i] for i in range(uniq.shape[1])], counts.astype(float)


def main() -> None:
    path, model, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
    weighted = "--weighted" in sys.argv
    data = np.load(path)
    x, tx, big_t, m = data["frequency"], data["recency"], data["T"], data["monetary_value"]
    times = []
    result: dict = {"model": model, "weighted": weighted, "n": int(x.shape[0])}
    full = (x, tx, big_t, m)
    for i in range(repeats + 1):
        # Run 0 is an untimed warm-up on 2,000 customers (imports, autograd tracing).
        x, tx, big_t, m = (c[:2000] for c in full) if i == 0 else full
        np.random.seed(i)  # lifetimes' Pareto/NBD starts Nelder-Mead from random values
        if model == "bgnbd":
            cols, w = distinct(x, tx, big_t) if weighted else ((x, tx, big_t), None)
            t0 = time.perf_counter()
            f = BetaGeoFitter().fit(*cols, weights=w)
            times.append(time.perf_counter() - t0)
            p = f.params_
            params = [p["r"], p["alpha"], p["a"], p["b"]]
            ll = (
                -BetaGeoFitter._negative_log_likelihood(
                    np.log(params), x, tx, big_t, np.ones_like(x), 0.0
                )
                * x.shape[0]
            )
        elif model == "pareto":
            cols, w = distinct(x, tx, big_t) if weighted else ((x, tx, big_t), None)
            t0 = time.perf_counter()
            f = ParetoNBDFitter().fit(*cols, weights=w)
            times.append(time.perf_counter() - t0)
            p = f.params_
            params = [p["r"], p["alpha"], p["s"], p["beta"]]
            per = ParetoNBDFitter._conditional_log_likelihood(params, x, tx, big_t)
            result["nan_rows"] = int(np.isnan(per).sum())
            ll = float(np.nansum(per))
        elif model == "gamma":
            keep = x > 0
            xr, mr = x[keep], m[keep]
            cols, w = distinct(xr, mr) if weighted else ((xr, mr), None)
            t0 = time.perf_counter()
            f = GammaGammaFitter().fit(*cols, weights=w)
            times.append(time.perf_counter() - t0)
            p = f.params_
            params = [p["p"], p["q"], p["v"]]
            ll = (
                -GammaGammaFitter._negative_log_likelihood(
                    np.log(params), xr, mr, np.ones_like(xr), 0.0
                )
                * xr.shape[0]
            )
        else:
            raise SystemExit(f"unknown model {model}")
    times = times[1:]
    result.update(
        times=times,
        median=statistics.median(times),
        params=[float(v) for v in params],
        log_likelihood=float(ll),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
