"""In Chromium on a 390 px phone: the partner's cashier opens the partner's link in Persian,
checks a code and marks it used (right to left, Persian digits, axe-core clean, nothing from
another host); the owner's partner pages in Persian at 390 px, axe-core clean."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.partners.helpers import offer_codes, partner
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.loyalty import coupons
from wafa.partners import access

pytestmark = [pytest.mark.browser, needs_chromium]


def test_a_cashier_checks_and_uses_a_code_in_persian(committed_db: Settings) -> None:
    settings = committed_db
    with session_scope(settings) as s:
        p = partner(s, settings, name="نانوایی طلایی", offer="یک شیرینی رایگان با هر قهوه")
        code, other = offer_codes(s, settings, p, count=2, valid_days=30)
        link = access.issue_link(s, settings=settings, partner_id=p.id).url
    path = urlparse(link).path
    with running_app(settings) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        hosts: set[str] = set()
        page.on("request", lambda r: hosts.add(urlparse(r.url).netloc))
        page.goto(base + path + "?lang=fa")
        assert page.url.endswith("/partner/?lang=fa")
        assert page.locator("html").get_attribute("dir") == "rtl"
        assert page.locator("html").get_attribute("lang") == "fa"
        assert_accessible(page, "the partner page in Persian")

        # Typed on a Persian keyboard, with a dash: read as the code.
        typed = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
        page.get_by_label("کد").fill(typed[:4] + "-" + typed[4:])
        page.get_by_test_id("check").click()
        page.wait_for_load_state()
        result = page.get_by_test_id("result")
        assert result.get_attribute("data-status") == "valid"
        assert "یک شیرینی رایگان با هر قهوه" in result.inner_text()
        assert re.search("[۰-۹]", result.inner_text())  # its last day, in Persian digits
        assert_accessible(page, "a valid code in Persian")

        page.get_by_test_id("use").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("result").get_attribute("data-status") == "redeemed"
        assert_accessible(page, "a used code in Persian")

        page.get_by_label("کد").fill(code)
        page.get_by_test_id("check").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("result").get_attribute("data-status") == "used"

        page.get_by_label("کد").fill("NOTACODE")
        page.get_by_test_id("check").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("result").get_attribute("data-status") == "not_found"
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, f"the partner page is {wide}px wide"
        assert_accessible(page, "an unknown code in Persian")
        assert hosts == {urlparse(base).netloc}, f"requests to other hosts: {hosts}"
    with session_scope(settings) as s:
        assert coupons.get_coupon(s, code).uses == 1
        assert coupons.get_coupon(s, other).uses == 0


def test_the_owners_pages_in_persian(committed_db: Settings) -> None:
    settings = committed_db
    email = "owner-partners@example.com"
    with session_scope(settings) as s:
        auth.create_user(s, email=email, password="browser-pass-1", role=Role.owner, locale="fa")
        p = partner(s, settings, name="Golden Bakery")
        offer_codes(s, settings, p, count=2)
        pid = p.id
    with running_app(settings) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        login(page, base, email, "browser-pass-1")
        for url in ("/partners", "/partners/new", f"/partners/{pid}"):
            page.goto(base + url)
            assert page.locator("html").get_attribute("dir") == "rtl"
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 390, f"{url} is {wide}px wide"
            assert_accessible(page, f"{url} in Persian")
        page.locator(f"form[action='/partners/{pid}/link'] button").click()
        page.wait_for_load_state()
        assert "/partner/login/" in (page.get_by_test_id("partner-link").input_value())
        assert_accessible(page, "a new link in Persian")
