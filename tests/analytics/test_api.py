from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from tests.analytics.helpers import build_shop
from tests.conftest import FrozenClock
from wafa.analytics import refresh as refreshing
from wafa.analytics.tables import CustomerScore
from wafa.core.settings import Settings
from wafa.core.time import set_clock
from wafa.orders.models import Product

NOW = dt.datetime(2026, 2, 8, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def shop_connection(engine: Engine, settings: Settings) -> Iterator[Connection]:
    """One shop, built and refreshed once for the module, in an outer transaction."""
    set_clock(lambda: NOW)
    try:
        with engine.connect() as conn:
            outer = conn.begin()
            with Session(
                bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
            ) as s:
                build_shop(s, customers=30, seed=3)
                refreshing.refresh(s, settings=settings)
                s.commit()
            yield conn
            outer.rollback()
    finally:
        set_clock(None)


@pytest.fixture
def connection(shop_connection: Connection) -> Iterator[Connection]:
    """Each test (and the app under test) works in a savepoint of the shop, rolled back."""
    nested = shop_connection.begin_nested()
    try:
        yield shop_connection
    finally:
        if nested.is_active:
            nested.rollback()


@pytest.fixture
def refreshed(session: Session, clock: FrozenClock) -> Session:
    clock.set(NOW)
    return session


class TestAnalyticsApi:
    def test_insights_return_what_the_refresh_stored(
        self, api: TestClient, refreshed: Session
    ) -> None:
        score = refreshed.scalars(select(CustomerScore).order_by(CustomerScore.customer_id)).first()
        assert score is not None
        response = api.get(f"/api/v1/customers/{score.customer_id}/insights")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["scored"] is True and body["as_of"] == "2026-02-08"
        got = body["score"]
        assert got["p_alive"] == score.p_alive and got["clv"] == score.clv_amount
        assert got["segment"]["key"] == score.segment and got["segment"]["action"]
        assert got["expected_purchases"]["next_90_days"] == score.expected_purchases_90
        assert got["spend"] == score.spend_amount and got["currency"] == "USD"
        expected = got["expected_purchases"]
        assert expected["range_level"] == 0.9
        assert expected["next_90_days_range"] == [
            score.expected_purchases_90_low,
            score.expected_purchases_90_high,
        ]
        low, high = expected["next_365_days_range"]
        assert isinstance(low, int) and isinstance(high, int) and low <= high
        if score.clv_amount is not None:
            assert got["clv_range"] == [score.clv_low_amount, score.clv_high_amount]
        assert len(body["recommendations"]) <= 10
        assert all(r["reason"] in ("bought_together", "popular") for r in body["recommendations"])

    def test_summary_and_segments(self, api: TestClient, refreshed: Session) -> None:
        summary = api.get("/api/v1/analytics/summary").json()
        assert summary["headline"]["customers"] == summary["customers"] > 0
        assert {"cohorts", "activity", "inter_purchase_days", "models", "holdout"} <= set(summary)
        predictions = summary["predictions"]
        assert predictions["level"] == 0.9
        low, high = predictions["expected_purchases_90_range"]
        assert low <= predictions["expected_purchases_90"] <= high
        segments = api.get("/api/v1/analytics/segments").json()
        assert len(segments["segments"]) == 11
        assert sum(s["customers"] for s in segments["segments"]) == summary["customers"]

    def test_scores_can_be_selected_by_probability_alive(
        self, api: TestClient, refreshed: Session
    ) -> None:
        body = api.get("/api/v1/analytics/scores", params={"max_p_alive": 0.5, "limit": 200}).json()
        assert body["items"] and all(item["p_alive"] < 0.5 for item in body["items"])
        bad = api.get("/api/v1/analytics/scores", params={"segment": "vip"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["segment"]

    def test_at_risk_and_also_bought(self, api: TestClient, refreshed: Session) -> None:
        at_risk = api.get("/api/v1/analytics/at-risk").json()
        assert all(r["churn_risk"] in ("medium", "high") for r in at_risk)
        floor = api.get("/api/v1/analytics/summary").json()["at_risk_value_floor"]
        assert floor > 0 and all(r["spend"] >= floor for r in at_risk)
        tea = refreshed.scalar(select(Product).where(Product.sku == "TEA"))
        assert tea is not None
        also = api.get(f"/api/v1/products/{tea.id}/also-bought").json()
        assert also and all(a["sku"] != "TEA" for a in also)

    def test_unknown_customer_is_404(self, api: TestClient, refreshed: Session) -> None:
        response = api.get(f"/api/v1/customers/{uuid.uuid4()}/insights")
        assert response.status_code == 404


class TestRangeLabels:
    def test_the_api_says_what_a_range_is(self, api: TestClient) -> None:
        schema = api.get("/api/v1/openapi.json").json()["components"]["schemas"]
        described = schema["ExpectedPurchases"]["properties"]["next_90_days_range"]["description"]
        assert described.startswith(
            "90 % range for the actual number of repeat purchases, if the model is right"
        )
        assert "can be wrong in ways no range shows" in described
