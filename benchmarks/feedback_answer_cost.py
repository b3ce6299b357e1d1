"""What one survey answer through the public link costs: CPU and SQL statements (PostgreSQL).

    .venv/bin/python benchmarks/feedback_answer_cost.py [--answers 200]

A throwaway database (real migrations) holds one NPS survey and ``--answers`` customers with
a signed link each. The app runs in this process (``TestClient``): after 10 warm-up answers,
every link is answered once by ``POST /s/<token>`` with the scores 0..10 in turn (so 7 in 11
are unhappy and open a complaint, as in ``feedback_intake.py``). Prints CPU milliseconds per
answer (this process: server and client), SQL statements per answer and which tables they
touch. CPU time, unlike requests per second, moves little with the machine's load.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from typing import Any

from _common import drop_database, fresh_database
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from wafa.app.factory import create_app
from wafa.core.db import dispose_engines, session_scope
from wafa.core.settings import Settings
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerCreate
from wafa.feedback import service
from wafa.feedback.schemas import SurveyCreate

WARM_UP = 10


def _kind(statement: str) -> str:
    verb = statement.split()[0].upper()
    table = re.search(r"(?:INTO|UPDATE|FROM)\s+(\w+)", statement, re.IGNORECASE)
    return f"{verb} {table.group(1) if table else ''}".strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=200)
    args = parser.parse_args()
    url = fresh_database("wafa_bench_answer_cost")
    try:
        settings = Settings.model_validate({"database_url": url, "secret_key": "c" * 40})
        tokens: list[str] = []
        with session_scope(settings) as session:
            survey = service.create_survey(
                session,
                data=SurveyCreate.model_validate(
                    {"kind": "nps", "name": "bench", "question": {"en": "Recommend us?"}}
                ),
            )
            for i in range(args.answers + WARM_UP):
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
        seen: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            seen.append(statement)

        with TestClient(create_app(settings)) as client:
            for token in tokens[:WARM_UP]:
                client.post(f"/s/{token}", data={"score": "9"})
            event.listen(Engine, "before_cursor_execute", record)
            cpu = time.process_time()
            wall = time.perf_counter()
            for i, token in enumerate(tokens[WARM_UP:]):
                answered = client.post(f"/s/{token}", data={"score": str(i % 11), "comment": "x"})
                assert answered.status_code == 200, answered.status_code
            cpu = time.process_time() - cpu
            wall = time.perf_counter() - wall
            event.remove(Engine, "before_cursor_execute", record)
        n = args.answers
        print(
            f"{n} answers: CPU {1000 * cpu / n:.1f} ms per answer (server and client), "
            f"wall {1000 * wall / n:.1f} ms; SQL statements {len(seen) / n:.1f} per answer"
        )
        for kind, count in Counter(_kind(s) for s in seen).most_common(20):
            print(f"  {count / n:5.2f}  {kind}")
    finally:
        dispose_engines()
        drop_database(url)


if __name__ == "__main__":
    main()
