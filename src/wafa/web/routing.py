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

from wafa.api.routing import AutoCommitRoute, body_error, limit_body
from wafa.web.security import CSRF_FIELD, CSRF_HEADER, check_csrf_value

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def verify_csrf(request: Request) -> None:
    """Refuse an unsafe request whose CSRF token (header or form field) is missing or wrong."""
    token = request.headers.get(CSRF_HEADER)
    kind = request.headers.get("content-type", "")
    if token is None and kind.startswith(FORM_TYPES):
        if kind.startswith(FORM_TYPES[0]):
            # Read (and keep) the raw body first: the form is parsed from it, and the NUL
            # check of ``AutoCommitRoute`` reads it again after this (a form parsed from
            # the stream leaves no body to read: "Stream consumed").
            await request.body()
        value = (await request.form()).get(CSRF_FIELD)  # cached: the endpoint reads it again
        token = value if isinstance(value, str) else None
    check_csrf_value(request, token)


class WebRoute(AutoCommitRoute):
    """Commit-before-response and CSRF on POST/PUT/PATCH/DELETE.

    Form bodies are limited like API bodies (``JSON_LIMIT``, 413 before reading); the
    login check is the pages' own dependency (a redirect, not a 401), run after the CSRF
    check, whose form read the limit bounds.
    """

    check_before_body = False

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            limit_body(request, self.body_limit)
            if request.method not in SAFE_METHODS:
                try:
                    await verify_csrf(request)
                except Exception as exc:
                    too_large = body_error(request, exc)
                    if too_large is not exc:
                        raise too_large from exc
                    raise
            return await handler(request)

        return route
