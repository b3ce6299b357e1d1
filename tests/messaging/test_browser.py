"""Messaging in a real browser, in Persian on a phone (390 x 844): every page right to left,
nothing wider than the screen, axe-core finds nothing serious; the template preview is
right to left; the unsubscribe link works with a tap."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import assert_accessible
from tests.conftest import make_settings
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.links import LinkSigner
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.models import ConsentChannel
from wafa.customers.schemas import ConsentIn, CustomerCreate
from wafa.messaging import consent, personalize, templates
from wafa.messaging.models import Channel, Kind, SuppressionReason, Topic
from wafa.messaging.queue import Content, queue_message

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OWNER, PASSWORD = "owner@example.com", "browser-test-password"
SHOTS = os.environ.get("WAFA_SCREENSHOTS")  # a folder to keep screenshots in, when set


def _seed(settings: Settings) -> dict[str, str]:
    with session_scope(settings) as session:
        auth.create_user(
            session, email=OWNER, password=PASSWORD, role=Role.owner, name="مدیر", locale="fa"
        )
        customer = customers.create_customer(
            session,
            data=CustomerCreate(
                name="مریم رضایی",
                email="maryam@example.com",
                phone="+989121234567",
                language="fa",
                consent=[ConsentIn(channel=ConsentChannel.email, granted=True, source="test")],
            ),
            region="IR",
            calendar=CalendarKind.jalali,
        )
        templates.save_template(
            session,
            key="nowruz",
            name="تبریک نوروز",
            channel=Channel.email,
            kind=Kind.marketing,
            topic=Topic.offers,
            content=Content(
                subject={"fa": "نوروز مبارک {{ customer.first_name }}", "en": "Happy Nowruz"},
                text={
                    "fa": "{{ customer.first_name }} عزیز، {{ points.available }} امتیاز دارید.",
                    "en": "Dear {{ customer.first_name }}",
                },
            ),
            by="test",
        )
        queue_message(
            session,
            customer_id=customer.id,
            channel="email",
            kind="marketing",
            reason="campaign",
            occasion="nowruz-1405",
            template="nowruz",
        )
        consent.suppress(
            session,
            secret=consent.hash_key(session),
            medium="email",
            address="gone@example.com",
            reason=SuppressionReason.hard_bounce,
            source="test",
        )
        signer = LinkSigner(consent.secret_key(session, settings))
        token = personalize.unsubscribe_token(signer, customer.id, "email", "offers")
        return {"customer": str(customer.id), "token": token}


@pytest.fixture
def served(committed_db: Settings) -> Iterator[tuple[str, dict[str, str]]]:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's Chromium")
    settings = make_settings(
        committed_db.database_url,
        locale="fa",
        calendar="jalali",
        phone_region="IR",
        timezone="Asia/Tehran",
    )
    seeded = _seed(settings)
    with running_app(settings) as base:
        yield base, seeded


def _check(page: Any, what: str) -> None:
    assert page.evaluate("document.documentElement.dir") == "rtl", what
    assert page.evaluate("document.documentElement.lang") == "fa", what
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{what} is {overflow}px wider than the phone"
    assert_accessible(page, what)
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{what}.png"), full_page=True)


def test_persian_phone_pages(served: tuple[str, dict[str, str]]) -> None:
    from playwright.sync_api import sync_playwright

    base, seeded = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844})
        outside: list[str] = []
        page.on(
            "request",
            lambda r: (
                outside.append(r.url) if not r.url.startswith((base, "data:", "about:")) else None
            ),
        )
        page.goto(f"{base}/login")
        page.fill("#email", OWNER)
        page.fill("#password", PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        page.wait_for_load_state()
        for path, what in (
            ("/messaging", "channels-fa-390"),
            ("/messaging/templates", "templates-fa-390"),
            (
                f"/messaging/templates/nowruz?customer={seeded['customer']}",
                "template-preview-fa-390",
            ),
            ("/messaging/log", "log-fa-390"),
            ("/messaging/suppressions", "suppressions-fa-390"),
            (f"/customers/{seeded['customer']}", "profile-fa-390"),
        ):
            page.goto(base + path)
            _check(page, what)
        page.goto(f"{base}/messaging/templates/nowruz?customer={seeded['customer']}")
        preview = page.frame_locator("iframe.msg-preview")
        assert preview.locator("html").get_attribute("dir") == "rtl"
        assert "مریم" in preview.locator("body").inner_text()
        if SHOTS:
            page.locator("iframe.msg-preview").screenshot(path=str(Path(SHOTS) / "email-fa.png"))
        # The customer's side: the unsubscribe page, then one tap.
        context = browser.new_context(viewport={"width": 390, "height": 844})
        visitor = context.new_page()
        visitor.goto(f"{base}/u/{seeded['token']}")
        _check(visitor, "unsubscribe-fa-390")
        visitor.click("form:has(input[value=unsubscribe]) button")
        visitor.wait_for_load_state()
        assert "لغو شد" in visitor.inner_text("h1")
        assert context.cookies() == []  # no cookie for the customer
        browser.close()
    assert outside == [], outside
