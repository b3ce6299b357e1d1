"""The owner's Staff and API keys screens (issue 15), over HTTP."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.web.helpers import html_attrs, logged_in, post_form
from wafa.auth import service as auth
from wafa.auth.models import ApiKey, Role, StaffUser
from wafa.web import i18n, staff

SECRET = re.compile(r'<code id="secret"[^>]*>(?:<bdi[^>]*>)?([^<]+)<')


def _secret(text: str) -> str:
    found = SECRET.search(text)
    assert found, text[:2000]
    return found.group(1).strip()


def _member(session: Session, email: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(StaffUser.email == email))
    assert user is not None
    return user


class TestStaff:
    def test_owner_adds_a_cashier_with_a_password_made_and_shown_once(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.owner)
        answer = post_form(
            client,
            "/staff",
            {"email": "Cash@Example.com", "name": "Cash", "role": "cashier"},
            page="/staff",
        )
        assert answer.status_code == 201
        password = _secret(answer.text)
        member = _member(session, "cash@example.com")
        assert member.role == "cashier" and member.active
        assert auth.authenticate(session, email="cash@example.com", password=password)
        listing = client.get("/staff")
        assert "cash@example.com" in listing.text and password not in listing.text

    def test_bad_input_names_the_field_and_writes_nothing(
        self, client: TestClient, session: Session
    ) -> None:
        owner = logged_in(client, session, role=Role.owner)
        answer = post_form(
            client,
            "/staff",
            {"email": "not-an-email", "role": "cashier", "password": "short"},
            page="/staff",
        )
        assert answer.status_code == 422
        assert 'id="email-error"' in answer.text and 'id="password-error"' in answer.text
        taken = post_form(
            client, "/staff", {"email": owner.email, "role": "cashier"}, page="/staff"
        )
        assert taken.status_code == 409 and 'id="email-error"' in taken.text
        assert len(auth.list_users(session)) == 1

    def test_disable_logs_the_user_out_everywhere_and_stops_their_keys(
        self, app: object, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session, role=Role.owner)
        with TestClient(app) as other:  # type: ignore[arg-type]
            manager = logged_in(other, session, role=Role.manager)
            _, token = auth.create_api_key(session, name="m", scopes=["read"], created_by=manager)
            session.flush()
            assert other.get("/customers", follow_redirects=False).status_code == 200
            answer = post_form(
                client, f"/staff/{manager.id}/active", {"active": "0"}, page="/staff"
            )
            assert answer.status_code == 303
            assert other.get("/customers", follow_redirects=False).status_code == 303
            bearer = {"Authorization": f"Bearer {token}"}
            assert other.get("/api/v1/customers", headers=bearer).status_code == 401
        session.refresh(manager)
        assert not manager.active
        post_form(client, f"/staff/{manager.id}/active", {"active": "1"}, page="/staff")
        session.refresh(manager)
        assert manager.active

    def test_change_role_and_reset_password(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.owner)
        member = auth.create_user(
            session, email="c@example.com", password="first-password", role=Role.cashier
        )
        session.flush()
        post_form(client, f"/staff/{member.id}/role", {"role": "manager"}, page="/staff")
        session.refresh(member)
        assert member.role == "manager"
        answer = post_form(client, f"/staff/{member.id}/password", {}, page="/staff")
        assert answer.status_code == 200
        password = _secret(answer.text)
        session.expire_all()
        assert auth.authenticate(session, email="c@example.com", password=password)

    def test_the_last_owner_stays(self, client: TestClient, session: Session) -> None:
        owner = logged_in(client, session, role=Role.owner)
        answer = post_form(client, f"/staff/{owner.id}/role", {"role": "cashier"}, page="/staff")
        assert answer.status_code == 303
        session.refresh(owner)
        assert owner.role == "owner"
        assert "at least one active owner" in client.get("/staff").text

    @pytest.mark.parametrize("role", [Role.manager, Role.cashier])
    def test_only_owners_see_the_screens(
        self, client: TestClient, session: Session, role: Role
    ) -> None:
        logged_in(client, session, role=role)
        assert client.get("/staff").status_code == 403
        assert client.get("/keys").status_code == 403
        assert 'href="/staff"' not in client.get("/customers").text


class TestKeys:
    def test_make_a_key_shown_once_then_listed_with_its_last_use_and_revoked(
        self, client: TestClient, session: Session
    ) -> None:
        owner = logged_in(client, session, role=Role.owner)
        answer = post_form(
            client,
            "/keys",
            {"name": "Web shop", "scope_read": "on", "scope_write": "on"},
            page="/keys",
        )
        assert answer.status_code == 201
        token = _secret(answer.text)
        key = session.scalar(select(ApiKey).where(ApiKey.name == "Web shop"))
        assert key is not None and key.created_by == owner.id
        assert key.scopes == ["read", "write"]
        with TestClient(client.app) as shop:
            shop.headers["Authorization"] = f"Bearer {token}"
            assert shop.get("/api/v1/customers").status_code == 200
            listing = client.get("/keys")
            assert "Web shop" in listing.text and token not in listing.text
            assert "Never" not in listing.text  # last use shown
            post_form(client, f"/keys/{key.id}/revoke", {}, page="/keys")
            assert shop.get("/api/v1/customers").status_code == 401

    def test_a_key_needs_a_scope(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.owner)
        answer = post_form(client, "/keys", {"name": "x"}, page="/keys")
        assert answer.status_code == 422 and 'id="scopes-error"' in answer.text


@pytest.mark.parametrize("language", ["ar", "fa"])
def test_screens_are_right_to_left_and_translated(
    client: TestClient, session: Session, language: str
) -> None:
    logged_in(client, session, role=Role.owner, locale=language)
    for path, english in (("/staff", "Add a login"), ("/keys", "Make a key")):
        page = client.get(path)
        assert page.status_code == 200
        assert html_attrs(page.text)["dir"] == "rtl"
        assert english not in page.text


KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _auth_msgids() -> set[str]:
    from babel.messages.extract import extract_from_file

    from wafa.web.templating import TEMPLATE_DIR

    src = Path(staff.__file__).resolve().parent
    found: set[str] = set()
    for path in (TEMPLATE_DIR / "auth").glob("*.html"):
        for _, msg, _, _ in extract_from_file(
            "jinja2", str(path), keywords=KEYWORDS, options={"extensions": "jinja2.ext.do"}
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    for path in (src / "staff.py", src / "auth.py"):
        for _, msg, _, _ in extract_from_file("python", str(path), keywords=KEYWORDS):
            found.add(msg if isinstance(msg, str) else msg[0])
    return found


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_every_string_of_the_screens_is_translated(language: str) -> None:
    catalogue = i18n.translations(language)
    msgids = _auth_msgids()
    assert len(msgids) > 50
    missing = sorted(m for m in msgids if m not in catalogue)
    assert not missing, f"untranslated in {language}: {missing}"


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_translations_keep_their_placeholders(language: str) -> None:
    from babel.messages.pofile import read_po

    with (i18n.LOCALE_DIR / language / "LC_MESSAGES" / "auth.po").open("rb") as handle:
        catalog = read_po(handle, locale=language)
    for message in catalog:
        if message.id:
            wanted = set(PLACEHOLDER.findall(str(message.id)))
            assert set(PLACEHOLDER.findall(str(message.string))) == wanted, message.id
