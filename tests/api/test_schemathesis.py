"""schemathesis over every operation of the API: no 5xx, and every answer matches the schema
the API documents for its status (issue 9, item 9; stateless and along the links).

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
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import Connection

EXAMPLES = int(os.environ.get("WAFA_SCHEMATHESIS_EXAMPLES", "4"))


def _schema_violations(case: schemathesis.Case, response: object) -> list[str]:  # type: ignore[type-arg]
    """An answer whose body does not match the schema the API documents for its status."""
    try:
        case.validate_response(response, checks=[response_schema_conformance])
    except BaseException as exc:  # schemathesis raises a group of check failures
        if not isinstance(exc, BaseExceptionGroup | AssertionError):
            raise
        return [f"{case.method} {case.formatted_path}: {str(exc)[:600]}"]
    return []


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
            else:
                failures.extend(_schema_violations(case, response))

        run()
    assert operations > 50 and calls >= operations
    assert failures == [], "\n".join(failures[:40])


STEPS = int(os.environ.get("WAFA_SCHEMATHESIS_STEPS", "6"))
SCENARIOS = int(os.environ.get("WAFA_SCHEMATHESIS_SCENARIOS", "12"))


def test_chained_operations_never_answer_5xx(
    app: FastAPI, api_key: str, connection: Connection
) -> None:
    """Stateful: schemathesis chains calls along the links it infers between operations
    (a created customer's id into its orders, points, redemptions, merge, erase...).
    Each scenario runs inside its own savepoint, rolled back at its end, so every
    scenario starts from the same database (Hypothesis needs that to replay one)."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {api_key}"}
    failures: list[str] = []
    steps: list[str] = []
    base = schema.as_state_machine()

    class Chains(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            self.scenario = connection.begin_nested()

        def teardown(self) -> None:
            if self.scenario.is_active:
                self.scenario.rollback()

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:  # type: ignore[type-arg]
            return {"headers": headers}

        def validate_response(self, response, case, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            steps.append(f"{case.method} {case.path} {response.status_code}")
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} → {response.status_code} "
                    f"(query={case.query!r}, body={case.body!r:.300})"
                )
            else:
                failures.extend(_schema_violations(case, response))

    Chains.run(
        settings=settings(
            max_examples=SCENARIOS,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )
    assert len(steps) >= SCENARIOS
    assert failures == [], "\n".join(failures[:40])
