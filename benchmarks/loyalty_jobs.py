"""The loyalty daily jobs on 1,000,000 customers (PostgreSQL).

    .venv/bin/python benchmarks/loyalty_jobs.py [--customers 1000000] [--out benchmarks/results/loyalty_jobs.md]

Builds a fresh database with bulk ``COPY``: the customers (70 % with a birthday,
a fifth of those in the Jalali calendar), their loyalty accounts, about 2.5 earn
entries and lots each (some pending and due today, some expiring today or in 7 or
30 days), purchases, tiers with reviews due, streaks about to break. Every account
equals its ledger, as the engine would have left it. Then it runs the day's jobs
with ``wafa.loyalty.jobs.run_daily`` (the same code as ``wafa worker`` and
``wafa loyalty run-daily``: batches, one transaction each, resumable) and reports
each job's time and work. Target: under 2 minutes for the whole day.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import drop_database, fresh_database, write_section
from sqlalchemy import func, select, text

from wafa.core.db import get_engine, session_factory, session_scope
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import set_clock
from wafa.loyalty import jobs, ledger, program
from wafa.loyalty.models import JobRun, LoyaltyAccount, PointsEntry
from wafa.loyalty.schemas.program import ProgramRules

ROOT = Path(__file__).resolve().parent

NOW = datetime(2026, 6, 15, 3, 0, tzinfo=UTC)
TODAY = date(2026, 6, 15)


def _copy(cursor: Any, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def build(url: str, customers: int, seed: int) -> dict[str, int]:
    """Write the store with COPY, chunk by chunk; returns what was written."""
    rng = random.Random(seed)
    engine = get_engine(Settings.model_validate({"database_url": url}))
    written = {"customers": 0, "entries": 0, "lots": 0, "purchases": 0}
    week0 = (TODAY - timedelta(days=TODAY.weekday()) - date(1970, 1, 5)).days // 7
    chunk = 50_000
    for start in range(0, customers, chunk):
        cust, acct, entries, lots, purchases = [], [], [], [], []
        for i in range(start, min(customers, start + chunk)):
            cid = new_id()
            created = NOW - timedelta(days=rng.randint(20, 1100))
            birthday: tuple[Any, ...] = (None, None, None, None)
            if rng.random() < 0.7:
                jalali = rng.random() < 0.2
                birthday = (
                    rng.randint(1, 29 if jalali else 28),
                    rng.randint(1, 12),
                    "jalali" if jalali else "gregorian",
                    created,
                )
            cust.append(
                (cid, f"Customer {i}", f"customer {i}", f"c{i}@bench.example.com", *birthday,
                 "[]", "bench", False, False, created, created)
            )  # fmt: skip
            available = pending = lifetime = spend = 0
            for _ in range(rng.choice((1, 2, 2, 3, 4))):
                points = rng.randint(5, 120)
                earned = NOW - timedelta(days=rng.randint(0, 360), hours=rng.randint(0, 23))
                available_at = earned + timedelta(days=14)
                released = available_at <= NOW - timedelta(days=1)  # yesterday's release ran
                expires = datetime.combine(
                    earned.date() + timedelta(days=365), datetime.min.time(), tzinfo=UTC
                )
                if rng.random() < 0.003:
                    expires = NOW - timedelta(hours=1)  # lapsing today
                entry = new_id()
                order = uuid.uuid4()
                entries.append((entry, cid, "earn", points, 0, 0, "order", f"order:{order}:base",
                                "base", 1, order, earned))  # fmt: skip
                lots.append((new_id(), cid, entry, entry, points, points, available_at, expires,
                             released, earned))  # fmt: skip
                spend_amount = points * 100
                purchases.append((order, cid, earned, earned.date(), spend_amount, points, "[]",
                                  "online", False, False, 1, earned))  # fmt: skip
                spend += spend_amount
                lifetime += points
                if released:
                    available += points
                else:
                    pending += points
            tier = None
            review = None
            if lifetime >= 150:
                tier = "gold" if lifetime >= 300 else "silver"
                review = (
                    TODAY if rng.random() < 0.01 else TODAY + timedelta(days=rng.randint(1, 360))
                )
            # Most bought this week or last; 3 % last bought two weeks ago: their streak breaks today.
            streak_period = week0 - rng.choices((0, 1, 2), weights=(50, 47, 3))[0]
            acct.append(
                (cid, available, pending, lifetime, 0, 0, 0, tier, review, created.date(),
                 NOW.date() - timedelta(days=rng.randint(0, 60)), 1, rng.randint(0, 5), 5,
                 streak_period, False, spend, "[]", "[]", created, created)
            )  # fmt: skip
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            _copy(cur, "customers",
                  ["id", "name", "search_name", "email", "birth_day", "birth_month", "birth_calendar",
                   "birthday_set_at", "tags", "source", "email_consent", "sms_consent", "created_at",
                   "updated_at"], cust)  # fmt: skip
            _copy(cur, "loyalty_accounts",
                  ["customer_id", "available", "pending", "lifetime", "carried", "debt", "lock_version",
                   "tier_code", "tier_review_on", "joined_on", "last_purchase_on", "visits",
                   "streak_current", "streak_best", "streak_period", "leaderboard_opt_in", "spend",
                   "categories", "badge_codes", "created_at", "updated_at"], acct)  # fmt: skip
            _copy(cur, "points_entries",
                  ["id", "customer_id", "kind", "points", "carried", "forgiven", "reason", "occasion",
                   "rule", "rule_version", "order_id", "created_at"], entries)  # fmt: skip
            _copy(cur, "points_lots",
                  ["id", "customer_id", "entry_id", "origin_entry_id", "points", "remaining",
                   "available_at", "expires_at", "released", "created_at"], lots)  # fmt: skip
            _copy(cur, "loyalty_purchases",
                  ["order_id", "customer_id", "placed_at", "placed_on", "spend", "points", "categories",
                   "channel", "imported", "cancelled", "rule_version", "created_at"], purchases)  # fmt: skip
            raw.commit()
        finally:
            raw.close()
        written["customers"] += len(cust)
        written["entries"] += len(entries)
        written["lots"] += len(lots)
        written["purchases"] += len(purchases)
        print(f"  wrote {written['customers']:,} customers", flush=True)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    return written


def rules() -> ProgramRules:
    return ProgramRules.model_validate(
        {
            "expiry": {"policy": "fixed", "months": 12},
            "tiers": {
                "enabled": True,
                "basis": "points",
                "levels": [
                    {"code": "silver", "name": "Silver", "threshold": 150},
                    {"code": "gold", "name": "Gold", "threshold": 300},
                ],
                "grace_days": 0,
            },
            "birthday": {"enabled": True, "points": 50, "cooloff_days": 30},
            "streaks": {"enabled": True, "period": "week"},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "loyalty.md")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument(
        "--retier", action="store_true", help="Also time the full pass after a tier-rules change."
    )
    args = parser.parse_args()
    url = fresh_database("wafa_jobs_bench")
    settings = Settings.model_validate({"database_url": url})
    try:
        started = time.monotonic()
        set_clock(lambda: NOW - timedelta(days=400))
        with session_scope(settings) as s:
            program.save_rules(s, rules=rules(), by="bench")
        set_clock(lambda: NOW)
        written = build(url, args.customers, args.seed)
        built = time.monotonic() - started
        print(f"built in {built:.0f} s: {json.dumps(written)}", flush=True)
        factory = session_factory(settings)
        with session_scope(settings) as s:
            # Steady state: yesterday's "retier" run applied today's tier rules already.
            s.add(
                JobRun(
                    job="retier",
                    run_on=TODAY - timedelta(days=1),
                    status="done",
                    processed=0,
                    started_at=NOW - timedelta(days=1),
                    finished_at=NOW - timedelta(days=1),
                    details={"tiers": jobs._tier_rules_key(rules())},
                )
            )
        timings: dict[str, tuple[float, int]] = {}
        cpu0 = time.process_time()
        t0 = time.monotonic()
        for job in jobs.JOBS:
            t = time.monotonic()
            n = jobs.run_job(factory, settings, job, TODAY)
            timings[job.name] = (time.monotonic() - t, n)
            print(f"  {job.name:10} {timings[job.name][0]:7.1f} s  {n:>9,}", flush=True)
        total = time.monotonic() - t0
        cpu = time.process_time() - cpu0
        again = time.monotonic()
        rerun = jobs.run_daily(factory, settings, TODAY)
        rerun_s = time.monotonic() - again
        with factory() as s:
            sample = list(
                s.scalars(select(LoyaltyAccount.customer_id).order_by(func.random()).limit(2000))
            )
            bad = sum(1 for cid in sample if ledger.check(s, cid))
            expired = s.scalar(
                select(func.count()).select_from(PointsEntry).where(PointsEntry.kind == "expire")
            )
        retier = ""
        if args.retier:
            # The one-off pass after the owner changes the tier rules: everyone re-checked.
            with session_scope(settings) as s:
                s.execute(
                    JobRun.__table__.delete().where(JobRun.job == "retier")  # type: ignore[attr-defined]
                )
            job = next(j for j in jobs.JOBS if j.name == "retier")
            t = time.monotonic()
            n = jobs.run_job(factory, settings, job, TODAY + timedelta(days=1))
            retier = (
                f" After a change of the tier rules, the one-off `retier` pass re-checked "
                f"{n:,} members in {time.monotonic() - t:.1f} s."
            )
        cmd = f".venv/bin/python benchmarks/loyalty_jobs.py --customers {args.customers}" + (
            " --retier" if args.retier else ""
        )
        lines = [
            f"### Daily jobs on {args.customers:,} customers (PostgreSQL)",
            "",
            f"Command: `{cmd}`",
            "",
            f"Store: {written['customers']:,} customers and accounts, {written['entries']:,} earn "
            f"entries and lots, {written['purchases']:,} purchases (built with COPY in {built:.0f} s). "
            f"One local day ({TODAY.isoformat()}) of every job, through `jobs.run_job` as the worker "
            "runs it (batches, one transaction each):",
            "",
            "| job | seconds | items |",
            "|---|---:|---:|",
            *[f"| {name} | {sec:.1f} | {n:,} |" for name, (sec, n) in timings.items()],
            f"| **all** | **{total:.1f}** | |",
            "",
            f"Client CPU {cpu:.1f} s; machine load {os.getloadavg()[0]:.1f} at the end. "
            f"A second run of the same day did nothing in {rerun_s:.2f} s ({sum(rerun.values())} items). "
            f"{expired:,} expiry entries; a random 2,000 accounts checked against their ledger "
            f"after the run: {bad} differences. Target: under 2 minutes.{retier}",
            "",
        ]
        write_section(args.out, "loyalty_jobs", "\n".join(lines), title="Loyalty engine")
        print("\n".join(lines))
    finally:
        set_clock(None)
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
