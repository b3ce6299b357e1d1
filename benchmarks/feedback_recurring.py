"""The recurring-complaint analysis over 100,000 complaints (PostgreSQL). Target: under 10 s.

    .venv/bin/python benchmarks/feedback_recurring.py [--complaints 100000] [--runs 3] [--keep]

A throwaway database is built by the real migrations and filled in SQL (``generate_series``;
deterministic): 2,000 customers, 20,000 sales over the 140 days, and the complaints spread
over the same 140 days across 8 categories, 60 products, 5 locations; one product's rate
doubles in the last 28 days. Then ``recurring.detect`` (every group's test) and
``recurring.similar_complaints`` (text groups of the last three weeks, at most 2,000 texts)
run ``--runs`` times through the real service; medians, the first run kept apart.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from _common import drop_database, fresh_database
from sqlalchemy import create_engine, text

from wafa.core.db import dispose_engines, session_scope
from wafa.core.settings import Settings
from wafa.feedback import recurring

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

FILL = """
INSERT INTO customers (id, name, tags, source, email_consent, sms_consent, created_at, updated_at)
SELECT md5('c' || g)::uuid, 'Customer ' || g, '[]', 'bench', false, false, :now, :now
FROM generate_series(1, 2000) g;

INSERT INTO orders (id, source, external_id, channel, customer_id, status, currency,
                    subtotal_amount, discount_amount, shipping_amount, tax_amount, total_amount,
                    refunded_amount, coupon_codes, attributes, placed_at, created_at)
SELECT md5('o' || g)::uuid, 'bench', 'o' || g, 'online', md5('c' || (g % 2000 + 1))::uuid, 'paid',
       'USD', 1000, 0, 0, 0, 1000, 0, '[]', '{}', :now - (g % 140) * interval '1 day', :now
FROM generate_series(1, 20000) g;

INSERT INTO complaints (id, kind, customer_id, category, severity, channel, status, text,
                        product, location, paused_seconds, created_at, updated_at,
                        first_response_due_at, resolution_due_at)
SELECT md5('k' || g)::uuid, 'complaint', md5('c' || (g % 2000 + 1))::uuid,
       (ARRAY['late_delivery','wrong_item','damaged','quality','staff','price','website','other'])[g % 8 + 1],
       'normal', 'dashboard', 'new',
       (ARRAY['coffee arrived cold','قهوه سرد بود','the cup was broken','كيك خراب بود','late again'])[g % 5 + 1]
         || ' #' || (g % 97),
       CASE WHEN g % 61 = 0 AND abs(hashtext('d' || g)) % 140 < 28 THEN 'P-hot'
            ELSE 'P-' || (abs(hashtext('p' || g)) % 60) END,
       'shop ' || (abs(hashtext('l' || g)) % 5),
       0,
       :now - (abs(hashtext('d' || g)) % 140) * interval '1 day' - (g % 24) * interval '1 hour',
       :now, :now, :now
FROM generate_series(1, :n) g;
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--complaints", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    url = fresh_database("wafa_bench_feedback")
    try:
        engine = create_engine(url)
        t0 = time.perf_counter()
        with engine.begin() as conn:
            for statement in FILL.split(";\n"):
                if statement.strip():
                    conn.execute(text(statement), {"now": NOW, "n": args.complaints})
            conn.execute(text("ANALYZE"))
        engine.dispose()
        print(f"filled {args.complaints:,} complaints in {time.perf_counter() - t0:.1f} s")
        settings = Settings.model_validate(
            {"database_url": url, "environment": "test", "secret_key": "b" * 40, "currency": "USD"}
        )
        detect: list[float] = []
        groups: list[float] = []
        for _ in range(args.runs + 1):
            with session_scope(settings, write=False) as session:
                t1 = time.perf_counter()
                flags = recurring.detect(session, settings=settings, now=NOW)
                t2 = time.perf_counter()
                similar = recurring.similar_complaints(session, now=NOW)
                t3 = time.perf_counter()
            detect.append(t2 - t1)
            groups.append(t3 - t2)
        flagged = [f"{f.dimension}={f.value}" for f in flags if f.flagged]
        print(f"groups tested: {len(flags)}; flagged: {flagged}")
        print(f"text groups: {[(g.count, g.example[:24]) for g in similar[:5]]}")
        print(
            f"detect: first {detect[0]:.2f} s, median of {args.runs} {statistics.median(detect[1:]):.2f} s; "
            f"similar texts: first {groups[0]:.2f} s, median {statistics.median(groups[1:]):.2f} s"
        )
    finally:
        dispose_engines()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
