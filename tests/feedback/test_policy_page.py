"""The complaint policy in the dashboard, for the owner: read and saved through the same
``Policy`` the API edits; bad input named by its field and nothing saved; in Chromium at
390 px in English, Arabic and Persian with axe-core."""

from __future__ import annotations

from datetime import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.feedback.test_web import csrf
from tests.feedback.test_web import login as web_login
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.feedback.policy import load_policy
from wafa.feedback.web.policy import values_of

OWNER, PASSWORD = "owner@policy.example", "browser-test-password"


class TestPolicyForm:
    def test_the_owner_saves_and_a_manager_may_not(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        web_login(client, session, Role.manager, "mgr@policy.example")
        assert client.get("/feedback/policy").status_code == 403
        client.cookies.clear()
        web_login(client, session, Role.owner, "own@policy.example")
        page = client.get("/feedback/policy")
        assert page.status_code == 200 and 'name="first_urgent" ' in page.text
        values = dict(values_of(load_policy(session), settings.currency))
        values.update(
            {
                "csrf_token": csrf(client, "/feedback/policy"),
                "categories": values["categories"] + "\nnoise",
                "first_urgent": "0.5",
                "open_4": "",  # closed on Fridays
                "points_cashier": "۵۰",  # Persian digits
                "amount_manager": "25.50",
                "holiday_country": "ir",
            }
        )
        saved = client.post("/feedback/policy", data=values, follow_redirects=False)
        assert saved.status_code == 303, saved.text[:500]
        session.expire_all()
        policy = load_policy(session)
        assert "noise" in policy.categories
        assert policy.targets["urgent"].first_response_hours == 0.5
        assert 4 not in {o.weekday for o in policy.opening}
        assert policy.limits["cashier"].points == 50
        assert policy.limits["manager"].amount == 2550
        assert policy.limits["owner"].points is None
        assert policy.holiday_country == "IR"

    def test_bad_input_is_named_and_nothing_is_saved(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        web_login(client, session, Role.owner, "own2@policy.example")
        before = load_policy(session)
        values = dict(values_of(before, settings.currency))
        values.update(
            {
                "csrf_token": csrf(client, "/feedback/policy"),
                "opens_0": "18:00",
                "closes_0": "09:00",
                "resolve_high": "-3",
                "percent_manager": "140",
                "categories": "",
            }
        )
        answer = client.post("/feedback/policy", data=values)
        assert answer.status_code == 422
        for field in (
            "closes_0-error",
            "resolve_high-error",
            "percent_manager-error",
            "categories-error",
        ):
            assert f'id="{field}"' in answer.text, field
        session.expire_all()
        assert load_policy(session) == before
        assert before.opening[0].opens == time(9)


pytestmark_browser = [pytest.mark.browser, needs_chromium]


def _fits(page: object) -> None:
    overflow = page.evaluate(  # type: ignore[attr-defined]
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, overflow


@pytest.mark.browser
@needs_chromium
def test_the_policy_page_on_a_phone(committed_db: Settings) -> None:
    from playwright.sync_api import expect

    with session_scope(committed_db) as session:
        auth.create_user(session, email=OWNER, password=PASSWORD, role=Role.owner, name="Owner")
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, base, OWNER, PASSWORD)
        for language in ("en", "ar", "fa"):
            page.goto(f"{base}/feedback/policy")
            if language != "en":
                page.click(".lang-menu summary")
                page.click(f'.lang-menu button[value="{language}"]')
                expect(page.locator("html")).to_have_attribute("dir", "rtl")
                page.goto(f"{base}/feedback/policy")
            assert_accessible(page, f"complaint policy ({language}, 390 px)")
            _fits(page)
        # In Persian: a closing time before the opening is refused and named, then fixed.
        page.fill("#f-closes_0", "08:00")
        page.click("button[type=submit].btn-primary")
        expect(page.locator("#closes_0-error")).to_be_visible()
        assert_accessible(page, "complaint policy with an error (fa, 390 px)")
        _fits(page)
        page.fill("#f-closes_0", "18:00")
        page.fill("#f-first_urgent", "۲")
        page.click("button[type=submit].btn-primary")
        expect(page.locator(".flash")).to_be_visible()
        assert errors == [], errors
    with session_scope(committed_db) as session:
        policy = load_policy(session)
        assert policy.targets["urgent"].first_response_hours == 2
        assert policy.opening[0].closes == time(18)
