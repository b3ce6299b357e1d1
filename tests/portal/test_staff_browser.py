"""The profile's "their own page" card in Chromium: the owner shows a sign-in link once, the
customer opens it on their phone, a cashier cancels access and the phone is signed out.
English and Persian (right to left), at 390 px; axe-core on the profile and the link page."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.factories import create_customer
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.loyalty import service as loyalty

pytestmark = [pytest.mark.browser, needs_chromium]

OWNER = "owner-portal@example.com"
PASSWORD = "browser-test-password"


@pytest.mark.parametrize("language", ["en", "fa"])
def test_owner_shows_a_link_the_phone_opens_it_and_cancelling_signs_it_out(
    committed_db: Settings, language: str
) -> None:
    from playwright.sync_api import expect

    settings = committed_db
    with session_scope(settings) as s:
        auth.create_user(
            s, email=OWNER, password=PASSWORD, role=Role.owner, name="Owner", locale=language
        )
        customer = create_customer(s, name="Leila Nouri", email=f"leila-{language}@example.com")
        loyalty.adjust(
            s, settings=settings, customer_id=customer.id, points=420, reason="w", by="t"
        )
    with running_app(settings) as base, chromium() as browser:
        staff = browser.new_page(viewport={"width": 390, "height": 844})
        login(staff, base, OWNER, PASSWORD)
        staff.goto(f"{base}/customers/{customer.id}")
        expect(staff.locator("html")).to_have_attribute("dir", "rtl" if language == "fa" else "ltr")
        card = staff.locator("#portal-access")
        expect(card.get_by_test_id("portal-sessions")).to_have_text(
            "۰" if language == "fa" else "0"
        )
        assert_accessible(staff, f"profile with the portal card ({language})")

        card.locator(f"form[action='/portal/staff/{customer.id}/link'] button").click()
        staff.wait_for_load_state()
        url = staff.get_by_test_id("portal-link").input_value()
        assert url.startswith(settings.public_url.rstrip("/") + "/portal/login/")
        assert_accessible(staff, f"the link shown once ({language})")
        overflow = staff.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 390, f"the link page is {overflow}px wide"

        phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        phone.goto(base + urlparse(url).path)
        # The customer's page is in their language (the business's here), not the owner's.
        expect(phone.get_by_test_id("available")).to_have_text("420")

        staff.goto(f"{base}/customers/{customer.id}")
        expect(card.get_by_test_id("portal-sessions")).to_have_text(
            "۱" if language == "fa" else "1"
        )
        card.locator(f"form[action='/portal/staff/{customer.id}/revoke'] button").click()
        staff.wait_for_load_state()
        expect(card.get_by_test_id("portal-sessions")).to_have_text(
            "۰" if language == "fa" else "0"
        )

        phone.goto(f"{base}/portal/")
        assert urlparse(phone.url).path == "/portal/login"
        phone.goto(base + urlparse(url).path)
        assert phone.get_by_test_id("available").count() == 0
