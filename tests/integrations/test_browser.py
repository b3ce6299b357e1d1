"""The connected-shops pages in Chromium, in Persian and Arabic on a phone (390 px): right to
left, nothing wider than the screen, axe-core finds nothing serious."""

from __future__ import annotations

import pytest

from tests.browser import assert_accessible, chromium, login, needs_chromium
from tests.integrations.shops import body, shopify_headers, shopify_order
from tests.serving import running_app
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import session_scope
from wafa.core.settings import Settings
from wafa.integrations import connections

pytestmark = [pytest.mark.browser, needs_chromium]

SECRET = "shpss_browser_secret"


@pytest.mark.parametrize("language", ["fa", "ar"])
def test_pages_on_a_phone(committed_db: Settings, language: str) -> None:
    import httpx2 as httpx

    email = f"owner-{language}@example.com"
    with session_scope(committed_db) as s:
        auth.create_user(
            s, email=email, password="browser-pass-1", role=Role.owner, locale=language
        )
        path = connections.add_connection(
            s, settings=committed_db, shop="shopify", name="souq", secret=SECRET
        ).path
    with running_app(committed_db) as base, chromium() as browser:
        for n, order in enumerate((shopify_order(), shopify_order(id=9, currency="XXZ"))):
            raw = body(order)
            httpx.post(
                base + path,
                content=raw,
                headers=shopify_headers(SECRET, raw, "orders/create", f"b-{n}"),
                timeout=120,  # a loaded machine's first orders
            )
        page = browser.new_page(viewport={"width": 390, "height": 844})
        login(page, base, email, "browser-pass-1")
        for url in ("/integrations", "/integrations/webhooks", "/integrations/deliveries"):
            page.goto(base + url)
            assert page.locator("html").get_attribute("dir") == "rtl"
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 390, f"{url} is {wide}px wide"
            assert_accessible(page, f"{url} in {language}")
        assert page.locator("form[action$='/replay'] button").count() == 1
