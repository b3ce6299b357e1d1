"""Opposite merges at the same moment, through a served process (both databases; the
race was seen on PostgreSQL, where nothing else serialises two merges)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx

from tests.factories import create_customer, create_order
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.people.doctor import diagnose

PAIRS = 8


class TestOppositeMerges:
    def test_a_into_b_and_b_into_a_together_one_wins(self, committed_db: Settings) -> None:
        with session_scope(committed_db) as s:
            _, token = auth.create_api_key(s, name="merge", scopes=["read", "write"])
            pairs = []
            for i in range(PAIRS):
                a = create_customer(s, phone=f"+141555502{i:02d}", email=f"a{i}@example.com")
                b = create_customer(s, phone=f"+141555503{i:02d}", email=f"b{i}@example.com")
                create_order(s, customer={"phone": f"+141555502{i:02d}"})
                create_order(s, customer={"phone": f"+141555503{i:02d}"})
                pairs.append((a.id, b.id))
        calls = [call for a, b in pairs for call in ((a, b), (b, a))]
        barrier = threading.Barrier(len(calls))

        with running_app(committed_db) as base:

            def merge(call: tuple[object, object]) -> int:
                winner, loser = call
                with httpx.Client(base_url=base, timeout=30) as client:
                    barrier.wait()
                    return client.post(
                        f"/api/v1/customers/{winner}/merge",
                        json={"other_id": str(loser)},
                        headers={"Authorization": f"Bearer {token}"},
                    ).status_code

            with ThreadPoolExecutor(len(calls)) as pool:
                codes = list(pool.map(merge, calls))

        for i in range(PAIRS):
            assert sorted(codes[2 * i : 2 * i + 2]) == [200, 409], codes
        with session_scope(committed_db) as s:
            for a_id, b_id in pairs:
                left, right = s.get(Customer, a_id), s.get(Customer, b_id)
                assert left is not None and right is not None
                survivors = [c for c in (left, right) if c.merged_into_id is None]
                assert len(survivors) == 1
                assert survivors[0].email is not None and survivors[0].phone is not None
            assert diagnose(s).problems == []
