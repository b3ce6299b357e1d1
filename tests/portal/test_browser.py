"""The portal in Chromium on a phone (390×844), in Persian, Arabic and English: open a
link, read the balance, redeem a reward and see the code, the referral links, change a
preference and the birthday; right to left with Persian digits in Persian and Arabic-Indic digits in Arabic;
axe-core finds nothing serious; no request leaves the app."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.browser import assert_accessible, chromium, needs_chromium
from tests.factories import create_customer
from tests.serving import running_app
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.loyalty import rewards
from wafa.loyalty import service as loyalty
from wafa.loyalty.schemas.io import RewardCreate
from wafa.portal import access

pytestmark = [pytest.mark.browser, needs_chromium]

PAGES = ("/portal/history", "/portal/referral", "/portal/feedback", "/portal/preferences")


@pytest.mark.parametrize("language", ["fa", "ar", "en"])
def test_the_portal_on_a_phone(committed_db: Settings, language: str) -> None:
    settings = committed_db
    with session_scope(settings) as s:
        customer = create_customer(
            s,
            name="Maryam Ahmadi",
            email=f"maryam-{language}@example.com",
            language=language,
            consent=[{"channel": "email", "granted": True, "source": "test"}],
        )
        loyalty.adjust(
            s, settings=settings, customer_id=customer.id, points=1250, reason="welcome", by="t"
        )
        rewards.create_reward(
            s,
            settings=settings,
            data=RewardCreate(name="Free cake", kind="discount_fixed", cost_points=500, amount=900),
        )
        link = access.issue_link(s, settings=settings, customer_id=customer.id).url
    path = urlparse(link).path
    with running_app(settings) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        hosts: set[str] = set()
        page.on("request", lambda r: hosts.add(urlparse(r.url).netloc))
        page.goto(base + path)
        balance = page.get_by_test_id("available").inner_text()
        assert balance == {"fa": "۱٬۲۵۰", "ar": "١٬٢٥٠", "en": "1,250"}[language]
        direction = page.locator("html").get_attribute("dir")
        assert direction == ("ltr" if language == "en" else "rtl")
        assert page.locator("html").get_attribute("lang") == language
        assert_accessible(page, f"home in {language}")

        page.goto(base + "/portal/rewards")
        assert_accessible(page, f"rewards in {language}")
        page.locator("form[action='/portal/rewards'] button").first.click()
        page.wait_for_load_state()
        assert page.get_by_test_id("coupon").inner_text().strip()
        assert page.locator("figure.qr svg").count() == 1
        assert_accessible(page, f"coupon in {language}")

        for url in PAGES:
            page.goto(base + url)
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 390, f"{url} is {wide}px wide"
            assert_accessible(page, f"{url} in {language}")

        page.goto(base + "/portal/referral")
        assert page.locator("a[href^='https://wa.me/']").count() == 1
        page.goto(base + "/portal/preferences")
        page.locator("input[name='consent'][value='email']").uncheck()
        page.locator("form[action='/portal/preferences'] button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("[role=status]").count() == 1
        assert not page.locator("input[name='consent'][value='email']").is_checked()
        # The birthday, in the page's calendar (Jalali in Persian), typed in its digits.
        page.fill("#b-day", {"fa": "۷", "ar": "٧", "en": "7"}[language])
        page.select_option("#b-month", "1")
        page.locator("form[action='/portal/birthday'] button[type=submit]").click()
        page.wait_for_load_state()
        told = page.get_by_test_id("birthday").inner_text()
        assert told == {"fa": "۷ فروردین", "ar": "٧ يناير", "en": "7 January"}[language], told
        assert page.locator("form[action='/portal/birthday']").count() == 0
        assert_accessible(page, f"birthday saved in {language}")
        assert hosts == {urlparse(base).netloc}, f"requests to other hosts: {hosts}"
    with session_scope(settings) as s:
        status = loyalty.status(s, settings=settings, customer_id=customer.id)
        assert status.available == 750
