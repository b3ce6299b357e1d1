"""A campaign in a real browser, in Persian on a 390 px phone: build a segment, compose the
campaign, preview it right to left with a real customer, send it, let ``wafa worker run
--once`` queue and send it to aiosmtpd on loopback, and read the report. axe-core finds
nothing serious on any page; nothing scrolls sideways."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.cli.conftest import Invoke
from tests.messaging.campaigns.conftest import audience
from tests.messaging.conftest import Sink, body_of
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.messaging.policy import ChannelPolicy, MessagingPolicy, save_policy

pytestmark = [pytest.mark.browser, needs_chromium]
MANAGER, PASSWORD = "manager@example.com", "browser-test-password"
SHOTS = os.environ.get("WAFA_SCREENSHOTS")


def _fits(page: object) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 391  # type: ignore[attr-defined]


def _shot(page: object, name: str) -> None:
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_a_persian_campaign_on_a_phone(
    committed_db: Settings, smtp_sink: Sink, wafa: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect

    with session_scope(committed_db) as session:
        save_policy(
            session, MessagingPolicy(email=ChannelPolicy(cap_hours=0, quiet=None)), by="test"
        )
        people = audience(session, 6, language="fa")
        audience(session, 2, city="Tabriz", language="fa")
        auth.create_user(session, email=MANAGER, password=PASSWORD, role=Role.manager, locale="fa")

    with running_app(committed_db) as base, chromium() as browser:
        context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, base, MANAGER, PASSWORD)
        expect(page.locator("html")).to_have_attribute("dir", "rtl")

        # A segment: customers in Shiraz.
        page.goto(f"{base}/segments/new")
        page.fill("#f-name", "مشتریان شیراز")
        page.click(".group-tools button >> nth=0")
        row = page.locator(".group-items > li").nth(0)
        row.locator(".cond-field").select_option("city")
        row.locator(".cond-op").select_option("=")
        row.locator(".cond-value input").fill("Shiraz")
        expect(page.locator("[data-segment-count]")).to_contain_text("۶")
        page.click("button[name=action][value=save]")
        expect(page.locator("[data-segment-size]")).to_have_text("۶")

        # Campaigns, from the navigation (a drawer on a phone).
        page.click("[data-nav-toggle]")
        page.click("nav a[href='/campaigns']")
        expect(page).to_have_url(f"{base}/campaigns")
        assert_accessible(page, "the campaign list")
        page.click("a[href='/campaigns/new']")
        page.fill("#name", "تخفیف نوروزی")
        page.select_option("#segment", label="مشتریان شیراز (۶)")
        page.select_option("#topic", "offers")
        page.fill("#holdout_percent", "۰")
        page.fill("#subject_fa", "نوروز مبارک {{ customer.first_name }}")
        page.fill("#body_fa", "{{ customer.first_name }} عزیز، کد تخفیف شما: {{ coupon_code }}")
        page.select_option("#coupon_kind", "discount_percent")
        page.fill("#coupon_value", "۱۵")
        expect(page.locator("fieldset[lang=fa]")).to_have_attribute("dir", "rtl")
        _fits(page)
        assert_accessible(page, "the compose page")
        _shot(page, "campaign-compose-fa-390")
        page.click("form[action='/campaigns/new'] button[type=submit]")

        # The campaign page: a real customer's preview, right to left.
        preview = page.locator("[data-preview]")
        expect(preview).to_have_attribute("dir", "rtl")
        expect(preview).to_contain_text("نوروز مبارک")
        email = page.frame_locator("[data-preview] iframe")
        expect(email.locator("html")).to_have_attribute("dir", "rtl")
        expect(email.locator("body")).to_contain_text("SAMPLE-CODE")
        expect(page.locator("[data-campaign-status]")).to_have_attribute(
            "data-campaign-status", "draft"
        )
        _fits(page)
        assert_accessible(page, "the campaign page")
        _shot(page, "campaign-preview-fa-390")
        page.click("[data-send]")
        expect(page.locator("[data-campaign-status]")).to_have_attribute(
            "data-campaign-status", "queuing"
        )
        expect(page.locator("[data-recipients]")).to_have_text("۶")

        # The worker queues and sends, once.
        monkeypatch.setenv("WAFA_SMTP_URL", smtp_sink.url)
        monkeypatch.setenv("WAFA_PUBLIC_URL", "https://shop.example")
        ran = wafa("worker", "run", "--once", "--no-daily")
        assert ran.exit_code == 0, ran.output
        assert "messaging.campaigns: recipients 6" in ran.stdout

        page.reload()
        expect(page.locator("[data-campaign-status]")).to_have_attribute(
            "data-campaign-status", "finished"
        )
        page.click("a[href$='/report']")
        expect(page.locator("[data-report-deliveries] [data-sent]")).to_have_text("۶")
        expect(page.locator("[data-report-effect]")).to_be_visible()
        _fits(page)
        assert_accessible(page, "the report")
        _shot(page, "campaign-report-fa-390")
        assert errors == [], errors

    for person in people:
        [got] = smtp_sink.to(person.email or "")
        text = body_of(got, "plain")
        assert "کد تخفیف شما:" in text and "SAMPLE-CODE" not in text
        assert got.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_edit_an_sms_draft_with_its_live_count_in_persian_on_a_phone(
    committed_db: Settings,
) -> None:
    """The Edit button of a draft, the form filled with what is stored, and the SMS count
    under the Persian text changing while it is typed (Persian digits; UCS-2, 70 a
    message, the opt-out word counted); email hides the counts."""
    from playwright.sync_api import expect

    from tests.messaging.campaigns.conftest import draft, segment_of

    with session_scope(committed_db) as session:
        audience(session, 1, language="fa", phone="+989121234567")
        segment = segment_of(session, committed_db)
        campaign = draft(
            session,
            committed_db,
            segment,
            channel="sms",
            subject={},
            body={"fa": "سلام {{ customer.first_name }}"},
        )
        campaign_id = campaign.id
        auth.create_user(session, email=MANAGER, password=PASSWORD, role=Role.manager, locale="fa")

    with running_app(committed_db) as base, chromium() as browser:
        context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, base, MANAGER, PASSWORD)
        page.goto(f"{base}/campaigns/{campaign_id}")
        page.click("[data-edit]")
        expect(page).to_have_url(f"{base}/campaigns/{campaign_id}/edit")
        expect(page.locator("#body_fa")).to_have_value("سلام {{ customer.first_name }}")
        count = page.locator("output[for=body_fa]")
        expect(count).to_be_visible()
        # Sixty letters and the opt-out word ("\nلغو11", 6 units): 66 units, one SMS.
        page.fill("#body_fa", "س" * 60)
        expect(count).to_have_attribute("data-segments", "1")
        expect(count).to_contain_text("۶۶")
        expect(count).to_contain_text("UCS-2")
        # Five more: 71 units, past 70: two messages of 67.
        page.type("#body_fa", "سسسسس")
        expect(count).to_have_attribute("data-segments", "2")
        expect(count).to_contain_text("۷۱")
        page.fill("#body_en", "Hello")
        expect(page.locator("output[for=body_en]")).to_contain_text("GSM-7")
        _fits(page)
        assert_accessible(page, "the edit page with SMS counts")
        _shot(page, "campaign-edit-sms-fa-390")
        page.select_option("#channel", "email")
        expect(count).to_be_hidden()
        page.select_option("#channel", "sms")
        page.fill("#name", "پیامک بهاری")
        page.click(f"form[action='/campaigns/{campaign_id}/edit'] button[type=submit]")
        expect(page).to_have_url(f"{base}/campaigns/{campaign_id}")
        expect(page.locator("[data-sms-length]")).to_contain_text("۲")
        assert errors == [], errors
