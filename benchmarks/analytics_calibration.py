"""Calibration of Wafa's predictive ranges: nominal level against observed coverage.

Simulated stores with known BG/NBD parameters (CDNOW's: r 0.243, alpha 4.414, a 0.793,
b 2.426; first purchases spread over a year; times in days), each with what every
customer buys in the 39 weeks after the calibration period. For every store Wafa fits
and chooses its model on the calibration period alone and forecasts the holdout window
at several levels; the script counts how often the actual number fell inside the range:
per customer, and for the store total. A perfectly calibrated range lies on the
diagonal. CDNOW itself (2,357 customers, 39 + 39 weeks) is added as a real store.

Writes ``docs/analytics-calibration.svg`` (the plot shown in the README) and a section
of ``benchmarks/results/analytics.md``.

    .venv/bin/python benchmarks/analytics_calibration.py --stores 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wafa.analytics.fitting import FitSettings, fit_models  # noqa: E402
from wafa.analytics.models.simulate import simulate_bgnbd  # noqa: E402
from wafa.analytics.predicting import model_window  # noqa: E402
from wafa.analytics.summary import RFMArrays  # noqa: E402

LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
HOLDOUT_WEEKS = 39.0


def store_coverage(
    calibration: RFMArrays, actual: np.ndarray, levels: tuple[float, ...]
) -> tuple[str, list[tuple[float, float]], list[bool]]:
    """Fit, choose, and forecast the holdout at each level.

    Returns, per level, the customers' average stated chance of their range with the share
    of them whose actual count fell inside, and whether the store total fell inside.
    """
    per_customer, total_inside = [], []
    fitted = fit_models(calibration, FitSettings(money_scale=100.0))
    if fitted.chosen is None:
        return "none", [], []
    chosen = fitted.chosen
    for level in levels:
        fitted.settings = replace(fitted.settings, level=level)
        window = model_window(fitted, chosen, calibration, HOLDOUT_WEEKS * 7)
        inside = (window.low <= actual) & (actual <= window.high)
        per_customer.append((float(window.chance.mean()), float(inside.mean())))
        total_inside.append(bool(window.total_low <= actual.sum() <= window.total_high))
    return chosen, per_customer, total_inside


def simulated(n: int, seed: np.random.SeedSequence) -> tuple[RFMArrays, np.ndarray]:
    d = simulate_bgnbd(
        n,
        r=CDNOW["r"],
        alpha=CDNOW["alpha"],
        a=CDNOW["a"],
        b=CDNOW["b"],
        t_min=26,
        t_max=52,
        holdout=HOLDOUT_WEEKS,
        random_state=np.random.default_rng(seed),
    )
    cal = RFMArrays(
        np.arange(n), d.frequency, d.recency, d.T, np.where(d.frequency > 0, 2500.0, 0.0)
    )
    return cal, d.holdout_frequency.astype(np.int64)


def cdnow() -> tuple[RFMArrays, np.ndarray] | None:
    sys.path.insert(0, str(ROOT / "tests"))
    from tests.analytics.models.cdnow import available, load_summary

    if not available():
        return None
    d = load_summary()
    cal = RFMArrays(np.arange(d.frequency.shape[0]), d.frequency, d.recency, d.T, d.monetary_value)
    return cal, d.holdout_frequency.astype(np.int64)


def svg(series: dict[str, list[tuple[float, float]]], path: Path) -> None:
    """A small line chart, written by hand (no plotting dependency)."""
    w, h, pad = 520, 400, 56
    lo, hi = 0.4, 1.0

    def x(v: float) -> float:
        return pad + (v - lo) / (hi - lo) * (w - 2 * pad)

    def y(v: float) -> float:
        return h - pad - (v - lo) / (hi - lo) * (h - 2 * pad)

    colours = ["#137a47", "#2563c9", "#d9622b", "#8250df", "#59636e"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        'font-family="Segoe UI, Arial, sans-serif" font-size="12" role="img" '
        'aria-label="Stated chance of the ranges against the share of actual numbers inside">',
        f'<rect width="{w}" height="{h}" fill="#fff"/>',
    ]
    for t in (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        parts.append(
            f'<line x1="{x(lo)}" y1="{y(t)}" x2="{x(hi)}" y2="{y(t)}" stroke="#e5e7eb"/>'
            f'<text x="{pad - 8}" y="{y(t) + 4}" text-anchor="end" fill="#59636e">{t:.0%}</text>'
            f'<line x1="{x(t)}" y1="{y(lo)}" x2="{x(t)}" y2="{y(hi)}" stroke="#e5e7eb"/>'
            f'<text x="{x(t)}" y="{h - pad + 18}" text-anchor="middle" fill="#59636e">{t:.0%}</text>'
        )
    parts.append(
        f'<line x1="{x(lo)}" y1="{y(lo)}" x2="{x(hi)}" y2="{y(hi)}" stroke="#9ca3af" '
        'stroke-dasharray="4 4"/>'
    )
    parts.append(
        f'<text x="{w / 2}" y="{h - 12}" text-anchor="middle" fill="#1f2328">'
        "Chance of the range, as the model states it</text>"
        f'<text x="16" y="{h / 2}" text-anchor="middle" fill="#1f2328" '
        f'transform="rotate(-90 16 {h / 2})">Share of actual numbers inside</text>'
    )
    for i, (name, values) in enumerate(series.items()):
        colour = colours[i % len(colours)]
        points = " ".join(f"{x(c)},{y(v)}" for c, v in values)
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        for c, v in values:
            parts.append(f'<circle cx="{x(c)}" cy="{y(v)}" r="3" fill="{colour}"/>')
        ly = pad + 4 + 18 * i
        parts.append(
            f'<line x1="{pad + 12}" y1="{ly}" x2="{pad + 32}" y2="{ly}" stroke="{colour}" '
            f'stroke-width="2"/><text x="{pad + 38}" y="{ly + 4}" fill="#1f2328">{name}</text>'
        )
    parts.append("</svg>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=20, help="Simulated stores per size.")
    parser.add_argument("--svg", type=Path, default=ROOT / "docs" / "analytics-calibration.svg")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    started = time.perf_counter()
    seeds = np.random.SeedSequence(2016).spawn(2 * args.stores)
    series: dict[str, list[tuple[float, float]]] = {}
    table: list[str] = []
    for label, n, block in (
        ("2,000 customers", 2000, seeds[: args.stores]),
        ("50 customers", 50, seeds[args.stores :]),
    ):
        customers: list[list[tuple[float, float]]] = []
        totals: list[list[bool]] = []
        chosen: list[str] = []
        for seed in block:
            cal, actual = simulated(n, seed)
            name, per_customer, total_inside = store_coverage(cal, actual, LEVELS)
            chosen.append(name)
            if per_customer:
                customers.append(per_customer)
                totals.append(total_inside)
        c = [tuple(v) for v in np.mean(customers, axis=0).tolist()]
        t = np.mean(totals, axis=0).tolist()
        series[f"{label}, each customer"] = [(a, b) for a, b in c]
        series[f"{label}, store total"] = list(zip(LEVELS, t, strict=True))
        table.append(
            f"| {label} ({len(customers)} of {len(block)} stores with a usable model; chosen: "
            f"{', '.join(f'{k} {chosen.count(k)}' for k in sorted(set(chosen)))}) | "
            + " | ".join(f"{a:.1%} → {b:.1%} / {tt:.0%}" for (a, b), tt in zip(c, t, strict=True))
            + " |"
        )
        print(label, c, [round(v, 2) for v in t])
    real = cdnow()
    if real is not None:
        _, per_customer, total_inside = store_coverage(*real, LEVELS)
        series["CDNOW, each customer"] = per_customer
        table.append(
            "| CDNOW (2,357 customers, one store) | "
            + " | ".join(
                f"{a:.1%} → {b:.1%} / {'in' if tt else 'out'}"
                for (a, b), tt in zip(per_customer, total_inside, strict=True)
            )
            + " |"
        )
        print("CDNOW", per_customer, total_inside)
    svg(series, args.svg)
    elapsed = time.perf_counter() - started
    lines = [
        "## Analytics: calibration of the predictive ranges",
        "",
        f"Simulated BG/NBD stores with CDNOW's parameters, {args.stores} per size "
        "(`SeedSequence(2016)`), 39-week holdout; the model is fitted and chosen on the "
        "calibration period only. Columns are the nominal levels. Each cell: the chance the "
        "model gives the customers' ranges (on average; whole numbers rarely allow exactly "
        "the nominal level, and a range can hold no less than its lowest count) → the share of "
        "customers whose actual holdout purchases fell inside / the share of stores whose "
        "actual total fell inside the store's range (nominal level). "
        f"{os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}, {elapsed:.0f} s.",
        "",
        "| stores | " + " | ".join(f"{lv:.0%}" for lv in LEVELS) + " |",
        "|---|" + "---:|" * len(LEVELS),
        *table,
        "",
        f"Plot: `{args.svg.relative_to(ROOT)}`. Command: `.venv/bin/python "
        f"benchmarks/analytics_calibration.py --stores {args.stores}`",
        "",
    ]
    args.results.mkdir(parents=True, exist_ok=True)
    target = args.results / "analytics.md"
    existing = target.read_text() if target.exists() else ""
    marker = "## Analytics: calibration of the predictive ranges"
    if marker in existing:
        before, after = existing.split(marker, 1)
        rest = "\n## " + after.split("\n## ", 1)[1] if "\n## " in after else ""
        existing = before.rstrip() + rest
    target.write_text(existing.rstrip() + "\n\n" + "\n".join(lines))
    print(f"wrote {args.svg} and {target}; {statistics.mean([elapsed]):.0f} s")


if __name__ == "__main__":
    main()
