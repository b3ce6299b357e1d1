"""The main screens at 1024 px (a small laptop, a tablet on its side) in Chromium: the
overview, the customer list, a customer's profile, the point of sale, the loyalty program
and rewards, a sale's receipt and the import page, in English, Arabic and Persian. Nothing
is wider than the screen and axe-core finds no serious or critical violation. Issue 15
asked for 1366, 1024 and 390 px; the other widths are covered screen by screen."""

from __future__ import annotations

import pytest

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.factories import create_customer, create_order
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import Settings

pytestmark = [pytest.mark.browser, needs_chromium]

OWNER = "owner@example.com"
PASSWORD = "browser-test-password"


@pytest.mark.parametrize("language", ["en", "ar", "fa"])
def test_main_screens_fit_1024_and_pass_axe(committed_db: Settings, language: str) -> None:
    from playwright.sync_api import expect

    with session_scope(committed_db) as session:
        auth.create_user(session, email=OWNER, password=PASSWORD, role=Role.owner, name="Owner")
        sara = create_customer(
            session, name="Sara Karimi", email="sara@example.com", city="Tehran", tags=["vip"]
        )
        create_customer(session, name="سارا کریمی", phone="+12025550101")
        order = create_order(session, customer={"email": "sara@example.com"})
        pages = (
            "/",
            "/customers",
            f"/customers/{sara.id}",
            f"/pos?customer={sara.id}",
            "/loyalty/program",
            "/loyalty/rewards",
            f"/pos/receipt/{order.id}",
            "/import",
        )
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, base, OWNER, PASSWORD)
        if language != "en":
            page.click(".lang-menu summary")
            page.click(f'.lang-menu button[value="{language}"]')
            expect(page.locator("html")).to_have_attribute("lang", language)
        for path in pages:
            answer = page.goto(f"{base}{path}")
            assert answer is not None and answer.status == 200, path
            assert_accessible(page, f"{path} ({language}, 1024 px)")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{path} is {overflow} px wider than 1024 ({language})"
        assert not errors, errors
