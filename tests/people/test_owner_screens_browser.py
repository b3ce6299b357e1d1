"""The owner's screens in Chromium: English, Arabic and Persian, at 1366 and 390 pixels.

Each page passes axe-core (no serious or critical violation), is right to left in Arabic
and Persian, and does not scroll sideways on a phone. On the Settings page the owner
saves a colour and the sidebar shows it. ``WAFA_SCREENSHOTS=DIR`` keeps a screenshot of
each page (the README's come from there).
"""

from __future__ import annotations

import os
from pathlib import Path

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
SHOTS = os.environ.get("WAFA_SCREENSHOTS")
PAGES = ("/settings", "/customers/duplicates", "/customers")


@pytest.mark.parametrize("language", ["en", "ar", "fa"])
def test_owner_screens_pass_axe_in_every_language_and_width(
    committed_db: Settings, language: str
) -> None:
    from playwright.sync_api import expect

    with session_scope(committed_db) as session:
        auth.create_user(session, email=OWNER, password=PASSWORD, role=Role.owner, name="Owner")
        # A pair for the Possible duplicates page: an order names two customers.
        create_customer(session, phone="+12025550101", name="Sara Karimi", email=None)
        create_customer(session, email="sara@example.com", name="سارا کریمی")
        create_order(session, customer={"email": "sara@example.com", "phone": "+12025550101"})
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, base, OWNER, PASSWORD)
        page.goto(f"{base}/settings")
        if language != "en":
            page.click(".lang-menu summary")
            page.click(f'.lang-menu button[value="{language}"]')
            expect(page.locator("html")).to_have_attribute("lang", language)
            expect(page.locator("html")).to_have_attribute("dir", "rtl")
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 900})
            for path in PAGES:
                page.goto(f"{base}{path}")
                assert_accessible(page, f"{path} ({language}, {width} px)")
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 0, f"{path} scrolls sideways at {width} px ({language})"
                if SHOTS:
                    name = path.strip("/").replace("/", "-") or "overview"
                    page.screenshot(
                        path=str(Path(SHOTS) / f"{name}-{language}-{width}.png"), full_page=True
                    )
        # The owner picks a colour; the sidebar shows it at once.
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto(f"{base}/settings")
        page.fill("#f-brand_colour", "#8a2be2")
        page.click("form[action='/settings'] button[type=submit]")
        page.wait_for_load_state()
        expect(page.locator(".sidebar .brand")).to_have_attribute("data-brand", "")
        assert "#8a2be2" in page.content()
        assert not errors, errors
