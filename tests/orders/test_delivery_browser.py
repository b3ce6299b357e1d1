"""The late-orders page in Chromium, in Persian on a phone (390 px): right to left, nothing
wider than the screen, Jalali months, axe-core finds nothing serious."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.factories import create_order
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.core.time import utcnow

pytestmark = [pytest.mark.browser, needs_chromium]


def test_late_orders_on_a_phone_in_persian(committed_db: Settings) -> None:
    now = utcnow()
    with session_scope(committed_db) as s:
        auth.create_user(
            s, email="late@example.com", password="browser-pass-1", role=Role.owner, locale="fa"
        )
        create_order(
            s,
            number="#1001",
            placed_at=(now - timedelta(days=4)).isoformat(),
            promised_at=(now - timedelta(days=1)).isoformat(),
        )
        create_order(
            s,
            number="#1002",
            channel="in_store",
            placed_at=(now - timedelta(days=9)).isoformat(),
            promised_at=(now - timedelta(days=8)).isoformat(),
            delivered_at=(now - timedelta(days=6)).isoformat(),
        )
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        login(page, base, "late@example.com", "browser-pass-1")
        page.goto(base + "/orders/late")
        assert page.locator("html").get_attribute("dir") == "rtl"
        assert page.locator("h1").inner_text() == "سفارش‌های دیرکرده"
        assert "#1001" in page.content() and "#1002" in page.content()
        assert page.locator("nav a[href='/orders/late']").count() == 1
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, f"/orders/late is {wide}px wide"
        assert_accessible(page, "late orders in Persian")
        page.select_option("#which", "overdue")
        page.locator("form.filters button[type=submit]").click()
        page.wait_for_url("**/orders/late?which=overdue*")
        assert "#1002" not in page.content() and "#1001" in page.content()
