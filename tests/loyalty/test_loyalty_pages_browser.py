"""The loyalty pages and the point of sale in Chromium: phone width, Persian, and axe-core.

On a 390-pixel phone the point of sale put the sale panel below a 900-pixel customer
card; now the card folds to name, phone and points, and the rest opens on request.
Every loyalty page is checked with axe-core (no serious or critical violation) in
English and in Persian, at tablet and at phone width.
"""

from __future__ import annotations

import pytest

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerCreate
from wafa.loyalty import program, rewards, service, stamps
from wafa.loyalty.schemas.io import CouponCreate, RewardCreate, StampCardCreate
from wafa.loyalty.schemas.program import ProgramRules

pytestmark = [pytest.mark.browser, needs_chromium]

OWNER = "owner@example.com"
PASSWORD = "browser-test-password"
PAGES = (
    "/loyalty/program",
    "/loyalty/tiers",
    "/loyalty/rewards",
    "/loyalty/rewards/new",
    "/loyalty/stamp-cards",
    "/loyalty/coupons",
    "/loyalty/coupons/new",
    "/loyalty/referrals?status=all",
    "/loyalty/liability",
    "/loyalty/leaderboard",
)


def _seed(settings: Settings) -> str:
    from wafa.loyalty import coupons

    with session_scope(settings) as session:
        auth.create_user(session, email=OWNER, password=PASSWORD, role=Role.owner, name="Owner")
        rules = ProgramRules.model_validate(
            {
                "pending_days": 0,
                "tiers": {
                    "enabled": True,
                    "basis": "spend",
                    "levels": [
                        {"code": "member", "name": "Member", "threshold": 0},
                        {"code": "silver", "name": "Silver", "threshold": 13_500},
                    ],
                },
            }
        )
        program.save_rules(session, rules=rules, by="test")
        sara = customers.create_customer(
            session,
            data=CustomerCreate(name="Sara Karimi", phone="+12025554844", email="s@example.com"),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        espresso = rewards.create_reward(
            session,
            settings=settings,
            data=RewardCreate(name="Free espresso", kind="gift", cost_points=40),
        )
        rewards.create_reward(
            session,
            settings=settings,
            data=RewardCreate(name="Birthday cake", kind="gift", cost_points=0, in_catalogue=False),
        )
        stamps.create_card(
            session,
            data=StampCardCreate(
                name="10th coffee", stamps_required=10, skus=["COF"], reward_id=espresso.id
            ),
        )
        coupons.create_campaign(
            session,
            settings=settings,
            data=CouponCreate(name="Spring", amount=500, max_uses=100),
            by="test",
        )
        service.adjust(
            session, settings=settings, customer_id=sara.id, points=120, reason="seed", by="t"
        )
        return str(sara.id)


@pytest.mark.parametrize("language", ["en", "fa"])
def test_on_a_phone_the_sale_panel_is_not_under_a_long_card(
    committed_db: Settings, language: str
) -> None:
    from playwright.sync_api import expect

    sara = _seed(committed_db)
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, base, OWNER, PASSWORD)
        if language != "en":
            page.goto(f"{base}/pos")
            page.click(".pos-top .lang-menu summary")
            page.click(f'.pos-top .lang-menu button[value="{language}"]')
            expect(page.locator("html")).to_have_attribute("lang", language)
        page.goto(f"{base}/pos?customer={sara}")
        card = page.locator(".pos-customer")
        expect(card).to_be_visible()
        height = card.bounding_box()
        assert height is not None and height["height"] < 420, height
        record = page.locator("[data-pos-record]")
        box = record.bounding_box()
        assert box is not None and box["y"] < 1500, box  # one or two swipes, not a long scroll
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        expect(page.locator("[data-pos-extra]")).to_be_hidden()
        assert_accessible(page, f"the point of sale on a phone ({language})")

        page.click("[data-pos-more]")
        expect(page.locator("[data-pos-extra]")).to_be_visible()
        expect(page.locator("[data-pos-more]")).to_have_attribute("aria-expanded", "true")
        assert_accessible(page, f"the point of sale on a phone, card open ({language})")
        assert errors == [], errors


@pytest.mark.parametrize(("language", "width"), [("en", 1024), ("fa", 1024), ("fa", 390)])
def test_every_loyalty_page_passes_axe(committed_db: Settings, language: str, width: int) -> None:
    sara = _seed(committed_db)
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": 800})
        login(page, base, OWNER, PASSWORD)
        if language != "en":
            page.click(".lang-menu summary")
            page.click(f'.lang-menu button[value="{language}"]')
            page.wait_for_load_state()
        for path in (*PAGES, f"/customers/{sara}", f"/customers/{sara}/loyalty"):
            response = page.goto(base + path)
            assert response is not None and response.status == 200, path
            assert_accessible(page, f"{path} ({language}, {width} px)")
            if width <= 390:
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 1, (path, overflow)
