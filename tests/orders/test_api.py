from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import order_payload


class TestCreateOrder:
    def test_new_order_is_created_with_computed_total(self, api: TestClient) -> None:
        body = order_payload(
            lines=[
                {"sku": "A", "name": "Cake", "quantity": 2, "unit_price": 350},
                {"sku": "B", "name": "Tea", "quantity": 1, "unit_price": 200, "discount": 50},
            ],
            shipping=100,
        )
        r = api.post("/api/v1/orders", json=body)
        assert r.status_code == 201, r.text
        order = r.json()
        assert order["total"] == 2 * 350 + 200 - 50 + 100
        assert order["customer_id"] is not None
        assert order["channel"] == "online"
        assert [ln["sku"] for ln in order["lines"]] == ["A", "B"]

    def test_replay_returns_the_same_order_with_200(self, api: TestClient) -> None:
        body = order_payload()
        first = api.post("/api/v1/orders", json=body)
        second = api.post("/api/v1/orders", json=body)
        assert (first.status_code, second.status_code) == (201, 200)
        assert first.json() == second.json()

    def test_replay_with_an_offset_timestamp_is_byte_identical(self, api: TestClient) -> None:
        body = order_payload(placed_at="2025-10-07T09:50:26+02:00")
        first = api.post("/api/v1/orders", json=body)
        second = api.post("/api/v1/orders", json=body)
        assert first.text == second.text
        assert first.json()["placed_at"].startswith("2025-10-07T07:50:26")

    def test_guest_order_has_no_customer(self, api: TestClient) -> None:
        r = api.post("/api/v1/orders", json=order_payload(customer=None))
        assert r.status_code == 201
        assert r.json()["customer_id"] is None

    def test_negative_quantity_is_a_problem_with_field_path(self, api: TestClient) -> None:
        body = order_payload(lines=[{"sku": "A", "name": "x", "quantity": -1, "unit_price": 1}])
        r = api.post("/api/v1/orders", json=body)
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["loc"] == ["body", "lines", 0, "quantity"]

    def test_unknown_currency_is_refused(self, api: TestClient) -> None:
        r = api.post("/api/v1/orders", json=order_payload(currency="XXY"))
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["body", "currency"]

    def test_naive_timestamp_is_refused(self, api: TestClient) -> None:
        r = api.post("/api/v1/orders", json=order_payload(placed_at="2026-01-01T10:00:00"))
        assert r.status_code == 422
        assert r.json()["errors"][0]["loc"] == ["body", "placed_at"]


class TestAuth:
    def test_missing_key_is_401_problem(self, client: TestClient) -> None:
        r = client.get("/api/v1/customers")
        assert r.status_code == 401
        assert r.json()["type"].endswith("/unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
