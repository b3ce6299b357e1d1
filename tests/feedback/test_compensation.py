from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import create_customer
from wafa.core.db import session_factory, session_scope
from wafa.core.settings import Settings
from wafa.feedback import compensation, complaints
from wafa.feedback.models import Compensation, ComplaintChannel
from wafa.feedback.schemas import CompensationCreate, ComplaintCreate
from wafa.loyalty import service as loyalty
from wafa.loyalty.models import Coupon, PointsEntry


def _complaint(session: Session, settings: Settings) -> uuid.UUID:
    customer = create_customer(session)
    data = ComplaintCreate(customer_id=customer.id, category="damaged", text="Broken cup")
    return complaints.file_complaint(
        session, settings=settings, data=data, channel=ComplaintChannel.pos, by="cashier"
    ).id


class TestCompensate:
    def test_points_are_available_at_once_and_named_on_the_ledger(
        self, session: Session, settings: Settings
    ) -> None:
        cid = _complaint(session, settings)
        made, created = compensation.compensate(
            session,
            settings=settings,
            complaint_id=cid,
            key="k1",
            role="manager",
            by="m",
            data=CompensationCreate(points=50, reason="Broken cup"),
        )
        again, created_again = compensation.compensate(
            session,
            settings=settings,
            complaint_id=cid,
            key="k1",
            role="manager",
            by="m",
            data=CompensationCreate(points=50, reason="Broken cup"),
        )
        assert created and not created_again and again.id == made.id
        customer_id = made.customer_id
        assert loyalty.status(session, settings=settings, customer_id=customer_id).available == 50
        entry = session.get(PointsEntry, made.points_entry_id)
        assert entry is not None and str(cid)[:8] in (entry.note or "")
        kinds = [e.kind for e in complaints.history(session, cid)]
        assert "compensation" in kinds

    def test_a_single_use_coupon(self, session: Session, settings: Settings) -> None:
        cid = _complaint(session, settings)
        made, _ = compensation.compensate(
            session,
            settings=settings,
            complaint_id=cid,
            key="k",
            role="cashier",
            by="c",
            data=CompensationCreate.model_validate({"coupon": {"kind": "percent", "percent": 10}}),
        )
        coupon = session.scalars(select(Coupon).where(Coupon.code == made.coupon_code)).one()
        assert coupon.max_uses == 1 and coupon.customer_id == made.customer_id
        assert coupon.source == "compensation"

    @pytest.mark.parametrize(
        ("role", "gift", "allowed"),
        [
            ("cashier", {"points": 100}, True),
            ("cashier", {"points": 101}, False),
            ("manager", {"points": 1000}, True),
            ("manager", {"coupon": {"kind": "percent", "percent": 31}}, False),
            ("cashier", {"coupon": {"kind": "product", "product_sku": "MUG"}}, False),
            ("owner", {"points": 100_000}, True),
        ],
    )
    def test_limits_per_role(
        self,
        session: Session,
        settings: Settings,
        role: str,
        gift: dict[str, object],
        allowed: bool,
    ) -> None:
        cid = _complaint(session, settings)
        data = CompensationCreate.model_validate(gift)
        if allowed:
            compensation.compensate(
                session, settings=settings, complaint_id=cid, key="k", role=role, by="x", data=data
            )
        else:
            with pytest.raises(compensation.OverLimit):
                compensation.compensate(
                    session,
                    settings=settings,
                    complaint_id=cid,
                    key="k",
                    role=role,
                    by="x",
                    data=data,
                )
            assert compensation.for_complaint(session, cid) == []


class TestCompensationApi:
    def test_points_once_per_idempotency_key(
        self, api: TestClient, session: Session, settings: Settings
    ) -> None:
        cid = _complaint(session, settings)
        session.flush()
        url = f"/api/v1/complaints/{cid}/compensations"
        headers = {"Idempotency-Key": "comp-1"}
        first = api.post(url, json={"points": 40, "reason": "Sorry"}, headers=headers)
        assert first.status_code == 201, first.text
        replay = api.post(url, json={"points": 40, "reason": "Sorry"}, headers=headers)
        assert replay.status_code in (200, 201) and replay.json()["id"] == first.json()["id"]
        customer_id = uuid.UUID(first.json()["customer_id"])
        assert loyalty.status(session, settings=settings, customer_id=customer_id).available == 40
        refused = api.post(url, json={"reason": "nothing"})
        assert refused.status_code == 422


class TestConcurrentCompensation:
    def test_twenty_clicks_one_gift(self, committed_db: Settings) -> None:
        settings = committed_db
        with session_scope(settings) as s:
            cid = _complaint(s, settings)
        factory = session_factory(settings)
        barrier = threading.Barrier(20)
        outcomes: Counter[str] = Counter()
        lock = threading.Lock()

        def click() -> None:
            barrier.wait()
            with factory() as session, session.begin():
                _, created = compensation.compensate(
                    session,
                    settings=settings,
                    complaint_id=cid,
                    key="form-1",
                    role="manager",
                    by="m",
                    data=CompensationCreate(points=25, reason="Sorry"),
                )
            with lock:
                outcomes["created" if created else "again"] += 1

        threads = [threading.Thread(target=click) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert outcomes == Counter({"created": 1, "again": 19})
        with factory() as s:
            assert s.scalar(select(func.count()).select_from(Compensation)) == 1
            made = s.scalars(select(Compensation)).one()
            assert (
                loyalty.status(s, settings=settings, customer_id=made.customer_id).available == 25
            )
