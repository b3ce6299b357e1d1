"""Getting in: signed links (expiry, alteration, single use, revocation), the cookie,
"send me a link" (no enumeration, rate limits) and the SMS code."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.portal.helpers import link_path, member, sign_in
from wafa.core.settings import Settings
from wafa.messaging.models import Message
from wafa.people import service as people
from wafa.portal import access


def _alter(path: str) -> str:
    token = path.rsplit("/", 1)[1]
    swapped = "A" if token[10] != "A" else "B"
    return path.rsplit("/", 1)[0] + "/" + token[:10] + swapped + token[11:]


class TestPortalLinkApi:
    def test_link_opens_once_on_the_customers_points(
        self, api: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = member(session, settings, points=120, name="Leila Karimi")
        answer = api.post(f"/api/v1/customers/{customer.id}/portal-link")
        assert answer.status_code == 201
        body = answer.json()
        assert body["url"].startswith(settings.public_url.rstrip("/") + "/portal/login/")
        assert body["expires_at"]
        path = body["url"].removeprefix(settings.public_url.rstrip("/"))
        page = api.get(path)
        assert page.status_code == 200
        assert "Leila" in page.text and 'data-testid="available">120<' in page.text
        api.cookies.clear()
        again = api.get(path)
        assert again.status_code == 410 and "Leila" not in again.text

    def test_altered_and_expired_links_are_refused_without_data(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        customer = member(session, settings, points=5, name="Omid Rahimi")
        path = link_path(session, settings, customer, ttl=timedelta(minutes=5))
        altered = client.get(_alter(path))
        assert altered.status_code == 403 and "Omid" not in altered.text
        clock.advance(minutes=6)
        expired = client.get(path)
        assert expired.status_code == 410 and "Omid" not in expired.text
        assert "wafa_portal" not in expired.headers.get("set-cookie", "")

    def test_revoking_refuses_earlier_links_and_ends_sessions(
        self, api: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        customer = member(session, settings)
        old = link_path(session, settings, customer)
        sign_in(api, session, settings, customer)
        clock.advance(seconds=2)
        assert api.delete(f"/api/v1/customers/{customer.id}/portal-access").status_code == 204
        home = api.get("/portal/", follow_redirects=False)
        assert home.status_code == 303 and home.headers["location"].startswith("/portal/login")
        api.cookies.clear()
        assert api.get(old).status_code == 410
        clock.advance(seconds=2)
        assert api.get(link_path(session, settings, customer)).status_code == 200

    def test_a_deep_link_opens_its_page_and_refuses_other_sites(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = member(session, settings)
        path = link_path(session, settings, customer, page="/portal/?from=mail")
        answer = client.get(path, follow_redirects=False)
        assert answer.headers["location"] == "/portal/?from=mail"
        outside = link_path(session, settings, customer, page="https://evil.example/")
        assert client.get(outside, follow_redirects=False).headers["location"] == "/portal/"


class TestCookie:
    def test_httponly_lax_scoped_to_the_portal_and_secure_behind_https(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = member(session, settings)
        plain = client.get(link_path(session, settings, customer), follow_redirects=False)
        cookie = plain.headers["set-cookie"].lower()
        assert "wafa_portal=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        assert "path=/portal" in cookie and "secure" not in cookie
        assert "wafa_session" not in cookie  # the staff session is not touched
        behind_tls = client.get(
            link_path(session, settings, customer),
            headers={"X-Forwarded-Proto": "https"},
            follow_redirects=False,
        )
        assert "secure" in behind_tls.headers["set-cookie"].lower()

    def test_signing_out_ends_the_session(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = member(session, settings)
        sign_in(client, session, settings, customer)
        form = client.get("/portal/").text
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post("/portal/logout", data={"csrf_token": token})
        assert client.get("/portal/", follow_redirects=False).status_code == 303

    def test_a_form_without_the_sessions_token_is_refused(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = member(session, settings)
        sign_in(client, session, settings, customer)
        assert client.post("/portal/logout", data={"csrf_token": "x" * 40}).status_code == 403
        assert client.get("/portal/").status_code == 200


def _messages(session: Session, reason: str) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.reason == reason)))


class TestSendMeALink:
    def test_same_answer_known_or_not_and_only_the_known_get_mail(
        self, client: TestClient, session: Session
    ) -> None:
        create_customer(session, email="known@example.com")
        session.flush()
        known = client.post("/portal/login", data={"address": "Known@example.com"})
        unknown = client.post("/portal/login", data={"address": "nobody@example.com"})
        assert known.status_code == unknown.status_code == 200
        assert known.text == unknown.text
        [sent] = _messages(session, "portal-link")
        assert sent.kind == "transactional" and sent.channel == "email"
        assert "/portal/login/" in sent.context["link"]

    def test_limits_per_address_and_per_ip(self, client: TestClient, session: Session) -> None:
        for _ in range(access.PER_ADDRESS):
            assert (
                client.post("/portal/login", data={"address": "a@example.com"}).status_code == 200
            )
        assert client.post("/portal/login", data={"address": "a@example.com"}).status_code == 429
        for n in range(access.PER_IP - access.PER_ADDRESS - 1):
            client.post("/portal/login", data={"address": f"b{n}@example.com"})
        assert client.post("/portal/login", data={"address": "c@example.com"}).status_code == 429

    def test_a_bad_address_names_the_field(self, client: TestClient) -> None:
        answer = client.post("/portal/login", data={"address": "not an address"})
        assert answer.status_code == 422 and 'aria-invalid="true"' in answer.text

    def test_a_form_from_another_site_is_refused(self, client: TestClient) -> None:
        answer = client.post(
            "/portal/login",
            data={"address": "a@example.com"},
            headers={"Origin": "https://evil.example"},
        )
        assert answer.status_code == 403


class TestSmsCode:
    def test_the_code_signs_in_once(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        customer = member(session, settings, points=7, phone="+12025550123", name="Sara")
        page = client.post("/portal/login", data={"address": "(202) 555-0123"})
        assert 'name="code"' in page.text
        [sms] = _messages(session, "portal-code")
        assert sms.channel == "sms" and sms.customer_id == customer.id
        code = sms.context["code"]
        wrong = client.post(
            "/portal/login/code",
            data={"phone": "+12025550123", "code": "000000" if code != "000000" else "111111"},
        )
        assert wrong.status_code == 422
        right = client.post("/portal/login/code", data={"phone": "+12025550123", "code": code})
        assert right.status_code == 200 and "Sara" in right.text
        client.cookies.clear()
        again = client.post("/portal/login/code", data={"phone": "+12025550123", "code": code})
        assert again.status_code == 422

    def test_five_wrong_tries_spend_the_code(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        member(session, settings, phone="+12025550124")
        client.post("/portal/login", data={"address": "+12025550124"})
        [sms] = _messages(session, "portal-code")
        code = sms.context["code"]
        bad = "000000" if code != "000000" else "111111"
        for _ in range(access.CODE_TRIES):
            client.post("/portal/login/code", data={"phone": "+12025550124", "code": bad})
        right = client.post("/portal/login/code", data={"phone": "+12025550124", "code": code})
        assert right.status_code == 422

    def test_unknown_number_gets_the_same_page_and_no_sms(
        self, client: TestClient, session: Session
    ) -> None:
        page = client.post("/portal/login", data={"address": "+12025550199"})
        assert page.status_code == 200 and 'name="code"' in page.text
        assert _messages(session, "portal-code") == []


class TestErasure:
    def test_erasing_the_customer_ends_the_portal(
        self, client: TestClient, session: Session, settings: Settings, app: object
    ) -> None:
        customer = member(session, settings)
        sign_in(client, session, settings, customer)
        people.erase_customer(
            session,
            settings=settings,
            customer_id=customer.id,
            erased_by="test",
            hooks=client.app.state.people_hooks,  # type: ignore[attr-defined]
        )
        session.flush()
        assert client.get("/portal/", follow_redirects=False).status_code == 303
