from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.web.helpers import PASSWORD, csrf_token, html_attrs, logged_in, login, make_user
from wafa.app.factory import SESSION_COOKIE
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.customers import service as customers


class TestLoginRequired:
    def test_page_redirects_to_login_with_next(self, client: TestClient) -> None:
        response = client.get("/customers?q=ali", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Fcustomers%3Fq%3Dali"

    def test_post_redirects_to_login(self, client: TestClient) -> None:
        token = csrf_token(client)
        response = client.post(
            "/customers/new", data={"name": "X", "csrf_token": token}, follow_redirects=False
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/login"

    def test_disabled_user_is_logged_out(self, client: TestClient, session: Session) -> None:
        user = logged_in(client, session)
        user.active = False
        session.flush()
        response = client.get("/customers", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login")


class TestLogin:
    def test_success_goes_to_next(self, client: TestClient, session: Session) -> None:
        user = make_user(session)
        token = csrf_token(client, "/login?next=/orders")
        response = client.post(
            "/login",
            data={
                "email": user.email,
                "password": PASSWORD,
                "next": "/orders",
                "csrf_token": token,
            },
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/orders"
        assert "samesite=lax" in response.headers["set-cookie"].lower()
        assert "httponly" in response.headers["set-cookie"].lower()
        assert client.get("/orders").status_code == 200

    def test_off_site_next_is_ignored(self, client: TestClient, session: Session) -> None:
        user = make_user(session)
        token = csrf_token(client)
        response = client.post(
            "/login",
            data={
                "email": user.email,
                "password": PASSWORD,
                "next": "//evil.example/",
                "csrf_token": token,
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == "/"

    def test_wrong_password_shows_the_form_again(
        self, client: TestClient, session: Session
    ) -> None:
        user = make_user(session)
        response = login(client, user, password="not-the-password")
        assert response.status_code == 401
        assert "The email or password is not right" in response.text
        assert user.email in response.text  # the email stays filled in
        assert client.get("/customers", follow_redirects=False).status_code == 303

    def test_unknown_email_is_the_same_answer(self, client: TestClient) -> None:
        token = csrf_token(client)
        response = client.post(
            "/login",
            data={"email": "nobody@example.com", "password": PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 401
        assert "The email or password is not right" in response.text

    def test_without_csrf_token_is_refused(self, client: TestClient, session: Session) -> None:
        user = make_user(session)
        client.get("/login")
        response = client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 403
        assert "This form expired" in response.text
        assert client.get("/customers", follow_redirects=False).status_code == 303

    def test_session_is_renewed(self, client: TestClient, session: Session) -> None:
        before = csrf_token(client)
        login(client, make_user(session))
        assert csrf_token(client, "/customers") != before

    def test_cashier_lands_on_their_first_page(self, client: TestClient, session: Session) -> None:
        cashier = make_user(session, role=Role.cashier)
        response = login(client, cashier)
        assert response.headers["location"] == client.app.state.nav.home_for(cashier)  # type: ignore[attr-defined]
        assert response.headers["location"] != "/"  # the overview is for managers


class TestLogout:
    def test_logout_ends_the_session(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        token = csrf_token(client, "/customers")
        response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert response.headers["location"] == "/login"
        assert client.get("/customers", follow_redirects=False).status_code == 303

    def test_logout_needs_the_csrf_token(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        response = client.post("/logout", data={})
        assert response.status_code == 403
        assert client.get("/customers").status_code == 200


class TestCsrf:
    def test_form_post_without_token_is_refused(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        response = client.post("/customers/new", data={"name": "Mallory"})
        assert response.status_code == 403
        assert "text/html" in response.headers["content-type"]
        assert customers.search_customers(session, q="Mallory")[0] == []

    def test_wrong_token_is_refused(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        response = client.post("/customers/new", data={"name": "M", "csrf_token": "forged"})
        assert response.status_code == 403

    def test_header_token_is_accepted_for_scripts(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session)
        token = csrf_token(client, "/customers")
        response = client.post(
            "/customers/new",
            data={"name": "Script Added"},
            headers={"X-CSRF-Token": token},
            follow_redirects=False,
        )
        assert response.status_code == 303

    def test_cookie_from_another_secret_is_ignored(self, client: TestClient) -> None:
        client.cookies.set(SESSION_COOKIE, "forged.value.here")
        assert client.get("/customers", follow_redirects=False).status_code == 303


class TestLanguageSwitch:
    def test_switch_to_persian_sets_rtl(self, client: TestClient, session: Session) -> None:
        user = logged_in(client, session)
        token = csrf_token(client, "/customers")
        response = client.post(
            "/locale",
            data={"locale": "fa", "next": "/customers", "csrf_token": token},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/customers"
        page = client.get("/customers")
        assert html_attrs(page.text)["lang"] == "fa"
        assert html_attrs(page.text)["dir"] == "rtl"
        assert "مشتریان" in page.text
        session.refresh(user)
        assert user.locale == "fa"

    def test_arabic_is_rtl(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        token = csrf_token(client, "/customers")
        client.post("/locale", data={"locale": "ar", "csrf_token": token})
        attrs = html_attrs(client.get("/orders").text)
        assert (attrs["lang"], attrs["dir"]) == ("ar", "rtl")

    def test_saved_language_applies_at_next_login(
        self, client: TestClient, session: Session
    ) -> None:
        user = make_user(session)
        auth.set_user_locale(session, user_id=user.id, locale="ar")
        login(client, user)
        assert html_attrs(client.get("/customers").text)["lang"] == "ar"

    def test_menu_choice_beats_saved_language(self, client: TestClient, session: Session) -> None:
        user = make_user(session, locale="ar")
        token = csrf_token(client)
        client.post("/locale", data={"locale": "fa", "next": "/login", "csrf_token": token})
        login(client, user)
        assert html_attrs(client.get("/customers").text)["lang"] == "fa"
        session.refresh(user)
        assert user.locale == "ar"  # switched before logging in: only the session knew

    def test_login_page_switches_without_an_account(self, client: TestClient) -> None:
        token = csrf_token(client)
        client.post("/locale", data={"locale": "fa", "next": "/login", "csrf_token": token})
        page = client.get("/login")
        assert html_attrs(page.text)["dir"] == "rtl"
        assert "ورود" in page.text

    def test_unknown_language_falls_back(self, client: TestClient, session: Session) -> None:
        logged_in(client, session)
        token = csrf_token(client, "/customers")
        client.post("/locale", data={"locale": "xx", "csrf_token": token})
        assert html_attrs(client.get("/customers").text)["lang"] == "en"

    def test_default_is_the_business_locale(self, app: FastAPI, client: TestClient) -> None:
        app.state.settings = app.state.settings.model_copy(update={"locale": "fa"})
        page = client.get("/login")
        assert html_attrs(page.text)["lang"] == "fa"
