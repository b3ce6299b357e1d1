from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.web.helpers import logged_in, make_user
from wafa.auth.models import Role
from wafa.web import app as web_app
from wafa.web import nav
from wafa.web.routing import WebRoute
from wafa.web.templating import STATIC_DIR, TEMPLATE_DIR, safe_next, static_url


@pytest.fixture
def fake_module() -> Iterator[types.ModuleType]:
    """A domain web module registered under a WEB_MODULES name, removed afterwards."""
    name = "wafa.analytics.web"
    saved = sys.modules.get(name)
    module = types.ModuleType(name)
    sys.modules[name] = module
    yield module
    if saved is None:
        sys.modules.pop(name, None)
    else:
        sys.modules[name] = saved


class TestWebRouters:
    def test_domain_pages_are_included(self, fake_module: types.ModuleType) -> None:
        router = APIRouter(route_class=WebRoute)

        @router.get("/analytics-test")
        def page() -> str:
            return "ok"

        fake_module.router = router  # type: ignore[attr-defined]
        assert router in web_app.web_routers()

    def test_route_without_csrf_and_commit_is_refused(self, fake_module: types.ModuleType) -> None:
        router = APIRouter()

        @router.post("/unsafe")
        def unsafe() -> str:
            return "x"

        fake_module.router = router  # type: ignore[attr-defined]
        with pytest.raises(TypeError, match="WebRoute"):
            web_app.web_routers()

    def test_missing_domain_modules_are_skipped(self) -> None:
        routers = web_app.web_routers()
        assert len(routers) >= 4  # login, overview, customers, orders


class TestStaticFiles:
    def test_served_by_the_app(self, client: TestClient) -> None:
        response = client.get(static_url("wafa.css"))
        assert response.status_code == 200
        assert "text/css" in response.headers["content-type"]

    def test_url_changes_with_content(self) -> None:
        assert re.fullmatch(r"/static/wafa\.js\?v=[0-9a-f]{10}", static_url("wafa.js"))

    def test_nothing_is_loaded_from_another_host(self) -> None:
        """No CDN: templates, CSS and JS reference only this app (a shop may be offline)."""
        files = [
            *TEMPLATE_DIR.rglob("*.html"),
            *STATIC_DIR.rglob("*.css"),
            *STATIC_DIR.rglob("*.js"),
        ]
        pattern = re.compile(r"""(?:src|href|url)\s*[=(]\s*["']?(?:https?:)?//""", re.IGNORECASE)
        offenders = [str(f) for f in files if pattern.search(f.read_text("utf-8"))]
        assert offenders == []


class TestSecurityHeaders:
    def test_pages_forbid_foreign_scripts_and_framing(
        self, client: TestClient, session: Session
    ) -> None:
        logged_in(client, session)
        response = client.get("/customers")
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"


class TestNavigation:
    def test_entries_follow_the_role(self, session: Session) -> None:
        cashier = make_user(session, role=Role.cashier)
        owner = make_user(session, role=Role.owner)
        cashier_paths = [link.path for link in nav.nav_for(cashier, "/customers")]
        owner_paths = [link.path for link in nav.nav_for(owner, "/customers")]
        assert "/" not in cashier_paths
        assert {"/", "/customers", "/orders"} <= set(owner_paths)

    def test_most_specific_entry_is_active(self, session: Session) -> None:
        owner = make_user(session, role=Role.owner)
        active = [link.path for link in nav.nav_for(owner, "/customers/123/edit") if link.active]
        assert active == ["/customers"]

    def test_registering_a_path_again_replaces_it(self) -> None:
        try:
            nav.register_nav("Test", "/zz-test", icon="star", order=99)
            nav.register_nav("Test again", "/zz-test", icon="star", order=98)
            entries = [i for i in nav.registered() if i.path == "/zz-test"]
            assert [e.label for e in entries] == ["Test again"]
        finally:
            nav._registry.pop("/zz-test", None)

    def test_sidebar_shows_translated_entries(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, locale="fa")
        page = client.get("/orders").text
        assert 'aria-current="page"' in page
        assert "سفارش‌ها" in page

    def test_cashier_sees_no_overview(self, client: TestClient, session: Session) -> None:
        cashier = logged_in(client, session, role=Role.cashier)
        response = client.get("/", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == nav.home_for(cashier) != "/"


class TestSafeNext:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("/orders?q=1", "/orders?q=1"),
            ("//evil.example", "/"),
            ("/\\evil.example", "/"),
            ("https://evil.example", "/"),
            ("", "/"),
            (None, "/"),
        ],
    )
    def test_only_local_paths(self, value: str | None, expected: str) -> None:
        assert safe_next(value) == expected
