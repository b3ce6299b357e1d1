"""Next-visit offers in Chromium on a phone (390 px), in Persian and Arabic: the owner
reaches the page from the sidebar, adds an offer, reads the report; a cashier records a
sale at the point of sale and the receipt view shows the coupon to hand over. Right to
left, nothing wider than the screen, axe-core finds nothing serious."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerCreate
from wafa.loyalty.models import BounceBackRule, Coupon, CouponSource

pytestmark = [pytest.mark.browser, needs_chromium]
PASSWORD = "browser-pass-1"


def _fits(page: object, what: str) -> None:
    wide = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert wide <= 390, f"{what} is {wide}px wide"


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_offer_and_receipt_on_a_phone(committed_db: Settings, language: str) -> None:
    owner, cashier = f"owner-{language}@example.com", f"cashier-{language}@example.com"
    with session_scope(committed_db) as s:
        auth.create_user(s, email=owner, password=PASSWORD, role=Role.owner, locale=language)
        auth.create_user(s, email=cashier, password=PASSWORD, role=Role.cashier, locale=language)
        sara = customers.create_customer(
            s,
            data=CustomerCreate(name="Sara Karimi", phone="+12025550142", email="s@example.com"),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        sara_id = sara.id
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, base, owner, PASSWORD)
        page.goto(base + "/")
        page.click("[data-nav-toggle]")  # the sidebar is behind the menu on a phone
        page.locator("#sidebar a[href='/loyalty/bounce-back']").click()
        page.wait_for_url(base + "/loyalty/bounce-back")
        assert page.locator("html").get_attribute("dir") == "rtl"
        _fits(page, "/loyalty/bounce-back")
        assert_accessible(page, f"/loyalty/bounce-back in {language}")

        page.goto(base + "/loyalty/bounce-back/new")
        _fits(page, "the offer form")
        assert_accessible(page, f"/loyalty/bounce-back/new in {language}")
        page.fill("#f-name", "۱۰٪ تخفیف خرید بعدی")
        page.fill("#f-percent", "۱۰")
        page.fill("#f-valid_days", "۱۴")
        page.fill("#f-holdout_percent", "۰")
        page.locator("form[action='/loyalty/bounce-back/new'] button[type=submit]").click()
        page.wait_for_url(base + "/loyalty/bounce-back")
        with session_scope(committed_db, write=False) as s:
            rule = s.scalars(select(BounceBackRule)).one()
            assert (rule.percent_bp, rule.valid_days, rule.holdout_percent) == (1000, 14, 0)
        assert "۱۰٪ تخفیف خرید بعدی" in page.content()
        _fits(page, "/loyalty/bounce-back with an offer")
        assert_accessible(page, f"/loyalty/bounce-back with an offer in {language}")

        page.context.clear_cookies()
        login(page, base, cashier, PASSWORD)
        page.goto(f"{base}/pos?customer={sara_id}")
        page.fill("#pos-amount", "۱۲")
        page.click("[data-pos-add-amount]")
        page.click("[data-pos-record]")
        receipt = page.locator("[data-pos-next-visit]")
        receipt.wait_for(state="visible", timeout=15_000)
        with session_scope(committed_db, write=False) as s:
            coupon = s.scalars(
                select(Coupon).where(Coupon.source == CouponSource.bounce_back)
            ).one()
            code = coupon.code
        assert f"{code[:4]}-{code[4:]}" in receipt.inner_text()
        _fits(page, "the POS receipt view")
        assert_accessible(page, f"the POS receipt view in {language}")
        assert errors == []
