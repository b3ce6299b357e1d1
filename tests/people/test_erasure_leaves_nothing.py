"""After an erasure, nothing in the whole database names the person (issue 9, item 8)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import order_payload
from wafa.app.factory import create_app
from wafa.app.models import metadata
from wafa.app.worker import build_worker
from wafa.auth import service as auth
from wafa.core.db import get_engine, session_scope
from wafa.core.settings import Settings

NAME = "Zahra Kuhestani"
EMAIL = "zahra.kuhestani@example.com"
PHONE = "+14155550187"
LOCAL_PHONE = "4155550187"


def _dump(settings: Settings) -> list[str]:
    """Every row of every table, each value written out in full."""
    rows: list[str] = []
    with get_engine(settings).connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                values = (
                    json.dumps(v, default=str, ensure_ascii=False)
                    if isinstance(v, dict | list)
                    else str(v)
                    for v in row
                )
                rows.append(f"{table.name}: " + " | ".join(values))
    return rows


def _traces(rows: list[str]) -> list[str]:
    """The rows that hold any of the person's name, email or phone."""
    needles = (NAME, "Kuhestani", EMAIL, PHONE, LOCAL_PHONE)
    return [row for row in rows if any(n.lower() in row.lower() for n in needles)]


class TestEraseLeavesNothing:
    def test_no_table_holds_the_person_and_a_replay_does_not_return_them(
        self, committed_db: Settings
    ) -> None:
        settings = committed_db
        with session_scope(settings) as s:
            _, token = auth.create_api_key(s, name="t", scopes=["read", "write", "admin"])
        headers = {"Authorization": f"Bearer {token}"}
        created_with = {**headers, "Idempotency-Key": "create-zahra-1"}
        body: dict[str, Any] = {"name": NAME, "email": EMAIL, "phone": PHONE}
        worker = build_worker(settings)
        with TestClient(create_app(settings)) as api:
            r = api.post("/api/v1/customers", json=body, headers=created_with)
            assert r.status_code == 201, r.text
            cid = r.json()["id"]
            order = api.post(
                "/api/v1/orders",
                json=order_payload(
                    customer={"email": EMAIL, "phone": PHONE, "name": NAME},
                    shipping_address=f"{NAME}, 1 Main St",
                    attributes={"gift_message": f"For {NAME}, call {PHONE}", "by": EMAIL},
                ),
                headers={**headers, "Idempotency-Key": "order-zahra-1"},
            )
            assert order.status_code == 201, order.text
            refund = api.post(
                f"/api/v1/orders/{order.json()['id']}/refunds",
                json={"external_id": "r1", "amount": 100, "reason": f"{NAME} changed her mind"},
                headers=headers,
            )
            assert refund.status_code == 201, refund.text
            worker.run_once(daily=False)
            adjusted = api.post(
                f"/api/v1/customers/{cid}/adjustments",
                json={"points": 50, "reason": f"sorry {NAME}, phone {PHONE}"},
                headers={**headers, "Idempotency-Key": "adjust-zahra-1"},
            )
            assert adjusted.status_code == 201, adjusted.text
            assert _traces(_dump(settings))  # the probe sees the person before the erasure

            erased = api.post(f"/api/v1/customers/{cid}/erase", headers=headers)
            assert erased.status_code == 200, erased.text
            worker.run_once(daily=False)

            leftovers = _traces(_dump(settings))
            assert leftovers == [], "\n".join(leftovers)

            replay = api.post("/api/v1/customers", json=body, headers=created_with)
            assert replay.status_code == 410, replay.text
            assert _traces([replay.text]) == []
