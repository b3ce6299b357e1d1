"""``create_app(settings)``: the API and the dashboard in one ASGI application."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import sessionmaker

from wafa import __version__
from wafa.api import errors
from wafa.api.routing import AutoCommitRoute
from wafa.auth import service as auth
from wafa.core.db import get_engine
from wafa.core.modules import import_optional
from wafa.core.settings import Settings, get_settings

log = logging.getLogger("wafa")

# Each domain's ``api.py`` exposes ``router``; they are mounted under /api/v1 in order.
API_MODULES = (
    "wafa.customers.api",
    "wafa.orders.api",
    "wafa.auth.api",
    "wafa.loyalty.api",
    "wafa.analytics.api",
    "wafa.messaging.api",
    "wafa.messaging.segments.api",
)


def api_router() -> APIRouter:
    """The /api/v1 router with every installed domain's routes."""
    router = APIRouter(prefix="/api/v1", route_class=AutoCommitRoute)
    for name in API_MODULES:
        module = import_optional(name)
        if module is None:
            continue  # a domain that is not built yet
        for route in module.router.routes:
            # A route outside AutoCommitRoute would answer 2xx without committing.
            if not isinstance(route, AutoCommitRoute):
                raise TypeError(f"{name}: route {route} must use route_class=AutoCommitRoute")
        router.include_router(module.router)
    return router


def resolve_secret_key(settings: Settings, factory: sessionmaker) -> str:  # type: ignore[type-arg]
    """The configured secret key, or the one stored by ``wafa init`` (created if absent)."""
    if settings.secret_key:
        return settings.secret_key
    with factory() as session, session.begin():
        return auth.ensure_secret_key(session)


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI and ReDoc at /api/docs and /api/redoc, with assets from fastapi-offline."""
    app.mount(
        "/api/docs-assets",
        StaticFiles(packages=[("fastapi_offline", "static")]),
        name="api-docs-assets",
    )

    @app.get("/api/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/v1/openapi.json",
            title="Wafa API",
            swagger_js_url="/api/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/api/docs-assets/swagger-ui.css",
            swagger_favicon_url="/api/docs-assets/favicon.png",
        )

    @app.get("/api/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/api/v1/openapi.json",
            title="Wafa API",
            redoc_js_url="/api/docs-assets/redoc.standalone.js",
            redoc_favicon_url="/api/docs-assets/favicon.png",
            with_google_fonts=False,
        )


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
    )
    app.state.settings = settings
    app.state.write_sessions = sessionmaker(
        bind=get_engine(settings, write=True), expire_on_commit=False
    )
    app.state.read_sessions = sessionmaker(
        bind=get_engine(settings, write=False), expire_on_commit=False
    )
    app.state.secret_key = resolve_secret_key(settings, app.state.write_sessions)
    errors.install(app)
    app.include_router(api_router())
    _mount_docs(app)
    web = import_optional("wafa.web.app")
    if web is not None:
        web.mount(app)
    return app
