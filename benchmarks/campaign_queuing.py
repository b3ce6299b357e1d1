"""The worker's queuing of a campaign alone: CPU and wall time per recipient (PostgreSQL).

    .venv/bin/python benchmarks/campaign_queuing.py [--recipients 20000] [--before REV]
        [--rounds 3] [--out benchmarks/results/messaging.md]

Builds a fresh database with N customers who accept email (COPY), a segment of them and a
campaign (10 % holdout), sends it (the segment's snapshot), then times, in a child
process, what the worker's ``messaging.campaigns`` task does until every recipient is
queued or held out (``wafa.messaging.campaigns.jobs.queue_due``, pass after pass): wall
seconds and the child's CPU seconds (``time.process_time``: the Python side, which is
the worker's cost; PostgreSQL's own CPU is not in it). No SMTP, no sending: the
``messaging_send.py --campaign`` run has the whole path. With ``--before REV`` the child
imports git revision REV's code (``git archive``, ``PYTHONPATH``) and this checkout's in
turns, each on its own fresh database; medians and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from _common import drop_database, fresh_database, write_section
from messaging_send import SECRET, build, revision_tree

from wafa.core.db import dispose_engines

CHILD = r"""
import json, sys, time, uuid
from wafa.core.db import dispose_engines, session_factory
from wafa.core.settings import Settings
from wafa.messaging.campaigns import jobs
settings = Settings(database_url=sys.argv[1], secret_key=sys.argv[2])
factory = session_factory(settings)
with factory() as s:  # connect and warm the pool first: the timing is the queuing
    s.connection()
wall, cpu, total = time.perf_counter(), time.process_time(), 0
while True:
    handled = jobs.queue_due(factory, settings)["recipients"]
    total += handled
    if not handled:
        break
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                  "handled": total}))
dispose_engines()
"""


def one(n: int, src: Path | None) -> dict[str, float]:
    url = fresh_database("bench_queuing")
    try:
        build(url, n, campaign=True)
        env = {**os.environ}
        if src is not None:
            env["PYTHONPATH"] = str(src)
        done = subprocess.run(
            [sys.executable, "-c", CHILD, url, SECRET],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
        assert found["handled"] == n, found
        return found
    finally:
        dispose_engines()
        drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--before", metavar="REV")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    sides: dict[str, Path | None] = {}
    if args.before:
        sides[f"before ({args.before})"] = revision_tree(args.before)
    sides["this checkout"] = None
    results: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
    loads: list[float] = []
    for turn in range(args.rounds):
        for side, src in sides.items():
            found = one(args.recipients, src)
            load = os.getloadavg()[0]
            loads.append(load)
            results[side].append(found)
            print(
                f"turn {turn + 1} {side}: {found['wall']:.2f} s wall, {found['cpu']:.2f} s CPU, "
                f"load {load:.1f}",
                flush=True,
            )
    n = args.recipients
    rows = []
    medians = {
        side: {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu")}
        for side, runs in results.items()
    }
    for key, label in (("cpu", "worker CPU ms per recipient"), ("wall", "wall ms per recipient")):
        cells = [f"{1000 * medians[side][key] / n:.3f}" for side in sides]
        ratio = ""
        if args.before:
            first, last = (medians[side][key] for side in sides)
            ratio = f" | {last / first:.2f}"
        rows.append(f"| {label} | {' | '.join(cells)}{ratio} |")
    head = " | ".join(sides) + (" | after / before" if args.before else "")
    table = (
        f"| median of {args.rounds}, {n:,} recipients | {head} |\n"
        f"|---|{'---:|' * (len(sides) + (1 if args.before else 0))}\n" + "\n".join(rows) + "\n"
    )
    print(table)
    print(f"load (1 min) after each run: {', '.join(f'{x:.1f}' for x in loads)}")
    if args.out:
        before = f" --before {args.before}" if args.before else ""
        body = (
            "### Campaign queuing alone (the worker's messaging.campaigns task)\n\n"
            f"Command: `.venv/bin/python benchmarks/campaign_queuing.py --recipients {n}"
            f"{before} --rounds {args.rounds}`\n\n{table}\n"
            f"Load average (1 min) after each run: {', '.join(f'{x:.1f}' for x in loads)} "
            "(two cores). CPU is the queuing process's own (Python and psycopg), not "
            "PostgreSQL's.\n"
        )
        write_section(args.out, "campaign_queuing_pg", body, title="Messaging")


if __name__ == "__main__":
    main()
