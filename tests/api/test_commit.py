"""A request whose commit fails answers an error and stores nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from wafa.app.factory import create_app
from wafa.auth import service as auth
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.customers.models import Customer


@pytest.fixture
def served(committed_db: Settings) -> Iterator[tuple[TestClient, str]]:
    with session_scope(committed_db) as s:
        _, token = auth.create_api_key(s, name="t", scopes=["read", "write"])
    with TestClient(create_app(committed_db), raise_server_exceptions=False) as client:
        yield client, token


def test_a_failed_commit_is_a_5xx_and_nothing_is_stored(
    served: tuple[TestClient, str], committed_db: Settings
) -> None:
    client, token = served

    def fail(session: Session) -> None:
        raise RuntimeError("the database refused the commit")

    event.listen(Session, "before_commit", fail)
    try:
        response = client.post(
            "/api/v1/customers",
            json={"name": "Never Stored", "email": "never@example.com"},
            headers={"Authorization": f"Bearer {token}"},
        )
    finally:
        event.remove(Session, "before_commit", fail)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    with session_scope(committed_db, write=False) as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0
