"""The route class that owns each request's transaction, and ``Idempotency-Key`` replays.

``AutoCommitRoute`` commits the request's session after the endpoint returns and
before the response leaves (polar's ``AutoCommitAPIRoute``): a commit that fails is
an error response, never a 2xx. When a POST carries ``Idempotency-Key``, the key is
claimed in the same transaction as the work (``INSERT … ON CONFLICT DO NOTHING`` on
``(key, principal)``), and the response is stored with it; a replay — sequential or
concurrent, which waits on the key's unique index — gets the stored response back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wafa.auth.idempotency import ERASED
from wafa.auth.models import IdempotencyRecord
from wafa.core.db import insert_ignoring_conflicts
from wafa.core.errors import Conflict, Invalid, WafaError

IDEMPOTENCY_HEADER = "idempotency-key"


class IdempotentReplay(Exception):
    """Raised inside a request to answer with a stored response."""

    def __init__(self, status_code: int, body: str) -> None:
        super().__init__("replay")
        self.status_code = status_code
        self.body = body


def claim_idempotency_key(
    session: Session, *, key: str, principal: str, method_path: str, body: bytes
) -> None:
    """Claim ``key`` for this request, or raise ``IdempotentReplay`` with the first answer."""
    if not 1 <= len(key) <= 255:
        raise Invalid.field(("header", "Idempotency-Key"), "must be 1 to 255 characters")
    digest = hashlib.sha256(method_path.encode() + b"\n" + body).hexdigest()
    session.execute(
        insert_ignoring_conflicts(session, IdempotencyRecord, index_elements=["key", "principal"]),
        [{"key": key, "principal": principal, "method_path": method_path, "request_hash": digest}],
    )
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.key == key, IdempotencyRecord.principal == principal
        )
    )
    if record is None:  # pragma: no cover - the row was just inserted or already there
        raise Conflict("could not claim the idempotency key; retry")
    if record.status_code is None:
        return  # ours (a row still being answered is invisible to other transactions)
    if record.request_hash not in (digest, ERASED):
        raise Invalid.field(
            ("header", "Idempotency-Key"),
            "this key was already used for a different request",
        )
    raise IdempotentReplay(record.status_code, record.response_body or "")


def _store_response(
    session: Session, *, key: str, principal: str, status_code: int, body: bytes
) -> None:
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.key == key, IdempotencyRecord.principal == principal)
        .values(status_code=status_code, response_body=body.decode())
        .execution_options(synchronize_session=False)
    )


class AutoCommitRoute(APIRoute):
    """Commit the request's session before the response is sent; roll back on any error."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except IdempotentReplay as replay:
                return Response(
                    content=replay.body,
                    status_code=replay.status_code,
                    media_type="application/json"
                    if replay.status_code < 400
                    else "application/problem+json",
                    headers={"Idempotent-Replayed": "true"},
                )
            session: Session | None = getattr(request.state, "session", None)
            if session is not None and session.is_active:
                claim: tuple[str, str] | None = getattr(request.state, "idempotency", None)
                if claim is not None and 200 <= response.status_code < 300:
                    await run_in_threadpool(
                        _store_response,
                        session,
                        key=claim[0],
                        principal=claim[1],
                        status_code=response.status_code,
                        body=bytes(response.body),
                    )
                try:
                    await run_in_threadpool(session.commit)
                except WafaError:
                    raise
                except Exception:
                    await run_in_threadpool(session.rollback)
                    raise
            return response

        return route


async def idempotency_body(request: Request) -> bytes:
    """The raw body, read once (FastAPI caches it for the endpoint)."""
    return await request.body()


def use_idempotency_key(request: Request, session: Session, principal: str, body: bytes) -> None:
    """If the request carries ``Idempotency-Key``, claim it (or replay the stored answer)."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if not key:
        return
    claim_idempotency_key(
        session,
        key=key,
        principal=principal,
        method_path=f"{request.method} {request.url.path}",
        body=body,
    )
    request.state.idempotency = (key, principal)
