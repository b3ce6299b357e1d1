"""The API docs in a real browser: every request stays on the Wafa server.

ReDoc's sidebar asks for a logo from its maker's site and Swagger UI for a validator
badge; the pages' Content-Security-Policy stops both, and the docs still render.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.browser import chromium, needs_chromium
from tests.serving import running_app
from wafa.core.settings import Settings

pytestmark = [pytest.mark.browser, needs_chromium]


def test_docs_pages_load_nothing_from_another_host(committed_db: Settings) -> None:
    with running_app(committed_db) as base, chromium() as browser:
        page = browser.new_page()
        requested: list[str] = []
        blocked: list[str] = []
        refused: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.on(
            "requestfailed",
            lambda request: (
                blocked.append(request.url) if "csp" in (request.failure or "").lower() else None
            ),
        )
        page.on(
            "console",
            lambda message: (
                refused.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        page.goto(f"{base}/api/redoc")
        page.wait_for_selector("text=API docs by Redocly", timeout=20_000)
        page.wait_for_selector("h1:has-text('Wafa API')")
        page.goto(f"{base}/api/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
        page.wait_for_selector(".opblock-tag")
        page.wait_for_timeout(300)
        # Chromium reports a request the policy stopped as failed with "csp": it
        # never left the browser. Anything else addressed to another host did.
        elsewhere = sorted(
            u
            for u in requested
            if urlparse(u).scheme in ("http", "https")
            and urlparse(u).netloc != urlparse(base).netloc
            and u not in blocked
        )
        assert not elsewhere, elsewhere
        # The policy does not refuse anything the pages themselves need.
        assert not [r for r in refused if "script" in r and "inline" in r], refused
