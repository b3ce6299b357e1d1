"""Complaint photos in Chromium on a 390-pixel phone, in Persian: the customer files a
complaint with a photo from their own page, the shop sees the photo (without its GPS) on the
complaint's page and shows them a PDF back; right to left, nothing wider than the screen,
axe-core finds nothing serious."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image
from sqlalchemy import select

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.feedback.test_attachments import PDF, jpeg
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerCreate
from wafa.feedback.models import Complaint, ComplaintAttachment
from wafa.portal import access

pytestmark = [pytest.mark.browser, needs_chromium]

OWNER, PASSWORD = "owner@example.com", "browser-test-password"


def _fits(page: object) -> None:
    overflow = page.evaluate(  # type: ignore[attr-defined]
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, overflow


def _shown(page: object, selector: str) -> bool:
    """Every image of ``selector`` loaded with pixels (a refused or broken one never does)."""
    # A function with an argument, not an expression string: Playwright turns a string into
    # code with eval inside the page, which the portal's CSP (no 'unsafe-eval') refuses.
    page.wait_for_function(  # type: ignore[attr-defined]
        "(sel) => [...document.querySelectorAll(sel)]"
        ".every((i) => i.complete && i.naturalWidth > 0)",
        arg=selector,
        timeout=20_000,
    )
    return True


def test_a_customer_attaches_a_photo_and_the_shop_sees_it(
    committed_db: Settings, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    settings = committed_db
    with session_scope(settings) as session:
        auth.create_user(session, email=OWNER, password=PASSWORD, role=Role.owner, name="Owner")
        sara = customers.create_customer(
            session,
            data=CustomerCreate(name="سارا کریمی", phone="+12025554845", language="fa"),
            region="US",
            calendar=CalendarKind.gregorian,
        ).id
        link = access.issue_link(
            session, settings=settings, customer_id=sara, page="/portal/feedback"
        ).url
    photo = tmp_path / "فنجان.jpg"
    photo.write_bytes(jpeg((800, 600), orientation=1))
    receipt = tmp_path / "refund.pdf"
    receipt.write_bytes(PDF)

    with running_app(settings) as base, chromium() as browser:
        errors: list[str] = []
        customer = browser.new_page(viewport={"width": 390, "height": 844})
        customer.on("pageerror", lambda exc: errors.append(str(exc)))
        parts = urlparse(link)
        customer.goto(f"{base}{parts.path}?{parts.query}")
        expect(customer.locator("html")).to_have_attribute("dir", "rtl")
        assert_accessible(customer, "the complaint form with a file picker (fa, 390 px)")
        _fits(customer)
        customer.fill("#text", "فنجان شکسته رسید")
        customer.set_input_files("#files", str(photo))
        customer.click("form[action='/portal/feedback'] button[type=submit]")
        expect(customer.locator(".thread .files img")).to_have_count(1)
        assert _shown(customer, ".thread .files img")
        assert_accessible(customer, "my complaint with its photo (fa, 390 px)")
        _fits(customer)

        with session_scope(settings, write=False) as session:
            complaint = session.scalars(
                select(Complaint).where(Complaint.customer_id == sara)
            ).one()
            kept = session.scalars(
                select(ComplaintAttachment).where(ComplaintAttachment.complaint_id == complaint.id)
            ).one()
            assert (
                kept.filename == "فنجان.jpg"
                and dict(Image.open(io.BytesIO(kept.data)).getexif()) == {}
            )

        staff = browser.new_page(viewport={"width": 390, "height": 844})
        staff.on("pageerror", lambda exc: errors.append(str(exc)))
        login(staff, base, OWNER, PASSWORD)
        staff.goto(f"{base}/feedback/complaints")
        staff.click(".lang-menu summary")
        staff.click('.lang-menu button[value="fa"]')
        expect(staff.locator("html")).to_have_attribute("dir", "rtl")
        staff.goto(f"{base}/feedback/complaints/{complaint.id}")
        expect(staff.locator(".attachments img")).to_have_count(1)
        assert _shown(staff, ".attachments img")
        assert_accessible(staff, "a complaint with the customer's photo (fa, 390 px)")
        _fits(staff)
        staff.set_input_files("#attach-files", str(receipt))
        staff.check("input[name=shared]")
        staff.click("form[action$='/attachments'] button[type=submit]")
        expect(staff.locator(".attachments li")).to_have_count(2)
        _fits(staff)

        customer.reload()
        expect(customer.locator(".thread .files a[download]")).to_have_text("refund.pdf")
        assert errors == [], errors
    assert isinstance(complaint.id, uuid.UUID)
