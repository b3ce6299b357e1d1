"""``mount(app)``: the dashboard inside the API's FastAPI application.

``wafa.api.app.create_app`` calls ``mount`` after the API routes and error handlers
are in place. It adds the session cookie, the static files (served by Wafa itself:
the dashboard works on a shop's offline network), the dashboard's error pages, the
login pages and the overview, then each domain's ``web.py`` listed in
``WEB_MODULES``: a module that does not exist yet is skipped; any other import
error is raised.

A domain's ``web.py`` exposes ``router = APIRouter(route_class=WebRoute)`` and
registers its sidebar entries with ``wafa.web.nav.register_nav`` at import time.
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from wafa.core.settings import Settings
from wafa.web import auth, errors, home
from wafa.web.routing import WebRoute
from wafa.web.templating import STATIC_DIR, Templates

WEB_MODULES = (
    "wafa.customers.web",
    "wafa.orders.web",
    "wafa.loyalty.web",
    "wafa.analytics.web",
    "wafa.messaging.web",
    "wafa.messaging.segments.web",
)

SESSION_COOKIE = "wafa_session"


def web_routers() -> list[APIRouter]:
    """The dashboard's routers: login, overview, then every installed domain's pages."""
    routers = [auth.router, home.router]
    for name in WEB_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # a domain whose pages are not built yet
            raise
        routers.append(module.router)
    for router in routers:
        for route in router.routes:
            # Outside WebRoute a form would skip the CSRF check and the commit.
            if not isinstance(route, WebRoute):
                raise TypeError(f"dashboard route {route} must use route_class=WebRoute")
    return routers


def mount(app: FastAPI) -> None:
    """Add the dashboard to ``app`` (sessions, static files, pages, error pages)."""
    settings: Settings = app.state.settings
    app.add_middleware(
        SessionMiddleware,
        secret_key=app.state.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age,
        same_site="lax",
        https_only=False,  # shops run Wafa on a local network without TLS
    )
    app.state.templates = Templates(settings)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    errors.install(app)
    for router in web_routers():
        app.include_router(router)
