"""The complaints inbox over 100,000 complaints (PostgreSQL): pages and text search.

    .venv/bin/python benchmarks/feedback_inbox.py [--complaints 100000] [--runs 5] [--keep]

A throwaway database is built by the real migrations and filled in SQL (``generate_series``;
deterministic): 2,000 customers and the complaints over 140 days, their texts in English,
Persian and Arabic (with ``search_text`` folded by ``wafa.core.text.search_key`` as filing
does), a tenth of them still open. Then, through the real service (``complaints.page``):
the first page of open complaints, twenty pages deep by cursor, a search that matches many
(Arabic keyboard for a Persian word), one that matches a few, one that matches none (the
whole table read), and a search with a status filter. Medians of ``--runs`` in ms.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from _common import drop_database, fresh_database
from sqlalchemy import create_engine, text

from wafa.core.db import dispose_engines, session_scope
from wafa.core.settings import Settings
from wafa.core.text import search_key
from wafa.feedback import complaints

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TEXTS = [
    "coffee arrived cold",
    "قهوه سرد بود",
    "the cup was broken",
    "كيك خراب بود",
    "late again",
    "کیک خیلی خشک بود",
    "the barista was rude",
]

FILL = """
INSERT INTO customers (id, name, tags, source, email_consent, sms_consent, created_at, updated_at)
SELECT md5('c' || g)::uuid, 'Customer ' || g, '[]', 'bench', false, false, :now, :now
FROM generate_series(1, 2000) g;

INSERT INTO complaints (id, kind, customer_id, category, severity, channel, status, text,
                        search_text, product, location, paused_seconds, created_at, updated_at,
                        first_response_due_at, resolution_due_at)
SELECT md5('k' || g)::uuid, 'complaint', md5('c' || (g % 2000 + 1))::uuid,
       (ARRAY['late_delivery','wrong_item','damaged','quality','staff','price','website','other'])[g % 8 + 1],
       'normal', 'dashboard',
       CASE WHEN g % 10 = 0 THEN 'new' ELSE 'closed' END,
       (CAST(:texts AS text[]))[g % 7 + 1] || ' #' || g,
       (CAST(:folded AS text[]))[g % 7 + 1] || ' #' || g || ' | p-' || (g % 60) || ' | shop ' || (g % 5),
       'P-' || (g % 60), 'shop ' || (g % 5), 0,
       :now - (g % 140) * interval '1 day' - (g % 1440) * interval '1 minute',
       :now, :now, :now
FROM generate_series(1, :n) g;
"""


def timed(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    times: list[float] = []
    result: object = None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--complaints", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    url = fresh_database("wafa_bench_inbox")
    try:
        engine = create_engine(url)
        t0 = time.perf_counter()
        with engine.begin() as conn:
            params = {
                "now": NOW,
                "n": args.complaints,
                "texts": TEXTS,
                "folded": [search_key(t) for t in TEXTS],
            }
            for statement in FILL.split(";\n"):
                if statement.strip():
                    conn.execute(text(statement), params)
            conn.execute(text("ANALYZE"))
        engine.dispose()
        print(f"filled {args.complaints:,} complaints in {time.perf_counter() - t0:.1f} s")
        settings = Settings.model_validate(
            {"database_url": url, "environment": "test", "secret_key": "b" * 40, "currency": "USD"}
        )
        with session_scope(settings, write=False) as session:

            def deep() -> int:
                cursor = None
                for _ in range(20):
                    _, cursor = complaints.page(session, limit=50, cursor=cursor)
                return 20

            cases: list[tuple[str, Callable[[], object]]] = [
                ("first page, open", lambda: complaints.page(session, limit=50, open_only=True)),
                ("first page, all", lambda: complaints.page(session, limit=50)),
                ("20 pages deep by cursor (total)", deep),
                (
                    "q='كيك' (many; Arabic letters for Persian too)",
                    lambda: complaints.page(session, limit=50, q="كيك"),
                ),
                ("q='#99999' (a few)", lambda: complaints.page(session, limit=50, q="#99999")),
                (
                    "q='nothing like this' (none: full read)",
                    lambda: complaints.page(session, limit=50, q="nothing like this"),
                ),
                (
                    "q='rude' + status=new",
                    lambda: complaints.page(session, limit=50, q="rude", status="new"),
                ),
            ]
            for name, fn in cases:
                ms, result = timed(fn, args.runs)
                found = len(result[0]) if isinstance(result, tuple) else result
                print(f"{name}: median {ms:.1f} ms ({found} rows)")
    finally:
        dispose_engines()
        if not args.keep:
            drop_database(url)


if __name__ == "__main__":
    main()
