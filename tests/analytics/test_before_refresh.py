from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import create_customer
from tests.web.helpers import logged_in
from wafa.auth.models import Role


class TestBeforeTheFirstRefresh:
    def test_summary_says_how_to_get_analytics(self, api: TestClient) -> None:
        response = api.get("/api/v1/analytics/summary")
        assert response.status_code == 404
        assert response.json()["type"].endswith("/no-analytics-yet")
        assert "wafa analytics refresh" in response.json()["detail"]

    def test_a_customer_is_not_scored_yet(self, api: TestClient, session: Session) -> None:
        customer = create_customer(session)
        session.flush()
        body = api.get(f"/api/v1/customers/{customer.id}/insights").json()
        assert body["scored"] is False and body["score"] is None

    def test_without_a_key_it_is_401(self, client: TestClient) -> None:
        assert client.get("/api/v1/analytics/segments").status_code == 401


class TestDashboardBeforeTheFirstRefresh:
    def test_the_page_explains_how_to_get_analytics(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.manager)
        page = client.get("/analytics")
        assert page.status_code == 200
        assert "No analytics yet" in page.text and "wafa analytics refresh" in page.text

    def test_the_profile_says_insights_come_later(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.cashier)
        customer = create_customer(session)
        session.flush()
        page = client.get(f"/customers/{customer.id}")
        assert page.status_code == 200
        assert "No insights yet" in page.text
