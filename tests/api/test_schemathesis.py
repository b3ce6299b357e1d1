"""schemathesis over every operation of the API: no answer may be a 5xx (issue 9, item 9).

Each operation gets a few generated requests (``EXAMPLES``: inputs valid by the schema
and inputs that break it) with a full-scope API key, inside the test's rolled-back
transaction, so the run stays near a minute or two per database.
``WAFA_SCHEMATHESIS_EXAMPLES`` raises the count for a deeper run. (Driven by hand, one
Hypothesis run per operation: schemathesis's pytest plugin does not load under pytest 9.)
"""

from __future__ import annotations

import os

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

EXAMPLES = int(os.environ.get("WAFA_SCHEMATHESIS_EXAMPLES", "4"))


def test_no_operation_answers_5xx(app: FastAPI, api_key: str) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {api_key}"}
    failures: list[str] = []
    operations = calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        operations += 1
        strategy = operation.as_strategy(
            generation_mode=GenerationMode.POSITIVE
        ) | operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            nonlocal calls
            calls += 1
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} → {response.status_code} "
                    f"(query={case.query!r}, body={case.body!r:.300})"
                )

        run()
    assert operations > 50 and calls >= operations
    assert failures == [], "\n".join(failures[:40])
