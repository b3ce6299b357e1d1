"""/api/v1 bounce-back routes: rules, a purchase's coupon, the report; bad input names the field."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.loyalty.helpers import member, place
from wafa.auth import service as auth
from wafa.core.settings import Settings
from wafa.loyalty import accrual

RULE = {
    "name": "Back soon",
    "kind": "discount_fixed",
    "amount": 300,
    "valid_days": 10,
    "holdout_percent": 0,
}


def test_rules_offer_and_report(api: TestClient, session: Session, settings: Settings) -> None:
    made = api.post("/api/v1/loyalty/bounce-back/rules", json=RULE)
    assert made.status_code == 201, made.text
    rule: dict[str, Any] = made.json()
    assert rule["amount"] == 300 and rule["percent_bp"] is None
    assert [r["id"] for r in api.get("/api/v1/loyalty/bounce-back/rules").json()] == [rule["id"]]
    # PUT replaces the whole rule (a field left out takes its default).
    changed = api.put(
        f"/api/v1/loyalty/bounce-back/rules/{rule['id']}", json={**RULE, "min_amount": 100}
    )
    assert changed.status_code == 200 and changed.json()["min_amount"] == 100

    order = place(session, member(session))
    accrual.accrue_order(session, settings=settings, order_id=order.id)
    session.flush()
    offer = api.get(f"/api/v1/orders/{order.id}/bounce-back")
    assert offer.status_code == 200, offer.text
    assert offer.json()["amount"] == 300 and "-" in offer.json()["code"]
    assert api.get(f"/api/v1/orders/{uuid.uuid4()}/bounce-back").status_code == 404

    found = api.get("/api/v1/loyalty/bounce-back/report").json()
    assert (found["qualifying"], found["issued"], found["pending"]) == (1, 1, 1)
    assert found["came_back"]["difference"] is None


def test_bad_input_names_the_field(api: TestClient) -> None:
    answer = api.post("/api/v1/loyalty/bounce-back/rules", json={**RULE, "amount": None})
    assert answer.status_code == 422
    assert "amount" in answer.text
    answer = api.post("/api/v1/loyalty/bounce-back/rules", json={**RULE, "valid_days": 0})
    assert answer.status_code == 422 and "valid_days" in answer.text
    answer = api.post(
        "/api/v1/loyalty/bounce-back/rules", json={**RULE, "location_id": str(uuid.uuid4())}
    )
    assert answer.status_code == 422 and "location_id" in answer.text
    answer = api.get("/api/v1/loyalty/bounce-back/report?since=2026-03-10&until=2026-03-01")
    assert answer.status_code == 422 and "until" in answer.text
    assert api.get(f"/api/v1/loyalty/bounce-back/rules/{uuid.uuid4()}").status_code == 404


def test_a_read_key_cannot_change_rules(client: TestClient, session: Session) -> None:
    _, token = auth.create_api_key(session, name="r", scopes=["read"])
    session.flush()
    answer = client.post(
        "/api/v1/loyalty/bounce-back/rules",
        json=RULE,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 403
