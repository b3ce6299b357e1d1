"""``create_app(settings)``: the API and the dashboard in one ASGI application."""

from __future__ import annotations

import importlib
import logging

from fastapi import APIRouter, FastAPI
from sqlalchemy.orm import sessionmaker

from wafa import __version__
from wafa.api import errors
from wafa.api.routing import AutoCommitRoute
from wafa.auth import service as auth
from wafa.core.db import get_engine
from wafa.core.settings import Settings, get_settings

log = logging.getLogger("wafa")

# Each domain's ``api.py`` exposes ``router``; they are mounted under /api/v1 in order.
API_MODULES = (
    "wafa.customers.api",
    "wafa.orders.api",
    "wafa.auth.api",
    "wafa.loyalty.api",
    "wafa.analytics.api",
)


def api_router() -> APIRouter:
    """The /api/v1 router with every installed domain's routes."""
    router = APIRouter(prefix="/api/v1", route_class=AutoCommitRoute)
    for name in API_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # a domain that is not built yet
            raise
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
        docs_url="/api/docs",
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
    try:
        web = importlib.import_module("wafa.web.app")
    except ModuleNotFoundError as exc:
        if exc.name != "wafa.web.app":
            raise
    else:
        web.mount(app)
    return app
