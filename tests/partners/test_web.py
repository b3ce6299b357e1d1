"""The partners' pages: the owner's (list, add, link made and revoked, codes, statement) and
the partner's own page at its counter (check, mark used, not found, the rate limit, forms
bound to the phone's session); every string in Arabic and Persian."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.partners.helpers import offer_codes, partner
from tests.web.helpers import logged_in, post_form
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.partners import access, service
from wafa.partners.web import counter
from wafa.web import i18n
from wafa.web.templating import TEMPLATE_DIR


def _open(
    client: TestClient, session: Session, settings: Settings, p: object, lang: str = ""
) -> None:
    url = access.issue_link(session, settings=settings, partner_id=p.id).url  # type: ignore[attr-defined]
    session.flush()
    path = url.removeprefix(settings.public_url.rstrip("/")) + (f"?lang={lang}" if lang else "")
    opened = client.get(path, follow_redirects=False)
    assert opened.status_code == 303, opened.text
    assert counter.COOKIE in opened.cookies


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


class TestOwnerPages:
    def test_only_the_owner(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, role=Role.manager)
        assert client.get("/partners").status_code == 403

    def test_add_link_codes_statement(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        logged_in(client, session)
        assert "No partner yet" in client.get("/partners").text
        bad = post_form(client, "/partners/new", {"name": "", "offer": ""}, page="/partners/new")
        assert bad.status_code == 422
        made = post_form(
            client,
            "/partners/new",
            {"name": "Golden Bakery", "offer": "A free pastry", "offer_value": "3.50"},
            page="/partners/new",
        )
        assert made.status_code == 303
        path = made.headers["location"]
        page = client.get(path)
        assert page.status_code == 200 and "A free pastry" in page.text
        link = post_form(client, f"{path}/link", {}, page=path)
        assert link.status_code == 200 and "/partner/login/" in link.text
        codes = post_form(
            client,
            f"{path}/codes",
            {"direction": "offer", "count": "3", "valid_days": "30"},
            page=path,
        )
        assert codes.status_code == 201
        assert codes.text.count('class="chip"') == 3
        assert 'data-testid="issued">3<' in codes.text
        wrong = post_form(
            client,
            f"{path}/codes",
            {
                "direction": "reciprocal",
                "count": "2",
                "valid_days": "30",
                "kind": "discount_percent",
            },
            page=path,
        )
        assert wrong.status_code == 422 and 'id="percent-error"' in wrong.text
        revoked = post_form(client, f"{path}/revoke", {}, page=path)
        assert revoked.status_code == 303
        again = post_form(
            client, "/partners/new", {"name": "Golden Bakery", "offer": "x"}, page="/partners/new"
        )
        assert again.status_code == 409 and "exists already" in again.text

    def test_the_statement_in_persian_and_jalali(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        p = partner(session, settings)
        logged_in(client, session, locale="fa")
        page = client.get(f"/partners/{p.id}")
        assert page.status_code == 200 and 'dir="rtl"' in page.text


class TestPartnerPage:
    def test_check_then_use_once(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        p = partner(session, settings)
        (code,) = offer_codes(session, settings, p)
        _open(client, session, settings, p)
        page = client.get("/partner/")
        assert page.status_code == 200 and "Golden Bakery" in page.text
        token = _token(page.text)
        checked = client.post("/partner/check", data={"code": code, "csrf_token": token})
        assert 'data-status="valid"' in checked.text and "A free pastry" in checked.text
        used = client.post("/partner/use", data={"code": code, "csrf_token": token})
        assert 'data-status="redeemed"' in used.text
        twice = client.post("/partner/use", data={"code": code, "csrf_token": token})
        assert 'data-status="used"' in twice.text

    def test_a_form_without_the_token_changes_nothing(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        p = partner(session, settings)
        (code,) = offer_codes(session, settings, p)
        _open(client, session, settings, p)
        refused = client.post("/partner/use", data={"code": code})
        assert refused.status_code == 403
        assert service.check_code(session, partner_id=p.id, code=code, ip="x").status == "valid"

    def test_another_partners_code_and_the_limit(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        a = partner(session, settings, name="A")
        b = partner(session, settings, name="B")
        (code,) = offer_codes(session, settings, a)
        _open(client, session, settings, b)
        token = _token(client.get("/partner/").text)
        answer = client.post("/partner/check", data={"code": code, "csrf_token": token})
        assert 'data-status="not_found"' in answer.text
        for i in range(service.MISSES):
            client.post("/partner/check", data={"code": f"X{i}", "csrf_token": token})
        limited = client.post("/partner/check", data={"code": code, "csrf_token": token})
        assert limited.status_code == 429 and 'data-status="limited"' in limited.text

    def test_without_the_link_or_after_revoking(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        assert client.get("/partner/").status_code == 401
        p = partner(session, settings)
        _open(client, session, settings, p, lang="fa")
        assert client.get("/partner/?lang=fa").status_code == 200
        access.revoke_links(session, partner_id=p.id)
        session.flush()
        gone = client.get("/partner/?lang=fa")
        assert gone.status_code == 401 and 'dir="rtl"' in gone.text
        assert client.get("/partner/login/not-a-token").status_code == 403

    def test_in_persian(self, client: TestClient, session: Session, settings: Settings) -> None:
        p = partner(session, settings)
        (code,) = offer_codes(session, settings, p, valid_days=10)
        _open(client, session, settings, p, lang="fa")
        page = client.get("/partner/?lang=fa")
        assert 'lang="fa"' in page.text and 'dir="rtl"' in page.text
        checked = client.post(
            "/partner/check?lang=fa", data={"code": code, "csrf_token": _token(page.text)}
        )
        assert "معتبر" in checked.text
        assert re.search("[۰-۹]", checked.text)  # the date in Persian digits


def _msgids() -> set[str]:
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: set[str] = set()
    for path in (TEMPLATE_DIR / "partners").glob("*.html"):
        for _, msg, _, _ in extract_from_file(
            "jinja2", str(path), keywords=keywords, options={"extensions": "jinja2.ext.do"}
        ):
            found.add(msg if isinstance(msg, str) else msg[0])
    for path in Path(counter.__file__).parent.glob("*.py"):
        for _, msg, _, _ in extract_from_file("python", str(path), keywords=keywords):
            found.add(msg if isinstance(msg, str) else msg[0])
    return found


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_every_string_is_translated(language: str) -> None:
    catalogue = i18n.translations(language)
    msgids = _msgids()
    assert len(msgids) > 40
    assert sorted(m for m in msgids if m not in catalogue) == []


def test_the_owner_edits_a_partner(
    client: TestClient, session: Session, settings: Settings
) -> None:
    p = partner(session, settings)
    other = partner(session, settings, name="Other")
    logged_in(client, session)
    form = client.get(f"/partners/{p.id}/edit")
    assert form.status_code == 200 and 'value="3.50"' in form.text
    saved = post_form(
        client,
        f"/partners/{p.id}/edit",
        {"name": "Golden Bakery", "offer": "Two pastries", "offer_value": "4", "phone": ""},
        page=f"/partners/{p.id}/edit",
    )
    assert saved.status_code == 303
    session.refresh(p)
    assert (p.offer, p.offer_value_amount) == ("Two pastries", 400)
    taken = post_form(
        client,
        f"/partners/{p.id}/edit",
        {"name": other.name, "offer": "x"},
        page=f"/partners/{p.id}/edit",
    )
    assert taken.status_code == 409
    session.refresh(p)
    assert p.name == "Golden Bakery"
