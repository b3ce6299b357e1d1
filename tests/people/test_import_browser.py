"""Import from the dashboard in Chromium: the owner uploads an orders file with one bad row,
reads the dry run's report (the problem by line and column), imports the good rows and
watches the job finish; the page reloads itself while the work runs. axe-core finds
nothing serious on either page, in English and Arabic, and at 390 px nothing is wider than
the phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.orders.models import Order

pytestmark = [pytest.mark.browser, needs_chromium]

OWNER = "owner@example.com"
PASSWORD = "browser-test-password"
FILE = (
    "order_id,placed_at,customer_email,name,quantity,unit_price\n"
    "B-1,2025-08-01,omar@example.com,Flat white,1,4.50\n"
    "B-2,2025-08-02,sara@example.com,Cold brew,lots,5.00\n"
    "B-3,2025-08-03,lena@example.com,Tea,1,2.00\n"
)


@pytest.mark.parametrize(("language", "width"), [("en", 1366), ("ar", 390)])
def test_upload_check_and_import(
    committed_db: Settings, tmp_path: Path, language: str, width: int
) -> None:
    from playwright.sync_api import expect

    with session_scope(committed_db) as session:
        auth.create_user(session, email=OWNER, password=PASSWORD, role=Role.owner, name="Owner")
    path = tmp_path / "orders.csv"
    path.write_text(FILE, encoding="utf-8")
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, base, OWNER, PASSWORD)
        if language != "en":
            page.click(".lang-menu summary")
            page.click(f'.lang-menu button[value="{language}"]')
            expect(page.locator("html")).to_have_attribute("lang", language)
        page.goto(f"{base}/import")
        assert_accessible(page, f"/import ({language}, {width} px)")
        page.select_option("#f-kind", "orders")
        page.set_input_files("#f-file", str(path))
        page.click("form[action='/import'] button[type=submit]")
        # The check runs after the answer; the job's page reloads itself until it is done.
        expect(page.locator("form[action$='/run'] button[type=submit]")).to_be_visible(
            timeout=30_000
        )
        assert "/import/" in page.url
        expect(page.locator("table td.num").first).to_contain_text("3" if language == "en" else "٣")
        expect(page.locator("a[href$='/rejected.csv']")).to_be_visible()
        assert_accessible(page, f"the import's report ({language}, {width} px)")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the report scrolls sideways at {width} px ({language})"
        with session_scope(committed_db) as session:
            assert session.scalar(select(func.count()).select_from(Order)) == 0
        page.click("form[action$='/run'] button[type=submit]")
        expect(page.locator(".card-head .badge.ok")).to_be_visible(timeout=30_000)
        page.reload()  # the outcome is kept: a reload shows it again
        expect(page.locator(".card-head .badge.ok")).to_be_visible()
        assert_accessible(page, f"the finished import ({language}, {width} px)")
        with session_scope(committed_db) as session:
            assert session.scalar(select(func.count()).select_from(Order)) == 2
        assert not errors, errors
