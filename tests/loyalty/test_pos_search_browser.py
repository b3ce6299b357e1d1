"""The point of sale credits the customer the cashier chose: ranking, ↑/↓/Enter, who the sale is for.

As it went wrong in a shop: the cashier typed a phone's last digits, an email that
happened to contain them came first, and Enter opened result 1 after ↓ had chosen
another, so a sale and its points went to the wrong person. Chromium, a live server,
the real database.
"""

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
from wafa.customers.models import Customer
from wafa.customers.schemas import CustomerCreate
from wafa.loyalty import program
from wafa.loyalty.schemas.program import ProgramRules
from wafa.orders.models import Order

pytestmark = [pytest.mark.browser, needs_chromium]

CASHIER = "till@example.com"
PASSWORD = "browser-test-password"
PEOPLE = (
    ("Sara Karimi", "+12025554844", "sara@example.com"),  # her phone ends in 4844
    ("Ali Rezaei", "+12025550111", "ali4844@example.com"),  # his email contains it
    ("Mina Ahmadi", "+12024844123", "mina@example.com"),  # her number has it inside
)


def _seed(settings: Settings) -> None:
    with session_scope(settings) as session:
        auth.create_user(session, email=CASHIER, password=PASSWORD, role=Role.cashier)
        program.save_rules(session, rules=ProgramRules.model_validate({}), by="test")
        for name, phone, email in PEOPLE:  # Sara oldest: newest-first alone puts her last
            customers.create_customer(
                session,
                data=CustomerCreate(name=name, phone=phone, email=email),
                region="US",
                calendar=CalendarKind.gregorian,
            )


def test_arrow_and_enter_open_the_highlighted_customer_and_the_sale_is_theirs(
    committed_db: Settings,
) -> None:
    from playwright.sync_api import expect

    _seed(committed_db)
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        login(page, base, CASHIER, PASSWORD)
        expect(page).to_have_url(f"{base}/pos")
        assert_accessible(page, "the point of sale, waiting for a customer")

        page.locator("#pos-q").press_sequentially("4844", delay=30)
        rows = page.locator(".pos-result .pos-result-name")
        expect(rows).to_have_text(["Sara Karimi", "Ali Rezaei", "Mina Ahmadi"])
        assert_accessible(page, "the point of sale's search results")

        page.locator("#pos-q").press("ArrowDown")
        expect(page.locator('.pos-result[aria-selected="true"]')).to_contain_text("Ali Rezaei")
        page.locator("#pos-q").press("Enter")
        expect(page.locator(".pos-customer .pos-name")).to_have_text("Ali Rezaei")

        # Before the sale is recorded: whom it is for, by name and phone, by the button.
        sale_for = page.locator("[data-pos-sale-for]")
        expect(sale_for).to_be_visible()
        expect(sale_for.locator(".pos-sale-for-name")).to_have_text("Ali Rezaei")
        expect(sale_for.locator(".pos-sale-for-phone")).to_have_text("+1 202-555-0111")
        assert_accessible(page, "the point of sale with a customer open")

        page.fill("[data-pos-amount]", "12.50")
        page.click("[data-pos-add-amount]")
        page.click("[data-pos-record]")
        expect(page.locator("[data-pos-toast]")).to_be_visible()
        assert errors == [], errors

    with session_scope(committed_db) as session:
        buyer = session.scalar(select(Customer.name).join(Order, Order.customer_id == Customer.id))
        assert buyer == "Ali Rezaei"
