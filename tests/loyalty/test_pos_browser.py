"""The point of sale in a real browser: Playwright driving Debian's Chromium against a live server.

A cashier finds a customer by the last digits of their phone, sees their points,
redeems a reward (the points go down, the coupon code is shown) and enrols a new
customer with their consent to text messages; once in English and once in Persian
(right to left, Persian digits typed and shown). The browser may only talk to the
app under test.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import uvicorn
from sqlalchemy import select

from tests.serving import free_port
from wafa.app.factory import create_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.models import ConsentRecord, Customer
from wafa.customers.schemas import CustomerCreate
from wafa.loyalty import program, rewards, service
from wafa.loyalty.models import Redemption, RewardKind
from wafa.loyalty.schemas.io import RewardCreate
from wafa.loyalty.schemas.program import ProgramRules

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
CASHIER = "cashier@example.com"
PASSWORD = "browser-test-password"
PHONE = "+12025550142"


def _seed(settings: Settings) -> uuid.UUID:
    with session_scope(settings) as session:
        auth.create_user(session, email=CASHIER, password=PASSWORD, role=Role.cashier, name="Kian")
        program.save_rules(
            session, rules=ProgramRules.model_validate({"pending_days": 0}), by="test"
        )
        sara = customers.create_customer(
            session,
            data=CustomerCreate(name="Sara Karimi", phone=PHONE, email="sara@example.com"),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        rewards.create_reward(
            session,
            settings=settings,
            data=RewardCreate(name="Free espresso", kind=RewardKind.gift, cost_points=40),
        )
        service.adjust(
            session, settings=settings, customer_id=sara.id, points=100, reason="welcome", by="t"
        )
        return sara.id


@pytest.fixture
def live_server(committed_db: Settings) -> Iterator[str]:
    """The real app, seeded, served by uvicorn on a free loopback port."""
    _seed(committed_db)
    port = free_port()
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


CASES = {
    # language: (digits typed, points before, points after, greeting, enrolled greeting, phone typed)
    "en": ("0142", "100", "60", "Hello, Sara!", "Nadia", "(202) 555-0166"),
    "fa": ("۰۱۴۲", "۱۰۰", "۶۰", "Sara", "Nadia", "۲۰۲۵۵۵۰۱۶۶"),
}


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's Chromium: apt-get install chromium"
)
@pytest.mark.parametrize("language", ["en", "fa"])
def test_find_redeem_and_enrol_at_the_counter(
    live_server: str, committed_db: Settings, language: str
) -> None:
    from playwright.sync_api import Request, expect, sync_playwright

    typed, before, after, greeting, new_name, new_phone = CASES[language]
    host = urlparse(live_server).netloc
    foreign: list[str] = []

    def watch(request: Request) -> None:
        if not request.url.startswith("data:") and urlparse(request.url).netloc != host:
            foreign.append(request.url)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1024, "height": 768})
            page.on("request", watch)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            # A cashier logs in and lands on the counter screen.
            page.goto(f"{live_server}/login")
            page.fill("#email", CASHIER)
            page.fill("#password", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            expect(page).to_have_url(f"{live_server}/pos")
            if language != "en":
                page.click(".pos-top .lang-menu summary")
                page.click(f'.pos-top .lang-menu button[value="{language}"]')
                expect(page.locator("html")).to_have_attribute("lang", language)
            expect(page.locator("html")).to_have_attribute(
                "dir", "rtl" if language == "fa" else "ltr"
            )

            # Find her by the last digits of her phone, as you type; Enter opens the match.
            page.locator("#pos-q").press_sequentially(typed, delay=40)
            result = page.locator(".pos-result")
            expect(result).to_have_count(1)
            expect(result).to_contain_text("Sara Karimi")
            page.locator("#pos-q").press("Enter")
            card = page.locator(".pos-customer")
            expect(card).to_contain_text(greeting)
            expect(page.locator("[data-pos-available]")).to_have_text(before)

            # Redeem a reward: the code is shown, the points go down.
            page.click('[data-tab="rewards"]')
            page.click("form[data-pos-redeem] button[type=submit]")
            dialog = page.locator("dialog[open]")
            expect(dialog).to_be_visible()
            code = page.locator("[data-pos-dialog-code]").inner_text()
            assert re.fullmatch(r"[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}", code), code
            page.click("dialog[open] button[value=ok]")
            expect(page.locator("[data-pos-available]")).to_have_text(after)

            # Esc leaves the customer; enrol a new one with consent to texts.
            page.keyboard.press("Escape")
            expect(page.locator(".pos-start")).to_be_visible()
            page.click(".pos-top [data-pos-new]")
            page.fill("#enrol-name", "Nadia Saleh")
            page.fill("#enrol-phone", new_phone)
            page.check('input[name="sms_consent"]')
            page.click("form[data-pos-enrol] button[type=submit]")
            expect(page.locator(".pos-customer")).to_contain_text(new_name)
            expect(page.locator("[data-pos-available]")).to_have_text(
                "0" if language == "en" else "۰"
            )
            assert errors == [], errors
        finally:
            browser.close()

    assert foreign == [], f"the point of sale requested other hosts: {foreign}"
    with session_scope(committed_db) as session:
        assert session.scalar(select(Redemption.points)) == 40
        nadia = session.scalars(select(Customer).where(Customer.name == "Nadia Saleh")).one()
        assert nadia.phone == "+12025550166"
        assert nadia.sms_consent
        sources = session.scalars(
            select(ConsentRecord.source).where(ConsentRecord.customer_id == nadia.id)
        ).all()
        assert sources and all(s.startswith("pos:") for s in sources)
