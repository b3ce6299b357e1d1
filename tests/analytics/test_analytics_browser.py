"""The analytics page in Chromium: axe-core finds no serious or critical violation (the
segment map is a group of links, not a half-built ARIA table; the cohort heatmap's text
keeps its contrast; wide tables scroll by keyboard too), in English and Persian, at 1366
and 390 pixels, and nothing scrolls sideways on a phone."""

from __future__ import annotations

import pytest

from tests.analytics.helpers import build_shop
from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.serving import running_app
from wafa.analytics import refresh as refreshing
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import Settings

pytestmark = [pytest.mark.browser, needs_chromium]

OWNER = "owner@example.com"
PASSWORD = "browser-test-password"


@pytest.mark.parametrize("language", ["en", "fa"])
def test_the_analytics_page_passes_axe(committed_db: Settings, language: str) -> None:
    from playwright.sync_api import expect

    with session_scope(committed_db) as session:
        auth.create_user(session, email=OWNER, password=PASSWORD, role=Role.owner, name="Owner")
        build_shop(session, customers=40, seed=3)
        refreshing.refresh(session, settings=committed_db)
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        login(page, base, OWNER, PASSWORD)
        page.goto(f"{base}/analytics")
        if language != "en":
            page.click(".lang-menu summary")
            page.click(f'.lang-menu button[value="{language}"]')
            expect(page.locator("html")).to_have_attribute("lang", language)
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{base}/analytics")
            assert_accessible(page, f"/analytics ({language}, {width} px)")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"/analytics scrolls sideways at {width} px ({language})"
