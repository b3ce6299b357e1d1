"""The flows' daily evaluation (win-back, birthday, replenishment, points expiring) on
PostgreSQL.

    .venv/bin/python benchmarks/flows_daily.py [--customers 100000] [--out benchmarks/results/flows.md]

Builds a fresh database with bulk ``COPY``: customers (70 % with a birthday, a fifth of
those Jalali), 1 to 8 orders each over the last 400 days with one or two lines of 40
products (a quarter of the customers buy one product on their own rhythm of 2 to 8
weeks), and, for 1 % of them, points lapsing 30 or 7 days after today. The segment
statistics are rebuilt (as the worker does daily) and, for steady state, every customer
win-back selects today already has a finished win-back enrolment from the last 1 to 91
days (its cooldown is 90: about one in 91 re-enters today, as it would in a store that
has been running).

Timed, for one local day: each flow's selection alone (the set-based statement), then
the whole day as the worker runs it: the loyalty engine's expiry warnings
(``warn_batch``) and the flows consumer turning them into messages (the worker's batched
draining), then ``jobs.run_day`` (win-back, birthday and replenishment entries, a chunk
at a time, with their first steps: a coupon and a queued message for win-back). SQL
statements are counted on the client (an ``executemany`` counts once); the day's own
peak RSS is read from ``VmHWM`` reset just before it (Linux). The issue's target is
1,000,000 customers in under 60 s with flat memory; the shared machine allows less, so
the size is a parameter and the figures say what was run. For the code before a change,
run this file with ``PYTHONPATH`` at the older checkout's ``src``.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import drop_database, fresh_database, write_section
from sqlalchemy import event, func, select, text

from wafa.core.db import get_engine, session_factory, session_scope
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import set_clock
from wafa.flows import handlers, jobs, presets, replenish, service
from wafa.flows.engine import definition_of
from wafa.flows.models import Enrolment, Flow
from wafa.flows.spec import DailyTrigger, ReplenishTrigger
from wafa.loyalty import jobs as loyalty_jobs
from wafa.loyalty import program
from wafa.loyalty.schemas.program import ProgramRules
from wafa.messaging.models import Message
from wafa.messaging.segments import service as segments
from wafa.messaging.segments import stats
from wafa.messaging.segments.rules import Rules
from wafa.worker.batch import drain_batched

ROOT = Path(__file__).resolve().parent

NOW = datetime(2026, 6, 15, 3, 0, tzinfo=UTC)
TODAY = date(2026, 6, 15)
PRODUCTS = 40


def _copy(cursor: Any, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def build(url: str, customers: int, seed: int, win_back: uuid.UUID) -> dict[str, int]:
    """Write the store with COPY, chunk by chunk; returns what was written."""
    rng = random.Random(seed)
    engine = get_engine(Settings.model_validate({"database_url": url}))
    products = [(new_id(), f"SKU-{p}", f"Product {p}") for p in range(PRODUCTS)]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        _copy(cur, "products",
              ["id", "sku", "name", "category", "price_amount", "currency", "repeatable", "active",
               "created_at"],
              [(pid, sku, name, "beans", 1200, "USD", True, True, NOW) for pid, sku, name in products])  # fmt: skip
        raw.commit()
    finally:
        raw.close()
    written = {"customers": 0, "orders": 0, "lines": 0, "expiring_lots": 0, "win_back_history": 0}
    chunk = 20_000
    n_order = 0
    for start in range(0, customers, chunk):
        cust, orders, lines, entries, lots, ways = [], [], [], [], [], []
        for i in range(start, min(customers, start + chunk)):
            cid = new_id()
            created = NOW - timedelta(days=rng.randint(400, 1100))
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
                 "[]", "bench", True, False, created, created)
            )  # fmt: skip
            if rng.random() < 0.25:  # a rhythm: one product every 2 to 8 weeks
                gap = rng.randint(14, 56)
                last = rng.randint(1, gap + 20)
                days = [last + gap * k + rng.randint(-2, 2) for k in range(rng.randint(2, 6))]
                product = [products[rng.randrange(PRODUCTS)]]
            else:
                days = sorted(rng.randint(1, 400) for _ in range(rng.choice((1, 1, 2, 3, 4, 8))))
                product = []
            for ago in days:
                n_order += 1
                oid = new_id()
                placed = NOW - timedelta(days=max(ago, 1), hours=rng.randint(0, 12))
                picks = product or rng.sample(products, rng.choice((1, 2)))
                total = 1200 * len(picks)
                orders.append(
                    (oid, "bench", f"b-{n_order}", "online", cid, "delivered", "USD", total, 0, 0,
                     0, total, 0, "[]", placed, placed, "{}")
                )  # fmt: skip
                for no, (pid, sku, name) in enumerate(picks, 1):
                    lines.append((new_id(), oid, no, pid, sku, name, "beans", 1, 1200, 0, 1200, 0))
            last_ago = min(days)
            if len(days) >= 2 and last_ago >= 90:  # win-back selects them: steady state
                entered = NOW - timedelta(days=rng.randint(1, 91), hours=1)
                ways.append(
                    (new_id(), win_back, cid, f"day:{entered.date().isoformat()}", "done", None, 6,
                     None, False, "{}", entered, entered)
                )  # fmt: skip
            if rng.random() < 0.01:  # points lapsing 30 or 7 days from today
                entry = new_id()
                ahead = rng.choice((7, 30))
                expires = datetime.combine(
                    TODAY + timedelta(days=ahead), datetime.min.time(), tzinfo=UTC
                )
                earned = expires - timedelta(days=365)
                entries.append((entry, cid, "earn", 40, 0, 0, "bench", f"bench:{entry}", "base",
                                1, None, earned))  # fmt: skip
                lots.append((new_id(), cid, entry, entry, 40, 40, earned, expires, True, earned))
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            _copy(cur, "customers",
                  ["id", "name", "search_name", "email", "birth_day", "birth_month", "birth_calendar",
                   "birthday_set_at", "tags", "source", "email_consent", "sms_consent", "created_at",
                   "updated_at"], cust)  # fmt: skip
            _copy(cur, "orders",
                  ["id", "source", "external_id", "channel", "customer_id", "status", "currency",
                   "subtotal_amount", "discount_amount", "shipping_amount", "tax_amount",
                   "total_amount", "refunded_amount", "coupon_codes", "placed_at", "created_at",
                   "attributes"], orders)  # fmt: skip
            _copy(cur, "order_lines",
                  ["id", "order_id", "line_no", "product_id", "sku", "name", "category", "quantity",
                   "unit_price_amount", "discount_amount", "total_amount", "refunded_quantity"],
                  lines)  # fmt: skip
            _copy(cur, "points_entries",
                  ["id", "customer_id", "kind", "points", "carried", "forgiven", "reason", "occasion",
                   "rule", "rule_version", "order_id", "created_at"], entries)  # fmt: skip
            _copy(cur, "points_lots",
                  ["id", "customer_id", "entry_id", "origin_entry_id", "points", "remaining",
                   "available_at", "expires_at", "released", "created_at"], lots)  # fmt: skip
            _copy(cur, "flow_enrolments",
                  ["id", "flow_id", "customer_id", "occasion", "status", "step", "position",
                   "due_at", "holdout", "context", "entered_at", "finished_at"], ways)  # fmt: skip
            raw.commit()
        finally:
            raw.close()
        written["customers"] += len(cust)
        written["orders"] += len(orders)
        written["lines"] += len(lines)
        written["expiring_lots"] += len(lots)
        written["win_back_history"] += len(ways)
        print(f"  wrote {written['customers']:,} customers", flush=True)
    return written


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_mib(field: str) -> float:
    """``VmRSS`` or ``VmHWM`` (peak since the last reset) of this process, in MiB (Linux)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def reset_peak() -> float:
    """Start a new peak-RSS window (Linux: ``clear_refs`` 5 resets ``VmHWM``); the RSS now."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass
    return _status_mib("VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "flows.md")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument(
        "--select-only",
        action="store_true",
        help="Time the selections only (not the entries, which run one transaction each).",
    )
    args = parser.parse_args()
    url = fresh_database("wafa_flows_bench")
    if args.keep:
        print(f"database {url}", flush=True)
    settings = Settings.model_validate({"database_url": url})
    load_start = os.getloadavg()[0]
    try:
        started = time.monotonic()
        set_clock(lambda: NOW - timedelta(days=500))
        with session_scope(settings) as s:
            program.save_rules(
                s,
                rules=ProgramRules.model_validate({"expiry": {"policy": "fixed", "months": 12}}),
                by="bench",
            )
        set_clock(lambda: NOW)
        with session_scope(settings) as s:
            presets.ensure_presets(s)
            for key in ("win_back", "birthday", "replenishment", "points_expiring"):
                service.set_enabled(s, key=key, enabled=True, by="bench")
            win_back = service.get_flow(s, "win_back").id
        written = build(url, args.customers, args.seed, win_back)
        with session_scope(settings) as s:
            stats.rebuild(s, currency=settings.currency)
        with get_engine(settings).connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
        built = time.monotonic() - started
        print(f"built in {built:.0f} s: {written}", flush=True)
        factory = session_factory(settings)

        # The selections alone: one statement each.
        selections: dict[str, tuple[float, int]] = {}
        with factory() as s:
            flows = {f.key: f for f in s.scalars(select(Flow))}
            wb = definition_of(flows["win_back"]).trigger
            assert isinstance(wb, DailyTrigger)
            t = time.monotonic()
            query = segments.members_query(
                s, settings=settings, rules=Rules.model_validate(wb.rules)
            )
            n = len(list(s.scalars(query)))
            selections["win-back (segment rule)"] = (time.monotonic() - t, n)
            t = time.monotonic()
            n = len(jobs._birthdays(s, TODAY))
            selections["birthday (both calendars)"] = (time.monotonic() - t, n)
            rp = definition_of(flows["replenishment"]).trigger
            assert isinstance(rp, ReplenishTrigger)
            t = time.monotonic()
            n = len(replenish.due_on(s, rp, TODAY, settings.timezone))
            selections["replenishment (own interval per product)"] = (time.monotonic() - t, n)
        for name, (sec, n) in selections.items():
            print(f"  select {name:45} {sec:6.2f} s {n:>8,}", flush=True)
        cmd = f".venv/bin/python benchmarks/flows_daily.py --customers {args.customers}"
        store = (
            f"Store: {written['customers']:,} customers, {written['orders']:,} orders, "
            f"{written['lines']:,} lines, {written['expiring_lots']:,} lots lapsing in 7 or 30 "
            f"days, {written['win_back_history']:,} earlier win-back entries (steady state); "
            f"built with COPY in {built:.0f} s."
        )
        table = [
            "| selection (one statement) | seconds | customers |",
            "|---|---:|---:|",
            *[f"| {name} | {sec:.2f} | {n:,} |" for name, (sec, n) in selections.items()],
        ]
        if args.select_only:
            lines = [
                f"### Daily flow selections on {args.customers:,} customers (PostgreSQL)",
                "",
                f"Command: `{cmd} --select-only` (run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
                f"load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the "
                "end, on a shared 2-core VM).",
                "",
                store,
                "",
                *table,
                "",
                f"Peak RSS {peak_mib():.0f} MiB (the build included).",
                "",
            ]
            write_section(args.out, "flows_select", "\n".join(lines), title="Lifecycle flows")
            print("\n".join(lines))
            return

        # The day as the worker runs it.
        statements = {"n": 0}

        def counted(*_: Any) -> None:
            statements["n"] += 1

        event.listen(get_engine(settings), "before_cursor_execute", counted)
        rss_before = reset_peak()
        cpu0 = time.process_time()
        t0 = time.monotonic()
        with factory() as s, s.begin():
            warned = loyalty_jobs.warn_batch(s, settings=settings, day=TODAY, limit=10**9)
        warn_s, warn_q = time.monotonic() - t0, statements["n"]
        t = time.monotonic()
        drain_batched(factory, [handlers.consumer(settings)])
        drain_s, drain_q = time.monotonic() - t, statements["n"] - warn_q
        t = time.monotonic()
        day = jobs.run_day(factory, settings, TODAY)
        day_s, day_q = time.monotonic() - t, statements["n"] - warn_q - drain_q
        total, total_q = time.monotonic() - t0, statements["n"]
        cpu = time.process_time() - cpu0
        day_peak = _status_mib("VmHWM")
        with factory() as s:
            entered = dict(
                s.execute(
                    select(Flow.key, func.count())
                    .join(Enrolment, Enrolment.flow_id == Flow.id)
                    .where(Enrolment.entered_at >= NOW - timedelta(minutes=1))
                    .group_by(Flow.key)
                ).all()
            )
            queued = s.scalar(select(func.count()).select_from(Message))
        t = time.monotonic()
        again = jobs.run_day(factory, settings, TODAY)
        again_s = time.monotonic() - t
        load_end = os.getloadavg()[0]
        lines = [
            f"### Daily flow evaluation on {args.customers:,} customers (PostgreSQL)",
            "",
            f"Command: `{cmd}` (run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average "
            f"{load_start:.1f} at the start, {load_end:.1f} at the end, on a shared 2-core VM).",
            "",
            store,
            "",
            *table,
            "",
            "| the day as the worker runs it | seconds | SQL statements | items |",
            "|---|---:|---:|---:|",
            f"| loyalty `warn_batch` (points.expiring announced) | {warn_s:.1f} | {warn_q:,} | "
            f"{warned:,} |",
            f"| flows consumer: points_expiring messages or skips | {drain_s:.1f} | "
            f"{drain_q:,} | {entered.get('points_expiring', 0):,} entered |",
            f"| `jobs.run_day` (win-back, birthday, replenishment) | {day_s:.1f} | {day_q:,} | "
            f"{day['entered']:,} entered |",
            f"| **all** | **{total:.1f}** | {total_q:,} | {queued:,} messages queued |",
            "",
            f"Entered by flow: {dict(sorted(entered.items()))}. Client CPU {cpu:.1f} s; RSS "
            f"{rss_before:.0f} MiB before the day, peak {day_peak:.0f} MiB during it "
            f"({day_peak - rss_before:+.0f}); peak RSS of the whole run {peak_mib():.0f} MiB "
            f"(the build included). The same day run again: {again['entered']} entered in "
            f"{again_s:.1f} s. Target (issue 10): 1,000,000 customers under 60 s, memory flat.",
            "",
        ]
        write_section(args.out, "flows_daily", "\n".join(lines), title="Lifecycle flows")
        print("\n".join(lines))
    finally:
        set_clock(None)
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
