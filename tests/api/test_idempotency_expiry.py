"""Stored answers to ``Idempotency-Key`` requests live 24 hours, then a timed task deletes them."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from wafa.app.worker import build_worker
from wafa.auth import idempotency
from wafa.auth.models import IdempotencyRecord
from wafa.core.settings import Settings


def _records(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(IdempotencyRecord)) or 0)


class TestExpiry:
    def test_an_answer_is_replayed_for_24_hours_then_deleted(
        self, api: TestClient, session: Session, clock: FrozenClock
    ) -> None:
        headers = {"Idempotency-Key": "k-expiry-1"}
        body = {"name": "Short Lived", "email": "short@example.com"}
        first = api.post("/api/v1/customers", json=body, headers=headers)
        assert first.status_code == 201
        clock.advance(hours=23, minutes=59)
        assert idempotency.expire(session) == 0
        replay = api.post("/api/v1/customers", json=body, headers=headers)
        assert replay.headers.get("Idempotent-Replayed") == "true"
        assert replay.json()["id"] == first.json()["id"]
        clock.advance(minutes=2)
        assert idempotency.expire(session) == 1
        assert _records(session) == 0

    def test_the_worker_runs_the_expiry(self, settings: Settings) -> None:
        assert "idempotency-expiry" in {task.name for task in build_worker(settings).tasks}

    def test_retention_is_a_day(self) -> None:
        assert timedelta(hours=24) == idempotency.RETENTION
