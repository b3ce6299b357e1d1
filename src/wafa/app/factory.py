"""``create_app(settings)``: the API and the dashboard in one ASGI application.

Built from the domains' declarations (``wafa.app.domains``): each domain's API routers
go under ``/api/v1`` (each route must commit before answering: ``AutoCommitRoute``), its
dashboard pages are mounted (each route must check CSRF and commit: ``WebRoute``), its
sidebar entries form the navigation and its panels the customer profile's cards.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from functools import partial
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import sessionmaker
from starlette.middleware.sessions import SessionMiddleware

from wafa import __version__
from wafa.api import errors as api_errors
from wafa.api.links import add_links
from wafa.api.overload import InFlightLimit, thread_limit
from wafa.api.routing import AutoCommitRoute
from wafa.app import domains, live_settings
from wafa.auth import service as auth
from wafa.core.db import get_engine
from wafa.core.settings import Settings, get_settings
from wafa.integrations.connections import INTAKE_PREFIX
from wafa.portal.web import home as portal_home
from wafa.web import auth as web_auth
from wafa.web import errors as web_errors
from wafa.web import staff, system
from wafa.web.nav import Navigation
from wafa.web.pages import CustomerPanel, Pages
from wafa.web.routing import WebRoute
from wafa.web.templating import STATIC_DIR, Templates

log = logging.getLogger("wafa")

SESSION_COOKIE = "wafa_session"


def api_router() -> APIRouter:
    """The /api/v1 router with every domain's routes."""
    router = APIRouter(prefix="/api/v1", route_class=AutoCommitRoute)
    for domain in domains.DOMAINS:
        if domain.api is None:
            continue
        for sub in domain.api():
            for route in sub.routes:
                # A route outside AutoCommitRoute would answer 2xx without committing.
                if not isinstance(route, AutoCommitRoute):
                    raise TypeError(
                        f"{domain.name}: route {route} must use route_class=AutoCommitRoute"
                    )
            router.include_router(sub)
    return router


def dashboard_pages() -> list[Pages]:
    """Every domain's dashboard pages, after the kit's own (login, the Worker page, staff)."""
    pages = [Pages(routers=(web_auth.router,)), system.PAGES, staff.PAGES]
    for domain in domains.DOMAINS:
        if domain.pages is None:
            continue
        found = domain.pages()
        if not isinstance(found, Pages):
            raise TypeError(f"{domain.name}: pages= must return a wafa.web.pages.Pages")
        pages.append(found)
    for page in pages:
        for router in page.routers:
            for route in router.routes:
                # Outside WebRoute a form would skip the CSRF check and the commit.
                if isinstance(route, APIRoute) and not isinstance(route, WebRoute):
                    raise TypeError(f"dashboard route {route} must use route_class=WebRoute")
    return pages


def resolve_secret_key(
    settings: Settings,
    reads: sessionmaker,  # type: ignore[type-arg]
    writes: sessionmaker,  # type: ignore[type-arg]
) -> str:
    """``WAFA_SECRET_KEY``, else the key file beside the database (made if absent); a key an
    older Wafa stored in the database is moved out of it first (the only write here)."""
    with reads() as session:
        legacy = auth.stored_secret_key(session)
    if legacy is None:
        return auth.secret_key(settings)
    with writes() as session, session.begin():
        return auth.ensure_secret_key(session, settings)


#: The API docs pages may load from Wafa alone. ReDoc's sidebar shows a logo from its
#: maker's site and Swagger UI a validator badge from another; the policy stops the browser
#: from fetching either (the page works without them). Inline scripts are allowed by hash.
DOCS_POLICY = (
    "default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _local_only(page: HTMLResponse) -> HTMLResponse:
    """Send a docs page with a policy that lets it load only from this server."""
    body = bytes(page.body).decode("utf-8")
    scripts = ["'self'"] + [
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(body)
    ]
    page.headers["Content-Security-Policy"] = DOCS_POLICY.format(scripts=" ".join(scripts))
    page.headers["X-Content-Type-Options"] = "nosniff"
    page.headers["X-Frame-Options"] = "DENY"
    page.headers["Referrer-Policy"] = "no-referrer"
    return page


def _link_operations(app: FastAPI) -> None:
    """The OpenAPI document carries the create → use links (``wafa.api.links``)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI and ReDoc at /api/docs and /api/redoc, with assets from fastapi-offline."""
    app.mount(
        "/api/docs-assets",
        StaticFiles(packages=[("fastapi_offline", "static")]),
        name="api-docs-assets",
    )

    @app.get("/api/docs", include_in_schema=False, dependencies=[web_auth.public("the API docs")])
    def swagger() -> HTMLResponse:
        return _local_only(
            get_swagger_ui_html(
                openapi_url="/api/v1/openapi.json",
                title="Wafa API",
                swagger_js_url="/api/docs-assets/swagger-ui-bundle.js",
                swagger_css_url="/api/docs-assets/swagger-ui.css",
                swagger_favicon_url="/api/docs-assets/favicon.png",
                # No badge from the public validator: the spec stays on this server.
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get("/api/redoc", include_in_schema=False, dependencies=[web_auth.public("the API docs")])
    def redoc() -> HTMLResponse:
        return _local_only(
            get_redoc_html(
                openapi_url="/api/v1/openapi.json",
                title="Wafa API",
                redoc_js_url="/api/docs-assets/redoc.standalone.js",
                redoc_favicon_url="/api/docs-assets/favicon.png",
                with_google_fonts=False,
            )
        )


def _mount_dashboard(app: FastAPI, settings: Settings, pages: list[Pages]) -> None:
    """Sessions, static files (served by Wafa: the dashboard works on a shop's offline
    network), error pages, then every domain's pages, navigation and profile panels."""
    app.add_middleware(
        SessionMiddleware,
        secret_key=app.state.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age,
        same_site="lax",
        # Secure in production (or WAFA_COOKIE_SECURE); a shop's local network may lack TLS.
        https_only=settings.secure_cookies,
    )
    app.state.templates = Templates(settings)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    web_errors.install(app)
    app.state.nav = Navigation(item for page in pages for item in page.nav)
    panels: list[CustomerPanel] = [panel for page in pages for panel in page.panels]
    app.state.profile_panels = tuple(panels)
    app.state.overview_notices = tuple(notice for page in pages for notice in page.notices)
    for page in pages:
        if not page.first:  # already included, before the API
            for router in page.routers:
                app.include_router(router)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for ``settings`` (tests pass their own)."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Wafa API",
        version=__version__,
        description=(
            "Customers, orders, loyalty and retention analytics. Authenticate with "
            "`Authorization: Bearer <key>` (create one with `wafa apikey create`). "
            "Errors are RFC 9457 problem+json. Money is integer minor units."
        ),
        docs_url=None,  # served below from local assets: no CDN on a shop's offline network
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        lifespan=thread_limit(),
    )
    app.state.settings = settings
    app.state.write_sessions = sessionmaker(
        bind=get_engine(settings, write=True), expire_on_commit=False
    )
    app.state.read_sessions = sessionmaker(
        bind=get_engine(settings, write=False), expire_on_commit=False
    )
    app.state.secret_key = resolve_secret_key(
        settings, app.state.read_sessions, app.state.write_sessions
    )
    # The owner's Settings page (wafa.auth.business): stored values, under the environment,
    # reloaded when another process saves new ones (LiveSettings, below).
    app.state.base_settings = settings
    settings, app.state.logo_version, app.state.settings_version = live_settings.load(
        settings, app.state.read_sessions
    )
    app.state.settings = settings
    app.state.people_hooks = domains.people_hooks()
    api_errors.install(app)
    pages = dashboard_pages()
    for page in pages:
        if page.first:
            for router in page.routers:
                app.include_router(router)
    app.include_router(api_router())
    _link_operations(app)
    _mount_docs(app)
    _mount_dashboard(app, settings, pages)
    # The webhook intake reads the settings' version with its connection (one statement).
    app.state.settings_for = partial(live_settings.settings_for, app.state)
    # So does the portal's home page, with its session check (wafa.portal.web.home).
    app.add_middleware(
        live_settings.LiveSettings,
        checked_by_route=(f"{INTAKE_PREFIX}/",),
        checked_paths=frozenset({portal_home.PATH}),
    )
    # The kept portal home page, before anything else reads the request (one thread hop).
    app.state.portal_fast_path = True
    app.add_middleware(portal_home.KeptHome, staff_cookie=SESSION_COOKIE)
    app.add_middleware(InFlightLimit)  # outermost: turned away before anything is read
    return app
