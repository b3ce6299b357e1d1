"""Overload becomes a fast ``503`` with ``Retry-After``, never a queue without end.

``InFlightLimit`` counts the requests the process is handling; past ``limit`` a new one is
answered at once with 503 and ``Retry-After`` (problem+json), before its body is read.
Below the limit, requests queue (without a thread) for one of the ``API_THREADS`` request
slots (``wafa.api.routing``), each holding at most one database connection.
``thread_limit`` sizes anyio's thread pool above the number of slots.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from wafa.core.db import API_THREADS

#: Requests handled at once by one process before new ones are turned away.
MAX_IN_FLIGHT = 256


class InFlightLimit:
    """ASGI middleware: at most ``limit`` HTTP requests in flight; the rest get 503."""

    def __init__(self, app: ASGIApp, *, limit: int = MAX_IN_FLIGHT, retry_after: int = 1) -> None:
        self.app = app
        self.limit = limit
        self.retry_after = retry_after
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await self._refuse(send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "type": "https://wafa.dev/problems/busy",
                "title": "Busy, retry shortly",
                "status": 503,
                "detail": "the server is handling as many requests as it can; retry shortly",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(self.retry_after).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def thread_limit(
    threads: int = API_THREADS + 16,
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A lifespan that sizes anyio's thread pool above the ``API_THREADS`` request slots
    (``wafa.api.routing``), so a request's next hop to a thread never waits for one."""

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return lifespan
