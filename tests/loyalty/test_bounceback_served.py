"""Once per order under concurrency, as in production: twenty identical order POSTs at once
against the served app, then the worker: one grant, one coupon, one confirmation carrying
its code. The same for twenty identical point-of-sale purchases. SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import make_settings
from tests.factories import create_customer, order_payload
from tests.messaging.conftest import Sink, body_of
from tests.serving import running_app
from wafa.app.worker import build_worker
from wafa.auth import service as auth
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.loyalty.bounceback import service as bounceback
from wafa.loyalty.bounceback.schemas import RuleCreate
from wafa.loyalty.models import BounceBackGrant, Coupon, CouponSource

pytestmark = pytest.mark.slow

RULE = {"name": "Next visit", "percent_bp": 1000, "valid_days": 7, "holdout_percent": 0}


def _counts(settings: Settings) -> tuple[int, int]:
    with session_scope(settings) as s:
        grants = s.scalar(select(func.count()).select_from(BounceBackGrant))
        made = s.scalar(
            select(func.count())
            .select_from(Coupon)
            .where(Coupon.source == CouponSource.bounce_back)
        )
        return int(grants or 0), int(made or 0)


def _post_twenty(base: str, path: str, payload: dict[str, Any], token: str) -> list[int]:
    import httpx2 as httpx

    def post(_: int) -> int:
        answer = httpx.post(
            base + path, json=payload, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        return int(answer.status_code)

    with ThreadPoolExecutor(max_workers=20) as pool:
        return list(pool.map(post, range(20)))


def test_twenty_order_posts_one_coupon_one_email(committed_db: Settings, smtp_sink: Sink) -> None:
    settings = make_settings(
        committed_db.database_url,
        smtp_url=smtp_sink.url,
        mail_from="Test Café <shop@example.com>",
        public_url="https://shop.example",
        email_rate=0,
    )
    with session_scope(settings) as s:
        _, token = auth.create_api_key(s, name="t", scopes=["read", "write", "admin"])
        bounceback.create_rule(s, data=RuleCreate.model_validate(RULE), by="test")
    payload = order_payload(
        placed_at=datetime.now(UTC).isoformat(),
        customer={"email": "back@example.com", "name": "Back"},
    )
    with running_app(settings) as base:
        codes = _post_twenty(base, "/api/v1/orders", payload, token)
    assert all(code in (200, 201) for code in codes), codes
    build_worker(settings).run_once()
    build_worker(settings).run_once()
    assert _counts(settings) == (1, 1)
    with session_scope(settings) as s:
        code = s.scalar(select(Coupon.code).where(Coupon.source == CouponSource.bounce_back))
    assert code is not None
    mails = smtp_sink.to("back@example.com")
    assert len(mails) == 1
    text = body_of(mails[0], "plain")
    assert "For your next visit: Next visit (10% off)" in text
    assert f"{code[:4]}-{code[4:]}" in text


def test_twenty_pos_purchases_one_coupon(committed_db: Settings) -> None:
    settings = committed_db
    with session_scope(settings) as s:
        _, token = auth.create_api_key(s, name="t", scopes=["read", "write", "admin"])
        bounceback.create_rule(s, data=RuleCreate.model_validate(RULE), by="test")
        customer = create_customer(s, phone="+12025550188", email="pos@example.com")
        customer_id = str(customer.id)
    body = {
        "customer_id": customer_id,
        "reference": "till-1-000042",
        "lines": [{"name": "Latte", "quantity": 1, "unit_price": 450}],
    }
    with running_app(settings) as base:
        codes = _post_twenty(base, "/api/v1/pos/purchases", body, token)
    assert all(code in (200, 201) for code in codes), codes
    assert _counts(settings) == (1, 1)
    build_worker(settings).run_once()
    assert _counts(settings) == (1, 1)
