from __future__ import annotations

import uuid

from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import create_customer
from tests.web.helpers import csrf_token, html_attrs, logged_in
from wafa.auth.models import Role


class TestDashboardErrorPages:
    def test_unknown_page_is_a_404_page(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        response = client.get("/no-such-page")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "Page not found" in response.text
        assert 'class="sidebar"' in response.text  # the logged-in layout

    def test_404_is_in_the_users_language(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, locale="fa")
        response = client.get(f"/customers/{uuid.uuid4()}")
        assert response.status_code == 404
        assert html_attrs(response.text)["dir"] == "rtl"
        assert "صفحه پیدا نشد" in response.text
        assert "۴۰۴" in response.text  # the status in Persian digits

    def test_arabic_error_page(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, locale="ar")
        response = client.get(f"/orders/{uuid.uuid4()}")
        assert response.status_code == 404
        assert "الصفحة غير موجودة" in response.text

    def test_visitor_404_has_the_public_layout(self, client: TestClient) -> None:
        response = client.get("/no-such-page")
        assert response.status_code == 404
        assert 'class="sidebar"' not in response.text
        assert 'href="/login"' in response.text

    def test_malformed_id_is_a_404_page(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        response = client.get("/customers/not-a-uuid")
        assert response.status_code == 404
        assert "Page not found" in response.text

    def test_bad_query_value_is_a_422_page(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        response = client.get("/orders", params={"status": "lost-in-space"})
        assert response.status_code == 422
        assert "Some information is not valid" in response.text

    def test_role_too_low_is_a_403_page(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.cashier, locale="fa")
        customer = create_customer(session)
        response = client.get(f"/customers/{customer.id}/erase")
        assert response.status_code == 403
        assert "به این بخش دسترسی ندارید" in response.text

    def test_conflict_is_a_409_page(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        keep, dup = create_customer(session), create_customer(session)
        token = csrf_token(client, "/customers")
        first = client.post(
            f"/customers/{keep.id}/merge",
            data={"other_id": str(dup.id), "csrf_token": token},
            follow_redirects=False,
        )
        assert first.status_code == 303
        again = client.post(
            f"/customers/{keep.id}/merge", data={"other_id": str(dup.id), "csrf_token": token}
        )
        assert again.status_code == 409
        assert "This could not be done" in again.text
        assert "already merged" in again.text  # the technical detail, tucked away

    def test_back_link_stays_on_site(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        response = client.get("/nope", headers={"referer": "https://evil.example/x"})
        assert 'href="https://evil.example' not in response.text
        response = client.get("/nope", headers={"referer": "http://testserver/orders?q=1"})
        assert 'href="/orders?q=1"' in response.text


class TestUnexpectedErrors:
    def test_dashboard_500_is_a_page_and_api_500_is_problem_json(
        self, app: FastAPI, session: Session
    ) -> None:
        def boom(request: Request) -> Response:
            raise RuntimeError("disk on fire")

        app.router.add_route("/boom", boom)
        app.router.add_route("/api/v1/boom", boom)
        with TestClient(app, raise_server_exceptions=False) as client:
            logged_in(client, session, locale="ar")
            page = client.get("/boom")
            assert page.status_code == 500
            assert "حدث خطأ ما" in page.text
            assert "disk on fire" not in page.text  # internals stay in the log
            api = client.get("/api/v1/boom")
            assert api.status_code == 500
            assert api.headers["content-type"] == "application/problem+json"


class TestApiKeepsProblemJson:
    def test_api_404_is_problem_json(self, api: TestClient) -> None:
        response = api.get(f"/api/v1/customers/{uuid.uuid4()}")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("not-found")

    def test_unknown_api_path_is_problem_json(self, client: TestClient) -> None:
        response = client.get("/api/v1/nothing-here")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    def test_api_without_key_is_401_not_a_redirect(self, client: TestClient) -> None:
        response = client.get("/api/v1/customers", follow_redirects=False)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"

    def test_api_validation_error_is_problem_json(self, api: TestClient) -> None:
        response = api.post("/api/v1/customers", json={"email": "x@example.com", "bogus": 1})
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"]


class TestSessionCallsTheApi:
    """A logged-in page (the POS) calls the JSON API with its cookie and the CSRF header."""

    def test_get_with_the_session_cookie(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        create_customer(session, name="Cookie Reader")
        response = client.get("/api/v1/customers", params={"q": "Cookie Reader"})
        assert response.status_code == 200
        assert [c["name"] for c in response.json()["items"]] == ["Cookie Reader"]

    def test_post_needs_the_csrf_header(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        refused = client.post("/api/v1/customers", json={"name": "No Header"})
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        token = csrf_token(client, "/customers")
        accepted = client.post(
            "/api/v1/customers", json={"name": "With Header"}, headers={"X-CSRF-Token": token}
        )
        assert accepted.status_code == 201
