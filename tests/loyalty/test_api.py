"""The API contract of issue 3, exactly, plus the routes around it."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.loyalty.helpers import deliver, member, place, set_rules
from wafa.auth import service as auth
from wafa.core.settings import Settings


def _key(session: Session, *scopes: str) -> dict[str, str]:
    _, token = auth.create_api_key(session, name="scoped", scopes=list(scopes))
    session.flush()
    return {"Authorization": f"Bearer {token}"}


class TestLoyaltyStatus:
    def test_answers_the_contract_shape(
        self, api: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, expiry={"policy": "fixed", "months": 1})
        c = member(session)
        place(session, c)
        deliver(session, settings)
        r = api.get(f"/api/v1/customers/{c.id}/loyalty")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["available"] == 0
        assert body["pending"] == 10
        assert body["tier"] is None
        assert body["expiring"] == [{"points": 10, "on": "2026-04-15"}]

    def test_unknown_customer_is_404_problem(self, api: TestClient) -> None:
        r = api.get(f"/api/v1/customers/{uuid.uuid4()}/loyalty")
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")


class TestAdjustments:
    def test_points_are_available_at_once(self, api: TestClient, session: Session) -> None:
        c = member(session)
        r = api.post(
            f"/api/v1/customers/{c.id}/adjustments", json={"points": 40, "reason": "goodwill"}
        )
        assert r.status_code == 201, r.text
        entry = r.json()
        assert entry["points"] == 40
        assert entry["note"] == "goodwill"
        assert entry["created_by"].startswith("api_key:")
        status = api.get(f"/api/v1/customers/{c.id}/loyalty").json()
        assert (status["available"], status["pending"]) == (40, 0)

    def test_needs_write_scope(self, client: TestClient, session: Session) -> None:
        c = member(session)
        r = client.post(
            f"/api/v1/customers/{c.id}/adjustments",
            json={"points": 5, "reason": "x"},
            headers=_key(session, "read"),
        )
        assert r.status_code == 403

    def test_write_scope_is_enough(self, client: TestClient, session: Session) -> None:
        c = member(session)
        r = client.post(
            f"/api/v1/customers/{c.id}/adjustments",
            json={"points": 5, "reason": "x"},
            headers=_key(session, "write"),
        )
        assert r.status_code == 201, r.text

    def test_a_reason_is_required(self, api: TestClient, session: Session) -> None:
        c = member(session)
        r = api.post(f"/api/v1/customers/{c.id}/adjustments", json={"points": 5})
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["body", "reason"]

    def test_replay_with_idempotency_key_adds_once(self, api: TestClient, session: Session) -> None:
        c = member(session)
        headers = {"Idempotency-Key": "adj-1"}
        body = {"points": 7, "reason": "sorry"}
        first = api.post(f"/api/v1/customers/{c.id}/adjustments", json=body, headers=headers)
        second = api.post(f"/api/v1/customers/{c.id}/adjustments", json=body, headers=headers)
        assert first.json() == second.json()
        assert api.get(f"/api/v1/customers/{c.id}/loyalty").json()["available"] == 7


class TestRewardsAndRedemptions:
    def test_create_reward_answers_201_with_id(self, api: TestClient) -> None:
        r = api.post(
            "/api/v1/rewards",
            json={
                "name": "Free coffee",
                "kind": "free_product",
                "cost_points": 100,
                "product_sku": "COF-1",
            },
        )
        assert r.status_code == 201, r.text
        assert uuid.UUID(r.json()["id"])

    def test_redemption_answers_201_with_coupon_code(
        self, api: TestClient, session: Session
    ) -> None:
        c = member(session)
        api.post(f"/api/v1/customers/{c.id}/adjustments", json={"points": 150, "reason": "seed"})
        reward = api.post(
            "/api/v1/rewards",
            json={"name": "5 off", "kind": "discount_fixed", "cost_points": 100, "amount": 500},
        ).json()
        r = api.post(f"/api/v1/customers/{c.id}/redemptions", json={"reward_id": reward["id"]})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["id"] and body["coupon_code"]
        assert not set(body["coupon_code"].replace("-", "")) & set("0O1I")
        assert api.get(f"/api/v1/customers/{c.id}/loyalty").json()["available"] == 50

    def test_short_balance_is_409_insufficient_points(
        self, api: TestClient, session: Session
    ) -> None:
        c = member(session)
        api.post(f"/api/v1/customers/{c.id}/adjustments", json={"points": 99, "reason": "seed"})
        reward = api.post(
            "/api/v1/rewards", json={"name": "Mug", "kind": "gift", "cost_points": 100}
        ).json()
        r = api.post(f"/api/v1/customers/{c.id}/redemptions", json={"reward_id": reward["id"]})
        assert r.status_code == 409
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("insufficient-points")
        assert api.get(f"/api/v1/customers/{c.id}/loyalty").json()["available"] == 99


class TestCouponValidate:
    def test_valid_code_gives_the_discount(self, api: TestClient) -> None:
        api.post(
            "/api/v1/coupons",
            json={
                "name": "Summer",
                "code": "summer-10",
                "kind": "discount_percent",
                "percent_bp": 1000,
                "max_uses": None,
            },
        )
        r = api.post("/api/v1/coupons/validate", json={"code": "SUMMER10", "subtotal": 2500})
        assert r.status_code == 200, r.text
        assert r.json()["valid"] is True
        assert r.json()["discount"] == 250

    def test_unknown_code_is_invalid_with_reason(self, api: TestClient) -> None:
        r = api.post("/api/v1/coupons/validate", json={"code": "NOPE", "subtotal": 100})
        assert r.status_code == 200
        assert r.json()["valid"] is False
        assert r.json()["discount"] == 0
        assert r.json()["reason"] == "not_found"
