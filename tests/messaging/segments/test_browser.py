"""The segment builder in a real browser: Persian, right to left, on a 390 px phone.

A manager opens Segments from the navigation, adds two conditions with menus (typing
Persian digits), watches the live count fall from every customer to the two it should
hold, saves, and reads the members page. No request leaves the app; axe-core finds no
serious or critical accessibility violation on either page; nothing scrolls sideways.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import uvicorn
from sqlalchemy import select

from tests.browser import assert_accessible
from tests.conftest import FrozenClock
from tests.messaging.segments.population import NOW, build, business
from tests.serving import free_port
from wafa.app.factory import create_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.messaging.segments.models import Segment

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MANAGER = "manager@example.com"
PASSWORD = "browser-test-password"


@pytest.fixture
def live_server(committed_db: Settings, clock: FrozenClock) -> Iterator[tuple[str, Settings]]:
    biz = business(committed_db.database_url)
    with session_scope(biz) as session:
        build(session, clock, biz)
        auth.create_user(session, email=MANAGER, password=PASSWORD, role=Role.manager, locale="fa")
    clock.set(NOW)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(biz), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", biz
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's Chromium: apt-get install chromium"
)
def test_build_a_segment_in_persian_on_a_phone(live_server: tuple[str, Settings]) -> None:
    from playwright.sync_api import Request, expect, sync_playwright

    base, biz = live_server
    host = urlparse(base).netloc
    foreign: list[str] = []

    def watch(request: Request) -> None:
        if not request.url.startswith("data:") and urlparse(request.url).netloc != host:
            foreign.append(request.url)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
            page = context.new_page()
            page.on("request", watch)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            page.goto(f"{base}/login")
            page.fill("#email", MANAGER)
            page.fill("#password", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            expect(page.locator("html")).to_have_attribute("dir", "rtl")

            # Segments is in the navigation (a drawer on a phone).
            page.click("[data-nav-toggle]")
            page.click("nav a[href='/segments']")
            expect(page).to_have_url(f"{base}/segments")
            page.click("a[href='/segments/new']")
            expect(page.locator("[data-segment-builder]")).to_be_visible()
            expect(page.locator("textarea[name=rules]")).to_be_hidden()
            count = page.locator("[data-segment-count]")
            expect(count).to_contain_text("۴")  # no condition: every live customer

            page.fill("#f-name", "بازگشت مشتریان")
            # "Number of orders at least 1", typed in Persian digits.
            page.click(".group-tools button >> nth=0")
            row = page.locator(".group-items > li").nth(0)
            row.locator(".cond-field").select_option("orders_count")
            row.locator(".cond-op").select_option(">=")
            row.locator(".cond-value input").fill("۱")
            expect(count).to_contain_text("۳")
            # "Days since the last order more than 90".
            page.click(".group-tools button >> nth=0")
            row = page.locator(".group-items > li").nth(1)
            row.locator(".cond-field").select_option("days_since_last_order")
            row.locator(".cond-op").select_option(">")
            row.locator(".cond-value input").fill("۹۰")
            expect(count).to_contain_text("۲")
            assert "2" not in count.inner_text(), count.inner_text()  # Persian digits only
            assert page.evaluate("document.documentElement.scrollWidth") <= 391
            page.screenshot(path=str(Path("/tmp") / "segment-builder-fa-390.png"), full_page=True)
            assert_accessible(page, "the segment builder in Persian")

            page.click("button[name=action][value=save]")
            expect(page.locator("[data-segment-size]")).to_have_text("۲")
            expect(page.locator("table")).to_contain_text("Ben")
            expect(page.locator("table")).to_contain_text("Dee")
            expect(page.locator(".rule-words")).to_contain_text("تعداد سفارش‌ها دست‌کم ۱")
            assert page.evaluate("document.documentElement.scrollWidth") <= 391
            assert_accessible(page, "a segment's members in Persian")
            page.screenshot(path=str(Path("/tmp") / "segment-members-fa-390.png"), full_page=True)
            assert errors == [], errors
        finally:
            browser.close()
    assert foreign == [], f"the pages requested other hosts: {foreign}"
    with session_scope(biz) as session:
        segment = session.scalars(select(Segment)).one()
        assert segment.rules == {
            "all": [
                {"field": "orders_count", "op": ">=", "value": 1},
                {"field": "days_since_last_order", "op": ">", "value": 90},
            ]
        }
