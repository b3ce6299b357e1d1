"""Retries and races on a real PostgreSQL server: one order, whatever happens."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest
from sqlalchemy import func, select

from tests.factories import order_payload
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.core.db import session_scope
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.orders.models import Order, Refund

pytestmark = pytest.mark.postgres_only


def _api_key(settings: Settings) -> str:
    with session_scope(settings) as s:
        _, token = auth.create_api_key(s, name="load", scopes=["read", "write"])
    return token


def _fire(base: str, token: str, path: str, body: dict, n: int) -> list[httpx.Response]:  # type: ignore[type-arg]
    barrier = threading.Barrier(n)

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=base, timeout=30) as client:
            barrier.wait()
            return client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


class TestConcurrentOrders:
    def test_twenty_identical_posts_store_one_order(self, committed_db: Settings) -> None:
        token = _api_key(committed_db)
        body = order_payload(customer={"email": "race@example.com", "phone": "+14155550199"})
        with running_app(committed_db) as base:
            responses = _fire(base, token, "/api/v1/orders", body, 20)
        codes = sorted(r.status_code for r in responses)
        assert codes == [200] * 19 + [201], [r.text for r in responses if r.status_code >= 300]
        assert len({r.json()["id"] for r in responses}) == 1
        assert len({r.text for r in responses}) == 1  # the same result, byte for byte
        with session_scope(committed_db) as s:
            assert s.scalar(select(func.count()).select_from(Order)) == 1
            assert s.scalar(select(func.count()).select_from(Customer)) == 1
            placed = s.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.topic == "order.placed")
            )
            assert placed == 1

    def test_concurrent_orders_of_one_new_customer_make_one_customer(
        self, committed_db: Settings
    ) -> None:
        token = _api_key(committed_db)
        barrier = threading.Barrier(10)

        with running_app(committed_db) as base:

            def one(i: int) -> int:
                body = order_payload(external_id=f"ord-{i}", customer={"email": "same@example.com"})
                with httpx.Client(base_url=base, timeout=30) as c:
                    barrier.wait()
                    return c.post(
                        "/api/v1/orders", json=body, headers={"Authorization": f"Bearer {token}"}
                    ).status_code

            with ThreadPoolExecutor(10) as pool:
                codes = list(pool.map(one, range(10)))
        assert codes == [201] * 10
        with session_scope(committed_db) as s:
            assert s.scalar(select(func.count()).select_from(Customer)) == 1
            assert s.scalar(select(func.count()).select_from(Order)) == 10

    def test_racing_refunds_never_exceed_the_total(self, committed_db: Settings) -> None:
        token = _api_key(committed_db)
        with running_app(committed_db) as base:
            order = httpx.post(
                base + "/api/v1/orders",
                json=order_payload(),
                headers={"Authorization": f"Bearer {token}"},
            ).json()
            total = order["total"]  # 900: 2 × 450
            barrier = threading.Barrier(10)

            def one(i: int) -> int:
                with httpx.Client(base_url=base, timeout=30) as c:
                    barrier.wait()
                    return c.post(
                        f"/api/v1/orders/{order['id']}/refunds",
                        json={"external_id": f"r{i}", "amount": 200},
                        headers={"Authorization": f"Bearer {token}"},
                    ).status_code

            with ThreadPoolExecutor(10) as pool:
                codes = list(pool.map(one, range(10)))
        assert codes.count(201) == total // 200 and codes.count(409) == 10 - total // 200
        with session_scope(committed_db) as s:
            refunded = s.scalar(select(func.sum(Refund.amount)))
            assert refunded == (total // 200) * 200
