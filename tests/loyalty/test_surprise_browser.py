"""The Surprises page in Chromium: reached from the sidebar, a rule made through the form,
English, Arabic and Persian (right to left), a 390-pixel phone, axe-core on every page;
the point of sale's surprise note on a phone."""

from __future__ import annotations

import pytest

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import CalendarKind, Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerCreate
from wafa.loyalty import program, rewards
from wafa.loyalty.schemas.io import RewardCreate
from wafa.loyalty.schemas.program import ProgramRules
from wafa.loyalty.surprise import service as surprise
from wafa.loyalty.surprise.schemas import SurpriseRuleCreate

pytestmark = [pytest.mark.browser, needs_chromium]

OWNER = "owner@example.com"
PASSWORD = "browser-test-password"


def _seed(settings: Settings) -> str:
    with session_scope(settings) as session:
        auth.create_user(session, email=OWNER, password=PASSWORD, role=Role.owner, name="Owner")
        program.save_rules(session, rules=ProgramRules.model_validate({}), by="test")
        pastry = rewards.create_reward(
            session,
            settings=settings,
            data=RewardCreate(name="A free pastry", kind="gift", cost_points=0, in_catalogue=False),
        )
        rule = surprise.create_rule(
            session,
            settings=settings,
            data=SurpriseRuleCreate(
                name="Thank-you pastry",
                trigger="segment",
                reward_id=pastry.id,
                cost_amount=150,
                monthly_budget_amount=3000,
            ),
            by="test",
        )
        sara = customers.create_customer(
            session,
            data=CustomerCreate(name="Sara Karimi", phone="+12025554845", email="s@example.com"),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        surprise.grant(
            session,
            settings=settings,
            rule=rule,
            customer_id=sara.id,
            occasion="segment:test:2026-Q4",
            now=utcnow(),
        )
        return str(sara.id)


def test_the_owner_makes_a_surprise_from_the_sidebar(committed_db: Settings) -> None:
    from playwright.sync_api import expect

    _seed(committed_db)
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        login(page, base, OWNER, PASSWORD)
        page.click("nav a[href='/loyalty/surprises']")
        expect(page).to_have_url(f"{base}/loyalty/surprises")
        assert_accessible(page, "Surprises (en)")
        page.click("a[href='/loyalty/surprises/new']")
        page.fill("#f-name", "Tenth order")
        page.select_option("#f-trigger", "nth_order")
        page.fill("#f-count", "10")
        page.select_option("#f-gives", "points")
        page.fill("#f-points", "200")
        page.fill("#f-monthly_budget_amount", "50")
        assert_accessible(page, "New surprise (en)")
        page.click("form button[type=submit].btn-primary")
        expect(page).to_have_url(f"{base}/loyalty/surprises")
        expect(page.locator("table").first).to_contain_text("Tenth order")


@pytest.mark.parametrize("language", ["ar", "fa"])
def test_right_to_left_on_a_phone(committed_db: Settings, language: str) -> None:
    from playwright.sync_api import expect

    sara = _seed(committed_db)
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        login(page, base, OWNER, PASSWORD)
        page.goto(f"{base}/loyalty/surprises")
        page.click(".lang-menu summary")
        page.click(f'.lang-menu button[value="{language}"]')
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        for path in ("/loyalty/surprises", "/loyalty/surprises/new", f"/pos?customer={sara}"):
            response = page.goto(base + path)
            assert response is not None and response.status == 200, path
            assert_accessible(page, f"{path} ({language}, 390 px)")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 1, (path, overflow)
        note = page.locator(".pos-surprise")
        expect(note).to_be_visible()
        expect(note).to_contain_text("A free pastry")
        digits = "٢٠٢٦" if language == "ar" else "۲۰۲۶"  # the month, in native digits
        page.goto(f"{base}/loyalty/surprises")
        expect(page.locator("body")).to_contain_text(digits)


def test_a_sale_at_the_counter_shows_its_surprise_at_once(committed_db: Settings) -> None:
    from playwright.sync_api import expect

    with session_scope(committed_db) as session:
        auth.create_user(
            session, email="till@example.com", password=PASSWORD, role=Role.cashier, name="Till"
        )
        program.save_rules(session, rules=ProgramRules.model_validate({}), by="test")
        pastry = rewards.create_reward(
            session,
            settings=committed_db,
            data=RewardCreate(name="A free pastry", kind="gift", cost_points=0, in_catalogue=False),
        )
        surprise.create_rule(
            session,
            settings=committed_db,
            data=SurpriseRuleCreate(
                name="First visit",
                trigger="nth_order",
                count=1,
                reward_id=pastry.id,
                cost_amount=90,
            ),
            by="test",
        )
        nadia = customers.create_customer(
            session,
            data=CustomerCreate(name="Nadia Saleh", phone="+12025554846"),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        nadia_id = str(nadia.id)
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, base, "till@example.com", PASSWORD)
        page.goto(f"{base}/pos?customer={nadia_id}")
        expect(page.locator(".pos-surprise")).to_have_count(0)
        page.fill("#pos-amount", "6")
        page.click("[data-pos-add-amount]")
        page.click("[data-pos-record]")
        note = page.locator(".pos-surprise")
        note.wait_for(state="visible", timeout=15_000)
        expect(note).to_contain_text("Surprise this customer: A free pastry")
        assert_accessible(page, "the POS card with a surprise")
        note.locator("button[type=submit]").click()
        page.wait_for_load_state()
        expect(page.locator(".pos-surprise")).to_have_count(0)
        assert errors == []
