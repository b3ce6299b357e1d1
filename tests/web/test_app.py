from __future__ import annotations

import re

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.web.helpers import logged_in, make_user
from wafa.app import domains, factory
from wafa.auth.models import Role
from wafa.core.domain import Domain
from wafa.web import nav
from wafa.web.pages import Pages
from wafa.web.routing import WebRoute
from wafa.web.templating import STATIC_DIR, TEMPLATE_DIR, safe_next, static_url


def _with_pages(monkeypatch: pytest.MonkeyPatch, pages: Pages) -> None:
    """Add a domain with ``pages`` to the assembly's list for one test."""
    extra = Domain(name="zz-test", summary="test", pages=lambda: pages)
    monkeypatch.setattr(domains, "DOMAINS", (*domains.DOMAINS, extra))


class TestDashboardPages:
    def test_domain_pages_are_included(self, monkeypatch: pytest.MonkeyPatch) -> None:
        router = APIRouter(route_class=WebRoute)

        @router.get("/analytics-test")
        def page() -> str:
            return "ok"

        _with_pages(monkeypatch, Pages(routers=(router,)))
        assert any(router in p.routers for p in factory.dashboard_pages())

    def test_route_without_csrf_and_commit_is_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        router = APIRouter()

        @router.post("/unsafe")
        def unsafe() -> str:
            return "x"

        _with_pages(monkeypatch, Pages(routers=(router,)))
        with pytest.raises(TypeError, match="WebRoute"):
            factory.dashboard_pages()

    def test_every_declared_domain_is_mounted(self) -> None:
        declared = [d for d in domains.DOMAINS if d.pages is not None]
        # + the kit's own: login, the Worker page, Staff and API keys
        assert len(factory.dashboard_pages()) == len(declared) + 3


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
    def test_entries_follow_the_role(self, session: Session, app: FastAPI) -> None:
        cashier = make_user(session, role=Role.cashier)
        owner = make_user(session, role=Role.owner)
        sidebar: nav.Navigation = app.state.nav
        cashier_paths = [link.path for link in sidebar.links(cashier, "/customers")]
        owner_paths = [link.path for link in sidebar.links(owner, "/customers")]
        assert "/" not in cashier_paths
        assert {"/", "/customers", "/orders"} <= set(owner_paths)

    def test_most_specific_entry_is_active(self, session: Session, app: FastAPI) -> None:
        owner = make_user(session, role=Role.owner)
        sidebar: nav.Navigation = app.state.nav
        active = [link.path for link in sidebar.links(owner, "/customers/123/edit") if link.active]
        assert active == ["/customers"]

    def test_two_entries_for_one_path_are_refused(self) -> None:
        with pytest.raises(ValueError, match="/zz-test"):
            nav.Navigation(
                [nav.NavItem("Test", "/zz-test", order=99), nav.NavItem("Again", "/zz-test")]
            )

    def test_sidebar_shows_translated_entries(self, client: TestClient, session: Session) -> None:
        logged_in(client, session, locale="fa")
        page = client.get("/orders").text
        assert 'aria-current="page"' in page
        assert "سفارش‌ها" in page

    def test_cashier_sees_no_overview(self, client: TestClient, session: Session) -> None:
        cashier = logged_in(client, session, role=Role.cashier)
        response = client.get("/", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == client.app.state.nav.home_for(cashier) != "/"  # type: ignore[attr-defined]


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
