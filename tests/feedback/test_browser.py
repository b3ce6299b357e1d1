"""Feedback in Chromium on a 390-pixel phone, in Persian: a complaint filed at the counter,
answered, compensated and resolved, and the reply read by the customer on their own page; every feedback page right to left, nothing wider than
the screen, and axe-core finds nothing serious. The customer's answer page too."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

import pytest

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.feedback.helpers import make_survey
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerCreate
from wafa.feedback import service
from wafa.loyalty import service as loyalty
from wafa.portal import access

pytestmark = [pytest.mark.browser, needs_chromium]

OWNER, PASSWORD = "owner@example.com", "browser-test-password"


def _seed(settings: Settings) -> tuple[str, str, str]:
    with session_scope(settings) as session:
        auth.create_user(session, email=OWNER, password=PASSWORD, role=Role.owner, name="Owner")
        sara = customers.create_customer(
            session,
            data=CustomerCreate(name="سارا کریمی", phone="+12025554844", language="fa"),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        survey = make_survey(session, touchpoint="visit")
        service.answer(
            session,
            settings=settings,
            survey_id=survey.id,
            customer_id=sara.id,
            occasion="visit:1",
            score=9,
            comment="قهوه خیلی خوب بود",
        )
        link = service.survey_link(
            session, settings=settings, customer_id=sara.id, occasion="visit:2", survey_id=survey.id
        )
        assert link is not None
        return str(sara.id), str(survey.id), "/s/" + link.token


def _fits(page: object) -> None:
    overflow = page.evaluate(  # type: ignore[attr-defined]
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, overflow


def test_a_complaint_on_a_phone_in_persian(committed_db: Settings) -> None:
    from playwright.sync_api import expect

    sara, survey_id, answer_path = _seed(committed_db)
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, base, OWNER, PASSWORD)
        page.goto(f"{base}/feedback/complaints")
        page.click(".lang-menu summary")
        page.click('.lang-menu button[value="fa"]')
        expect(page.locator("html")).to_have_attribute("dir", "rtl")

        page.goto(f"{base}/feedback/complaints/new?customer={sara}&from=pos")
        assert_accessible(page, "file a complaint (fa, 390 px)")
        _fits(page)
        page.fill("#text", "قهوه سرد بود")
        page.click("button[type=submit].btn-primary")
        expect(page.locator(".complaint-text").first).to_have_text("قهوه سرد بود")
        assert_accessible(page, "a complaint (fa, 390 px)")
        _fits(page)

        page.fill("#reply-text", "پوزش می‌خواهیم، قهوهٔ بعدی مهمان ما")
        page.click("form[action$='/reply'] button[type=submit]")
        page.fill("#points", "30")
        page.click("form[action$='/compensate'] button[type=submit]")
        page.click("form[action$='/status'] button[value=resolved]")
        expect(page.locator(".timeline")).to_contain_text("پوزش می‌خواهیم")
        for path in (
            "/feedback/complaints?status=resolved",
            "/feedback/surveys",
            f"/feedback/surveys/{survey_id}",
            "/feedback/mine",
            "/feedback/reports",
            f"/feedback/qr?customer={sara}",
            f"/customers/{sara}",
        ):
            response = page.goto(base + path)
            assert response is not None and response.status == 200, path
            assert_accessible(page, f"{path} (fa, 390 px)")
            _fits(page)

        customer_page = browser.new_page(viewport={"width": 390, "height": 844})
        customer_page.goto(base + answer_path)
        expect(customer_page.locator("html")).to_have_attribute("dir", "rtl")
        assert_accessible(customer_page, "the answer page (fa, 390 px)")
        _fits(customer_page)
        customer_page.click("label.scale-option:has(input[value='10'])")
        customer_page.click("button[type=submit]")
        expect(customer_page.locator("h1")).to_have_text("سپاسگزاریم!")

        # The customer opens their own page from a sign-in link and reads the reply.
        with session_scope(committed_db) as session:
            link = access.issue_link(
                session, settings=committed_db, customer_id=uuid.UUID(sara), page="/portal/feedback"
            ).url
        parts = urlparse(link)
        customer_page.goto(f"{base}{parts.path}?{parts.query}")
        expect(customer_page.locator("html")).to_have_attribute("dir", "rtl")
        expect(customer_page.locator("main")).to_contain_text("قهوه سرد بود")
        expect(customer_page.locator("main")).to_contain_text("پوزش می‌خواهیم، قهوهٔ بعدی مهمان ما")
        assert_accessible(customer_page, "the customer's complaints on their page (fa, 390 px)")
        _fits(customer_page)
        assert errors == [], errors

    with session_scope(committed_db) as session:
        status = loyalty.status(session, settings=committed_db, customer_id=uuid.UUID(sara))
        assert status.available == 30
