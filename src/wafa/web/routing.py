"""``WebRoute``: the route class of every dashboard router.

It is ``AutoCommitRoute`` (the request's transaction is committed before the
response leaves) plus a CSRF check on every unsafe method, done before the
endpoint runs, so no dashboard form or JavaScript call can forget it. Forms send the
token in the ``csrf_token`` field (``{{ csrf_input() }}``); JavaScript sends it in
the ``X-CSRF-Token`` header (``wafa.fetch`` in ``static/wafa.js`` does).

``wafa.web.app.mount`` refuses a dashboard router whose routes use another class.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response

from wafa.api.routing import AutoCommitRoute
from wafa.web.security import CSRF_FIELD, CSRF_HEADER, check_csrf_value

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def verify_csrf(request: Request) -> None:
    """Refuse an unsafe request whose CSRF token (header or form field) is missing or wrong."""
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(FORM_TYPES):
        value = (await request.form()).get(CSRF_FIELD)  # cached: the endpoint reads it again
        token = value if isinstance(value, str) else None
    check_csrf_value(request, token)


class WebRoute(AutoCommitRoute):
    """Commit-before-response and CSRF on POST/PUT/PATCH/DELETE."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            if request.method not in SAFE_METHODS:
                await verify_csrf(request)
            return await handler(request)

        return route
