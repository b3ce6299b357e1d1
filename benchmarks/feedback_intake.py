"""Survey answers through the public signed link (``POST /s/<token>``), PostgreSQL.

    .venv/bin/python benchmarks/feedback_intake.py [--links 3000] [--duration 15] [--threads 16] [--workers 2]

A throwaway database (real migrations) holds one NPS survey and ``--links`` customers, each
with a signed link made by ``survey_link``. ``wafa serve`` runs with ``--workers`` uvicorn
workers; ``--threads`` client threads (httpx, keep-alive) post a score to the links in turn
for ``--duration`` seconds (after the first pass over the links, a post is a resubmission
that updates the answer). Prints requests/s, p50/p90/p99 latency, non-200 answers, and
checks that the database holds one answer per link answered. The client runs on the same
machine: the figures include its CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

import httpx2 as httpx
from _common import drop_database, free_port, fresh_database, wait_for
from sqlalchemy import func, select

from wafa.core.db import dispose_engines, session_scope
from wafa.core.settings import Settings
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerCreate
from wafa.feedback import service
from wafa.feedback.models import SurveyResponse
from wafa.feedback.schemas import SurveyCreate

SECRET = "bench-secret-key-0123456789-abcdefghijkl"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=3000)
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    url = fresh_database("wafa_bench_intake")
    try:
        settings = Settings.model_validate({"database_url": url, "secret_key": SECRET})
        with session_scope(settings) as session:
            survey = service.create_survey(
                session,
                data=SurveyCreate.model_validate(
                    {"kind": "nps", "name": "bench", "question": {"en": "Recommend us?"}}
                ),
            )
            tokens = []
            for i in range(args.links):
                customer = customers.create_customer(
                    session,
                    data=CustomerCreate(name=f"C {i}", email=f"c{i}@bench.example.com"),
                    region="US",
                    calendar=settings.calendar,
                )
                link = service.survey_link(
                    session,
                    settings=settings,
                    customer_id=customer.id,
                    occasion="o",
                    survey_id=survey.id,
                )
                assert link is not None
                tokens.append(link.token)
            survey_id = survey.id
        port = free_port()
        env = {**os.environ, "WAFA_DATABASE_URL": url, "WAFA_SECRET_KEY": SECRET}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wafa.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--no-access-log",
                "--no-worker",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for(port, server)
            base = f"http://127.0.0.1:{port}"
            latencies: list[float] = []
            failures = [0]
            lock = threading.Lock()
            counter = [0]
            stop = time.monotonic() + args.duration

            def client() -> None:
                mine: list[float] = []
                bad = 0
                with httpx.Client(base_url=base, timeout=30) as http:
                    while time.monotonic() < stop:
                        with lock:
                            n = counter[0]
                            counter[0] += 1
                        t0 = time.perf_counter()
                        r = http.post(f"/s/{tokens[n % len(tokens)]}", data={"score": str(n % 11)})
                        mine.append(time.perf_counter() - t0)
                        bad += r.status_code != 200
                with lock:
                    latencies.extend(mine)
                    failures[0] += bad

            started = time.monotonic()
            threads = [threading.Thread(target=client) for _ in range(args.threads)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
        with session_scope(settings, write=False) as session:
            stored = session.scalar(
                select(func.count())
                .select_from(SurveyResponse)
                .where(SurveyResponse.survey_id == survey_id)
            )
        ordered = sorted(latencies)

        def pct(q: float) -> float:
            return 1000 * ordered[min(int(q * len(ordered)), len(ordered) - 1)]

        answered = min(len(latencies), len(tokens))
        print(
            f"{len(latencies)} requests in {elapsed:.1f} s: {len(latencies) / elapsed:.0f} req/s; "
            f"p50 {pct(0.5):.0f} ms, p90 {pct(0.9):.0f} ms, p99 {pct(0.99):.0f} ms, "
            f"median {1000 * statistics.median(latencies):.0f} ms; non-200 {failures[0]}; "
            f"answers stored {stored} for {answered} links answered"
        )
    finally:
        dispose_engines()
        drop_database(url)


if __name__ == "__main__":
    main()
