"""Every role and every key scope against every dashboard and API route.

The routes are enumerated from the application itself, so a route added without a
declared permission (``permitted(...)`` or ``public(...)``) fails here. Each route is
called as a cashier, a manager and an owner (session cookie, on the page and through
the API alike), with a ``read``, a ``write`` and an ``admin`` key, and anonymously; the
answer must be what ``wafa.auth.permissions`` says: refused with 403 exactly when the
role or key lacks the route's permission.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.web.helpers import csrf_token, logged_in
from wafa.auth import permissions
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.auth.permissions import Permission

PUBLIC = "public"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Mounted files and the schema, which are not endpoints of ours.
NOT_ENDPOINTS = {"/static", "/api/docs-assets", "/api/v1/openapi.json"}


def iter_routes(app: FastAPI) -> Iterator[Any]:
    """Every route of the application, included routers opened up."""

    def walk(routes: list[Any]) -> Iterator[Any]:
        for route in routes:
            if hasattr(route, "effective_candidates"):
                yield from walk(route.effective_candidates())
            else:
                yield route

    yield from walk(list(app.router.routes))


def declared(route: Any) -> Permission | str | None:
    """The permission a route declares (``PUBLIC`` for an open one), or None."""
    found: list[Permission | str] = []

    def walk(dependant: Any) -> None:
        for sub in dependant.dependencies:
            call = sub.call
            if getattr(call, "wafa_public", None):
                found.append(PUBLIC)
            elif isinstance(getattr(call, "wafa_permission", None), Permission):
                found.append(call.wafa_permission)
            walk(sub)

    walk(route.dependant)
    # A route class may declare all its routes public (the customer portal's PortalRoute).
    if getattr(getattr(route, "original_route", route), "wafa_public", None):
        found.append(PUBLIC)
    distinct = set(found)
    assert len(distinct) <= 1, f"{route.path} declares more than one permission: {distinct}"
    return found[0] if found else None


def endpoints(app: FastAPI) -> list[tuple[str, str, Permission | str | None]]:
    out: list[tuple[str, str, Permission | str | None]] = []
    for route in iter_routes(app):
        path = getattr(route, "path", None)
        if path in NOT_ENDPOINTS or not isinstance(getattr(route, "dependant", None), object):
            continue
        if not hasattr(route, "dependant") or not getattr(route, "methods", None):
            assert path in NOT_ENDPOINTS, f"unexpected kind of route at {path}"
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            out.append((method, str(path), declared(route)))
    return out


def concrete(path: str) -> str:
    """The path with each parameter filled (ids that do not exist)."""
    return re.sub(
        r"\{(\w+)\}",
        lambda m: str(uuid.uuid4()) if m.group(1).endswith("id") else "x",
        path,
    )


def is_api(path: str) -> bool:
    return path.startswith("/api/")


class TestEveryRouteDeclaresAPermission:
    def test_no_route_without_a_permission(self, app: FastAPI) -> None:
        found = endpoints(app)
        assert len(found) > 150
        missing = [f"{m} {p}" for m, p, perm in found if perm is None]
        assert not missing, (
            "routes without a declared permission (add permitted(Permission.x) from "
            "wafa.web.auth / wafa.api.deps, or public('why'), or wafa_public on the route "
            f"class): {missing}"
        )

    def test_app_routes_are_apiroutes_or_known_mounts(self, app: FastAPI) -> None:
        for route in iter_routes(app):
            assert (
                isinstance(route, APIRoute)
                or hasattr(route, "dependant")
                or (getattr(route, "path", None) in NOT_ENDPOINTS)
            ), route


def call(client: TestClient, method: str, path: str, *, csrf: str | None) -> Any:
    url = concrete(path)
    headers = {}
    if method in UNSAFE and csrf is not None:
        headers["X-CSRF-Token"] = csrf
    if method in UNSAFE and not is_api(path):
        data = {"csrf_token": csrf} if csrf else {}
        return client.request(method, url, data=data, headers=headers, follow_redirects=False)
    if method in UNSAFE:
        return client.request(method, url, json={}, headers=headers, follow_redirects=False)
    return client.request(method, url, headers=headers, follow_redirects=False)


def refused(response: Any) -> bool:
    if response.status_code != 403:
        return False
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        kind = response.json()["type"]
        return bool(kind.endswith(("/permission-denied", "/insufficient-scope")))
    return True


def check_matrix(
    client: TestClient,
    routes: list[tuple[str, str, Permission | str | None]],
    granted: frozenset[Permission],
    who: str,
    *,
    csrf: str | None,
    api_only: bool = False,
) -> list[str]:
    wrong = []
    for method, path, perm in routes:
        if perm == PUBLIC or (api_only and not is_api(path)):
            continue
        assert isinstance(perm, Permission)
        response = call(client, method, path, csrf=csrf)
        allowed = perm in granted
        if allowed and response.status_code in (401, 403):
            wrong.append(f"{who}: {method} {path} ({perm}) refused {response.status_code}")
        if not allowed and not refused(response):
            wrong.append(f"{who}: {method} {path} ({perm}) answered {response.status_code}")
    return wrong


@pytest.fixture
def routes(app: FastAPI) -> list[tuple[str, str, Permission | str | None]]:
    return endpoints(app)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_exactly_its_permissions(
    app: FastAPI, session: Session, role: Role, routes: list[Any]
) -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        logged_in(client, session, role=role)
        token = csrf_token(client, "/customers")
        wrong = check_matrix(
            client, routes, permissions.ROLE_PERMISSIONS[role], role.value, csrf=token
        )
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("scopes", [["read"], ["write"], ["admin"], ["read", "write", "admin"]])
def test_each_key_scope_gets_exactly_its_permissions(
    app: FastAPI, session: Session, scopes: list[str], routes: list[Any]
) -> None:
    key, token = auth.create_api_key(session, name="matrix", scopes=scopes)
    session.flush()
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        granted = permissions.scope_permissions(key.scopes)
        wrong = check_matrix(
            client, routes, granted, ",".join(key.scopes), csrf=None, api_only=True
        )
    assert not wrong, "\n".join(wrong)


def test_anonymous_callers_are_sent_to_log_in(app: FastAPI, routes: list[Any]) -> None:
    wrong = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for method, path, perm in routes:
            if perm == PUBLIC:
                continue
            response = call(client, method, path, csrf=None)
            if is_api(path):
                ok = response.status_code == 401
            elif method in UNSAFE:
                # No session, no CSRF token: refused before anything runs.
                ok = response.status_code in (303, 401, 403)
            else:
                ok = response.status_code == 303 and response.headers["location"].startswith(
                    "/login"
                )
            if not ok:
                wrong.append(f"{method} {path} answered {response.status_code}")
    assert not wrong, "\n".join(wrong)
