"""Issue 9, items 11-14: order races and replays, bound coupons, names, phones, docs headers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import create_customer, order_payload
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.customers.models import Customer


class TestOrderReplays:
    def test_the_same_order_again_is_200_a_different_one_under_its_id_is_409(
        self, api: TestClient
    ) -> None:
        body = order_payload(external_id="same-key-1")
        assert api.post("/api/v1/orders", json=body).status_code == 201
        assert api.post("/api/v1/orders", json=body).status_code == 200
        other = {**body, "lines": [{"name": "Something else", "quantity": 1, "unit_price": 5}]}
        r = api.post("/api/v1/orders", json=other)
        assert r.status_code == 409, r.text
        assert "same-key-1" in r.json()["detail"]

    def test_losers_of_an_order_race_leave_no_customer_behind(self, committed_db: Settings) -> None:
        with session_scope(committed_db) as s:
            _, token = auth.create_api_key(s, name="race", scopes=["read", "write"])
        n = 12
        barrier = threading.Barrier(n)
        with running_app(committed_db) as base:

            def post(i: int) -> int:
                body = order_payload(
                    external_id="raced-order", customer={"email": f"buyer{i}@example.com"}
                )
                with httpx.Client(base_url=base, timeout=30) as client:
                    barrier.wait()
                    return client.post(
                        "/api/v1/orders", json=body, headers={"Authorization": f"Bearer {token}"}
                    ).status_code

            with ThreadPoolExecutor(n) as pool:
                codes = sorted(pool.map(post, range(n)))
        assert codes == [200] * (n - 1) + [201], codes
        with session_scope(committed_db) as s:
            assert s.scalar(select(func.count()).select_from(Customer)) == 1


class TestBoundCoupon:
    def test_a_coupon_for_one_customer_needs_that_customer(
        self, api: TestClient, session: Session
    ) -> None:
        owner = create_customer(session)
        session.flush()
        made = api.post(
            "/api/v1/coupons",
            json={"name": "Sorry", "amount": 500, "customer_id": str(owner.id)},
        )
        assert made.status_code == 201, made.text
        code = made.json()["code"]
        anonymous = api.post(
            f"/api/v1/coupons/{code}/redeem", json={"order_ref": "till-1", "subtotal": 1000}
        )
        assert anonymous.status_code == 409, anonymous.text
        assert "customer_required" in anonymous.text
        theirs = api.post(
            f"/api/v1/coupons/{code}/redeem",
            json={"order_ref": "till-2", "subtotal": 1000, "customer_id": str(owner.id)},
        )
        assert theirs.status_code == 201, theirs.text


class TestNamesAndPhones:
    def test_a_phone_extension_is_refused_by_name(self, api: TestClient) -> None:
        r = api.post(
            "/api/v1/customers", json={"name": "Ext Ension", "phone": "+1 415 555 0123 ext. 45"}
        )
        assert r.status_code == 422, r.text
        assert "extension" in r.text

    def test_blank_and_control_character_names_are_refused(self, api: TestClient) -> None:
        for name in ("\u0001\u0002", "   ", "\u200b"):
            r = api.post("/api/v1/customers", json={"name": name, "email": "blank@example.com"})
            assert r.status_code == 422, (name, r.text)
            assert ["body", "name"] in [e["loc"] for e in r.json()["errors"]]

    def test_a_persian_name_with_a_joiner_is_kept(self, api: TestClient) -> None:
        r = api.post("/api/v1/customers", json={"name": "علی\u200cرضا"})
        assert r.status_code == 201, r.text
        assert r.json()["name"] == "علی\u200cرضا"

    def test_an_order_with_a_blank_contact_name_is_a_guest_name_not_an_error(
        self, api: TestClient
    ) -> None:
        body = order_payload(customer={"email": "guest@example.com", "name": ""})
        assert api.post("/api/v1/orders", json=body).status_code == 201


class TestDocsHeaders:
    def test_the_docs_pages_carry_security_headers(self, client: TestClient) -> None:
        for path in ("/api/docs", "/api/redoc"):
            r = client.get(path)
            assert r.status_code == 200
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["x-content-type-options"] == "nosniff"
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            assert r.headers["referrer-policy"] == "no-referrer"


class TestEnrolName:
    def test_a_name_without_a_letter_at_the_till_is_a_422(self, api: TestClient) -> None:
        r = api.post("/api/v1/pos/enrol", json={"name": ":", "email": "till@example.com"})
        assert r.status_code == 422, r.text
        assert ["body", "name"] in [e["loc"] for e in r.json()["errors"]]
