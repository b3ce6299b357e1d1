"""The customer list in Chromium at 390 pixels: the owner opens the filters, filters by a
tag and a spend, sorts by a column header; the URL carries all of it (a reload or a shared
link shows the same list) and so does the export link. axe-core finds nothing serious, and
nothing is wider than the phone, in English and Persian."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.factories import create_customer, create_order
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.messaging.segments import stats

pytestmark = [pytest.mark.browser, needs_chromium]

OWNER = "owner@example.com"
PASSWORD = "browser-test-password"


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


@pytest.mark.parametrize("language", ["en", "fa"])
def test_filter_and_sort_on_a_phone(committed_db: Settings, language: str) -> None:
    from playwright.sync_api import expect

    with session_scope(committed_db) as session:
        auth.create_user(session, email=OWNER, password=PASSWORD, role=Role.owner, name="Owner")
        create_customer(session, name="Sara Karimi", email="sara@example.com", tags=["vip"])
        create_customer(session, name="Omid Rahimi", email="omid@example.com", tags=["vip"])
        create_customer(session, name="Lena Park", email="lena@example.com")
        create_order(session, customer={"email": "sara@example.com"})  # 9.00
        create_order(
            session,
            customer={"email": "omid@example.com"},
            lines=[{"sku": "B", "name": "Beans", "quantity": 1, "unit_price": 2500}],
        )
        stats.rebuild(session, currency=committed_db.currency)
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, base, OWNER, PASSWORD)
        if language != "en":
            page.click(".lang-menu summary")
            page.click(f'.lang-menu button[value="{language}"]')
            expect(page.locator("html")).to_have_attribute("lang", language)
        page.goto(f"{base}/customers")
        expect(page.locator(".row-link")).to_have_count(3)
        page.click(".list-filters summary")
        page.fill("#f-tag", "vip")
        page.fill("#f-spend_min", "5" if language == "en" else "۵")
        assert_accessible(page, f"/customers with the filters open ({language}, 390 px)")
        page.click(".filter-actions button[type=submit]")
        page.wait_for_load_state()
        expect(page.locator(".row-link")).to_have_count(2)
        query = _query(page.url)
        assert query["tag"] == ["vip"] and query["spend_min"] in (["5"], ["۵"])
        # Sort by spend from the column header: highest first, then the other way round.
        page.click("th a.sort-link[href*='sort=spend']")
        page.wait_for_load_state()
        expect(page.locator(".row-link").first).to_have_text("Omid Rahimi")
        assert _query(page.url)["sort"] == ["spend"] and _query(page.url)["tag"] == ["vip"]
        page.click("th a.sort-link[href*='sort=spend']")
        page.wait_for_load_state()
        expect(page.locator(".row-link").first).to_have_text("Sara Karimi")
        assert _query(page.url)["dir"] == ["asc"]
        # A reload shows the same list: the URL is the whole state.
        page.reload()
        expect(page.locator(".row-link")).to_have_count(2)
        expect(page.locator(".row-link").first).to_have_text("Sara Karimi")
        export = page.locator("a[href^='/customers/export.csv']").get_attribute("href") or ""
        assert _query(export)["tag"] == ["vip"] and _query(export)["sort"] == ["spend"]
        assert_accessible(page, f"/customers filtered and sorted ({language}, 390 px)")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"/customers scrolls sideways at 390 px ({language})"
        assert not errors, errors
