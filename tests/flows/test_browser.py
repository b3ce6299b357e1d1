"""The flows pages in Chromium on a phone (390 px), in Persian and Arabic: switch on
win-back, edit its Persian template and see the preview right to left, read its lift
report; right to left, nothing wider than the screen, axe-core finds nothing serious."""

from __future__ import annotations

import pytest

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerCreate
from wafa.flows import presets, service

pytestmark = [pytest.mark.browser, needs_chromium]


def _fits(page: object, what: str) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert wide <= 390, f"{what} is {wide}px wide"


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_win_back_on_a_phone(committed_db: Settings, language: str) -> None:
    email = f"manager-{language}@example.com"
    with session_scope(committed_db) as s:
        auth.create_user(
            s, email=email, password="browser-pass-1", role=Role.manager, locale=language
        )
        presets.ensure_presets(s)
        customer = customers.create_customer(
            s,
            data=CustomerCreate(name="Sara Ahmadi", email="sara@example.com", language="fa"),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        customer_id = customer.id
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        login(page, base, email, "browser-pass-1")
        page.goto(base + "/")
        page.click("[data-nav-toggle]")  # the sidebar is behind the menu on a phone
        page.locator("#sidebar a[href='/flows']").click()
        page.wait_for_url(base + "/flows")
        assert page.locator("html").get_attribute("dir") == "rtl"
        _fits(page, "/flows")
        assert_accessible(page, f"/flows in {language}")
        page.locator("form[action='/flows/win_back/switch'] button").click()
        page.wait_for_load_state()
        with session_scope(committed_db, write=False) as s:
            assert service.get_flow(s, "win_back").enabled

        page.goto(base + "/flows/win_back")
        _fits(page, "/flows/win_back")
        assert_accessible(page, f"/flows/win_back in {language}")
        assert page.locator("#lift-title").is_visible()

        page.goto(
            base + f"/messaging/templates/flow.win_back.miss?customer={customer_id}&locale=fa"
        )
        page.fill("#text_fa", "سلام {{ customer.first_name }}، دلمان برایتان تنگ شده است.")
        page.locator("form[action='/messaging/templates'] button[type=submit]").first.click()
        page.wait_for_load_state()
        page.goto(
            base + f"/messaging/templates/flow.win_back.miss?customer={customer_id}&locale=fa"
        )
        frame = page.frame_locator("iframe.msg-preview")
        body = frame.locator("body")
        assert "دلمان برایتان تنگ شده است" in body.inner_text()
        text = frame.get_by_text("دلمان برایتان تنگ شده است").first
        assert text.evaluate("e => getComputedStyle(e).direction") == "rtl"
        _fits(page, "template editor")


def test_edit_a_wait_on_a_phone(committed_db: Settings) -> None:
    """Edit thank-you's wait in Persian at 390 px: saved, right to left, fits, axe-clean."""
    email = "manager-waits@example.com"
    with session_scope(committed_db) as s:
        auth.create_user(s, email=email, password="browser-pass-1", role=Role.manager, locale="fa")
        presets.ensure_presets(s)
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        login(page, base, email, "browser-pass-1")
        page.goto(base + "/flows/thank_you")
        assert page.locator("html").get_attribute("dir") == "rtl"
        page.fill("#w_day_days", "۳")
        page.fill("#w_day_at", "25:00")
        page.locator("form[action='/flows/thank_you/waits'] button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("#w_day_at-error").is_visible()
        _fits(page, "/flows/thank_you with an error")
        assert_accessible(page, "/flows/thank_you waits with an error")
        page.fill("#w_day_at", "16:30")
        page.locator("form[action='/flows/thank_you/waits'] button[type=submit]").click()
        page.wait_for_url(base + "/flows/thank_you")
        _fits(page, "/flows/thank_you")
        assert_accessible(page, "/flows/thank_you after saving its waits")
        with session_scope(committed_db, write=False) as s:
            wait = service.get_flow(s, "thank_you").definition["steps"][1]
        assert (wait["days"], wait["at"]) == (3, "16:30")
        assert page.locator("#w_day_days").input_value() == "3"
