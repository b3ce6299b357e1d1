"""64 writes on one row at once, through a served process: every request answered within a
few seconds with a correct status (issue 9, item 3: the server stalled past ~40 writers)."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tests.factories import create_customer, order_payload
from tests.serving import running_app
from wafa.api import routing
from wafa.app.factory import create_app
from wafa.auth import service as auth
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.loyalty.models import PointsEntry

WRITERS = 64
#: The slowest answer allowed (seconds) on a quiet machine: the stall made them wait out the
#: 10 s busy timeout. On a loaded machine the bound grows to what serving the writes one after
#: another explains (1.5 x WRITERS x one write's median time, measured on the same server just
#: before the burst).
SLOWEST = 8.0
#: Bursts tried before the bound is enforced. The stall this guards against held up every
#: burst past ~40 writers; a machine shared with another test suite (a browser test taking
#: both cores) can hold up one burst, seen once in CI at 11.1 s with 22 answers 503.
TRIES = 2


def _bound(one_write: float) -> float:
    return max(SLOWEST, 1.5 * WRITERS * one_write)


class TestSixtyFourWritersOnOneRow:
    def test_every_adjustment_is_answered_quickly_and_counted_once(
        self, committed_db: Settings
    ) -> None:
        with session_scope(committed_db) as s:
            _, token = auth.create_api_key(s, name="load", scopes=["read", "write"])
            customer_id = create_customer(s, phone="+14155550191").id
        path = f"/api/v1/customers/{customer_id}/adjustments"
        headers = {"Authorization": f"Bearer {token}"}
        created = 0

        with running_app(committed_db) as base:

            def one_write_alone() -> float:
                nonlocal created
                alone = []
                with httpx.Client(base_url=base, timeout=60) as client:
                    for i in range(7):
                        started = time.monotonic()
                        r = client.post(
                            path, json={"points": 1, "reason": f"alone {i}"}, headers=headers
                        )
                        assert r.status_code == 201, r.text
                        created += 1
                        alone.append(time.monotonic() - started)
                return sorted(alone)[3]

            def burst() -> list[tuple[int, float, str | None]]:
                barrier = threading.Barrier(WRITERS)

                def adjust(i: int) -> tuple[int, float, str | None]:
                    with httpx.Client(base_url=base, timeout=60) as client:
                        barrier.wait()
                        started = time.monotonic()
                        r = client.post(
                            path, json={"points": 1, "reason": f"load {i}"}, headers=headers
                        )
                        took = time.monotonic() - started
                        return r.status_code, took, r.headers.get("retry-after")

                with ThreadPoolExecutor(WRITERS) as pool:
                    return list(pool.map(adjust, range(WRITERS)))

            seen = []
            for _ in range(TRIES):
                bound = _bound(one_write_alone())
                results = burst()
                codes = sorted(code for code, _, _ in results)
                assert set(codes) <= {201, 503}, codes
                assert all(after for code, _, after in results if code == 503)  # Retry-After
                created += codes.count(201)
                slowest = {
                    code: max(took for c, took, _ in results if c == code) for code in set(codes)
                }
                seen.append(
                    f"slowest {', '.join(f'{c}: {t:.1f} s' for c, t in sorted(slowest.items()))}"
                    f" (bound {bound:.1f} s; {codes.count(201)} x 201, {codes.count(503)} x 503)"
                )
                if max(slowest.values()) < bound:
                    break
            else:
                pytest.fail("every burst had a slow answer: " + "; ".join(seen))

        with session_scope(committed_db) as s:
            entries = s.scalar(
                select(func.count())
                .select_from(PointsEntry)
                .where(PointsEntry.customer_id == customer_id, PointsEntry.kind == "adjust")
            )
        assert entries == created


class TestBusyAnswers:
    def test_a_locked_database_at_commit_is_a_503_with_retry_after(
        self, committed_db: Settings
    ) -> None:
        with session_scope(committed_db) as s:
            _, token = auth.create_api_key(s, name="t", scopes=["read", "write"])

        def locked(session: Session) -> None:
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))

        with TestClient(create_app(committed_db)) as client:
            auth_header = {"Authorization": f"Bearer {token}"}
            assert client.get("/api/v1/customers", headers=auth_header).status_code == 200
            event.listen(Session, "before_commit", locked)
            try:
                r = client.post(
                    "/api/v1/customers",
                    json={"name": "Busy Day", "email": "busy@example.com"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            finally:
                event.remove(Session, "before_commit", locked)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] == "1"
        assert r.json()["type"].endswith("/busy")

    def test_no_free_request_slot_in_time_is_a_503(
        self, api: TestClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(routing, "ADMISSION_TIMEOUT", 0.05)
        api.app.state.request_slots = anyio.Semaphore(0)  # type: ignore[attr-defined]
        r = api.get("/api/v1/customers")
        assert r.status_code == 503 and r.headers["retry-after"] == "1"


class TestLoginsBesideOrders:
    def test_45_anonymous_logins_do_not_take_the_shops_orders_down(
        self, committed_db: Settings
    ) -> None:
        """Login hashes passwords (argon2); whatever it holds while it does, the server as a
        whole keeps answering: orders get 201 or a fast 503, never a 500 after a long wait."""
        with session_scope(committed_db) as s:
            _, token = auth.create_api_key(s, name="till", scopes=["read", "write"])
        logins, orders = 45, 10
        barrier = threading.Barrier(logins + orders)

        with running_app(committed_db) as base:

            def guess(i: int) -> tuple[str, int, float]:
                with httpx.Client(base_url=base, timeout=60) as client:
                    page = client.get("/login")
                    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                    assert csrf is not None
                    barrier.wait()
                    started = time.monotonic()
                    r = client.post(
                        "/login",
                        data={
                            "email": f"nobody{i}@example.com",
                            "password": "wrong",
                            "csrf_token": csrf.group(1),
                        },
                    )
                    return "login", r.status_code, time.monotonic() - started

            def order(i: int) -> tuple[str, int, float]:
                with httpx.Client(base_url=base, timeout=60) as client:
                    barrier.wait()
                    started = time.monotonic()
                    r = client.post(
                        "/api/v1/orders",
                        json=order_payload(external_id=f"beside-login-{i}"),
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    return "order", r.status_code, time.monotonic() - started

            with ThreadPoolExecutor(logins + orders) as pool:
                futures = [pool.submit(guess, i) for i in range(logins)]
                futures += [pool.submit(order, i) for i in range(orders)]
                results = [f.result() for f in futures]

        order_codes = sorted(code for kind, code, _ in results if kind == "order")
        login_codes = {code for kind, code, _ in results if kind == "login"}
        slowest_order = max(took for kind, _, took in results if kind == "order")
        assert set(order_codes) <= {201, 503}, order_codes
        assert login_codes <= {401, 429, 503}, login_codes
        # Bounded by the 5 s admission wait and the 10 s SQLite lock wait (then 503), with
        # room for a machine shared with other work; the stall waited 20-30 s and ended in 500.
        assert slowest_order < 20.0, f"slowest order {slowest_order:.1f} s: {order_codes}"
