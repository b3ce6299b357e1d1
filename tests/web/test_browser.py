"""The dashboard in a real browser: Playwright driving Debian's Chromium against a live server.

Logs in, searches a customer as you type, opens the profile, switches to Persian and
checks the right-to-left page with Jalali dates in Persian digits. The browser may
only talk to the app under test (no CDN, no fonts from elsewhere).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

import pytest
import uvicorn

from tests.factories import order_payload
from wafa.app.factory import create_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerCreate
from wafa.orders import service as orders
from wafa.orders.schemas import OrderCreate

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
OWNER = "owner@example.com"
PASSWORD = "browser-test-password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(settings: Settings) -> None:
    with session_scope(settings) as session:
        auth.create_user(session, email=OWNER, password=PASSWORD, role=Role.owner, name="Owner")
        for name, email in (
            ("رضا احمدی", "reza@example.com"),
            ("Sara Walker", "sara@example.com"),
            ("Omid Karimi", "omid@example.com"),
            ("حسین محمدی", "hossein.mohammadi.2000.roastery.club@example-coffee-house.com"),
        ):
            customers.create_customer(
                session,
                data=CustomerCreate(name=name, email=email),
                region="US",
                calendar=CalendarKind.gregorian,
            )
        for number, placed in (
            ("#5001", datetime(2026, 3, 21, 9, 0, tzinfo=UTC)),  # 1 Farvardin 1405
            ("#5002", datetime(2026, 2, 2, 9, 0, tzinfo=UTC)),  # 13 Bahman 1404
        ):
            orders.create_order(
                session,
                data=OrderCreate.model_validate(
                    order_payload(
                        number=number,
                        placed_at=placed.isoformat(),
                        customer={"email": "reza@example.com"},
                    )
                ),
                region="US",
            )


@pytest.fixture
def live_server(committed_db: Settings) -> Iterator[str]:
    """The real app, seeded, served by uvicorn on a free loopback port."""
    _seed(committed_db)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(committed_db), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's Chromium: apt-get install chromium"
)
def test_login_search_profile_and_persian(live_server: str) -> None:
    from playwright.sync_api import Request, expect, sync_playwright

    host = urlparse(live_server).netloc
    foreign: list[str] = []

    def watch(request: Request) -> None:
        if not request.url.startswith("data:") and urlparse(request.url).netloc != host:
            foreign.append(request.url)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.on("request", watch)

            # Log in: a visitor is sent to the login page first.
            page.goto(f"{live_server}/customers")
            expect(page).to_have_url(re.compile(r"/login\?next="))
            page.fill("#email", OWNER)
            page.fill("#password", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            expect(page).to_have_url(f"{live_server}/customers")
            expect(page.locator("html")).to_have_attribute("dir", "ltr")

            # Search as you type (no submit): the list is replaced in place.
            page.fill("#q", "رضا")
            results = page.locator("[data-live-results] tbody tr")
            expect(results).to_have_count(1)
            expect(results.first).to_contain_text("رضا احمدی")
            expect(page).to_have_url(re.compile(r"q=%D8%B1%D8%B6%D8%A7"))

            # The profile, in English: Gregorian dates.
            results.first.locator("a.row-link").click()
            expect(page.locator("h1")).to_have_text("رضا احمدی")
            expect(page.locator("#history")).to_contain_text("Mar 21, 2026")

            # Switch to Persian with the language menu.
            page.click(".topbar .lang-menu summary")
            page.click('.topbar .lang-menu button[value="fa"]')
            expect(page.locator("html")).to_have_attribute("lang", "fa")
            expect(page.locator("html")).to_have_attribute("dir", "rtl")
            timeline = page.locator("#history")
            expect(timeline).to_contain_text("۱ فروردین ۱۴۰۵")
            expect(timeline).to_contain_text("۱۳ بهمن ۱۴۰۴")
            expect(page.locator("#purchases")).to_contain_text("۲")  # two orders, Persian digits
            expect(page.locator(".sidebar")).to_contain_text("مشتریان")
            dates = timeline.locator("time").all_inner_texts()
            assert dates and not any(re.search(r"[0-9]", text) for text in dates), dates

            # Right to left for real: the sidebar sits on the right.
            box = page.locator(".sidebar").bounding_box()
            assert box is not None and box["x"] > 1366 / 2

            # The choice sticks: the next page is Persian too.
            page.goto(f"{live_server}/orders")
            expect(page.locator("html")).to_have_attribute("lang", "fa")
            expect(page.locator("table")).to_contain_text("۱ فروردین ۱۴۰۵")

            # On a phone, a profile with a long address still fits the screen (it
            # pushed the page 26 px sideways before the address could wrap).
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(f"{live_server}/customers?q=%D8%AD%D8%B3%DB%8C%D9%86")
            page.locator("[data-live-results] tbody tr a.row-link").first.click()
            expect(page.locator("h1")).to_have_text("حسین محمدی")
            wider = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert wider <= 0, f"the profile scrolls {wider} px sideways at 390 px"
        finally:
            browser.close()

    assert foreign == [], f"the dashboard requested other hosts: {foreign}"
