"""The Staff and API keys screens in Chromium: reachable from the sidebar, English, Arabic and
Persian, right to left, at 1366 and 390 px, nothing wider than the screen, axe-core finds
nothing serious; a key made in the browser is shown once and works."""

from __future__ import annotations

import pytest

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import Settings

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.mark.parametrize(("language", "width"), [("en", 1366), ("fa", 390), ("ar", 390)])
def test_staff_and_keys_screens(committed_db: Settings, language: str, width: int) -> None:
    import httpx2 as httpx

    email = f"owner-{language}@example.com"
    with session_scope(committed_db) as s:
        auth.create_user(
            s, email=email, password="browser-pass-1", role=Role.owner, locale=language
        )
        auth.create_user(s, email="till@example.com", password="till-pass-123", role=Role.cashier)
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": 844 if width < 800 else 768})
        login(page, base, email, "browser-pass-1")
        page.goto(base + "/customers")
        # Both screens are in the sidebar (on a phone, behind the menu button).
        assert page.locator("a[href='/staff']").count() >= 1
        assert page.locator("a[href='/keys']").count() >= 1
        for url in ("/staff", "/keys"):
            page.goto(base + url)
            expected = "ltr" if language == "en" else "rtl"
            assert page.locator("html").get_attribute("dir") == expected
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, f"{url} is {wide}px wide at {width}"
            assert_accessible(page, f"{url} in {language} at {width}")

        # Make a key with the write scope: shown once, then it works against the API.
        page.goto(base + "/keys")
        page.fill("#name", "Till 2")
        page.check("input[name=scope_write]")
        page.click("form[action='/keys'] button[type=submit]")
        page.wait_for_load_state()
        token = page.locator("#secret").inner_text().strip()
        assert_accessible(page, f"a new key in {language} at {width}")
        answer = httpx.get(base + "/api/v1/customers", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200

        # Disable the cashier from the staff page (the confirmation dialog is accepted).
        page.goto(base + "/staff")
        row = page.locator("tr", has_text="till@example.com")
        row.locator("form[action$='/active'] button").click()
        # Wait for the answer to the POST itself: the page is at /staff before and after it.
        with page.expect_response(
            lambda r: r.url.endswith("/active") and r.request.method == "POST"
        ):
            page.locator("dialog.confirm button[value='ok']").click()
        page.wait_for_load_state()
        with session_scope(committed_db) as s:
            assert not auth.find_user(s, "till@example.com").active
