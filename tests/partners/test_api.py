"""/api/v1/partners: create, issue codes, a link, the statement; 4xx naming the field; the
``partners`` permission (a write key without admin is refused)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from wafa.auth import service as auth


def test_create_issue_link_and_statement(api: TestClient) -> None:
    made = api.post(
        "/api/v1/partners",
        json={"name": "Golden Bakery", "offer": "A free pastry", "offer_value": 350},
    )
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    codes = api.post(f"/api/v1/partners/{pid}/codes", json={"direction": "offer", "count": 3})
    assert codes.status_code == 201 and len(codes.json()) == 3
    assert api.get(f"/api/v1/partners/{pid}/codes").json()[0]["direction"] == "offer"
    link = api.post(f"/api/v1/partners/{pid}/link")
    assert link.status_code == 201 and "/partner/login/" in link.json()["url"]
    assert api.post(f"/api/v1/partners/{pid}/link/revoke").status_code == 204
    statement = api.get(f"/api/v1/partners/{pid}/statement")
    assert statement.status_code == 200 and statement.json()["offer_codes_issued"] == 3
    assert api.get("/api/v1/partners").json()[0]["name"] == "Golden Bakery"


def test_bad_input_names_the_field(api: TestClient) -> None:
    answer = api.post("/api/v1/partners", json={"name": "X", "offer": "", "offer_value": -1})
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    fields = {tuple(e["loc"])[-1] for e in answer.json()["errors"]}
    assert {"offer", "offer_value"} <= fields
    pid = api.post("/api/v1/partners", json={"name": "Y", "offer": "tea"}).json()["id"]
    bad = api.post(
        f"/api/v1/partners/{pid}/codes",
        json={"direction": "reciprocal", "count": 2, "kind": "discount_percent"},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"][-1] == "percent_bp"
    assert api.get(f"/api/v1/partners/{pid}/codes").json() == []  # nothing half-written
    twice = api.post("/api/v1/partners", json={"name": "Y", "offer": "tea"})
    assert twice.status_code == 409


def test_a_write_key_may_not(client: TestClient, session: Session) -> None:
    _, token = auth.create_api_key(session, name="till", scopes=["read", "write"])
    session.flush()
    answer = client.get("/api/v1/partners", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403
