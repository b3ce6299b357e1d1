"""The route class that owns each request's transaction, and ``Idempotency-Key`` replays.

``AutoCommitRoute`` commits the request's session after the endpoint returns and
before the response leaves (polar's ``AutoCommitAPIRoute``): a commit that fails is
an error response, never a 2xx. When a POST carries ``Idempotency-Key``, the key is
claimed in the same transaction as the work (``INSERT … ON CONFLICT DO NOTHING`` on
``(key, principal)``), and the response is stored with it; a replay — sequential or
concurrent, which waits on the key's unique index — gets the stored response back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from typing import Any, cast

import anyio
import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.types import Message

from wafa.auth.idempotency import ERASED
from wafa.auth.models import IdempotencyRecord
from wafa.core.db import API_THREADS, insert_ignoring_conflicts, is_bad_value, is_busy
from wafa.core.errors import Busy, Conflict, Invalid, TooLarge, WafaError

IDEMPOTENCY_HEADER = "idempotency-key"
#: Seconds a request may wait for a request slot before it is answered 503.
ADMISSION_TIMEOUT = 5.0
#: Body limits (bytes): a route takes ``max_body_size=`` to differ. JSON and form bodies
#: are small; a shop's webhook or a bounce report (a whole email) may be larger; a file
#: upload (``multipart/form-data`` with a CSV) larger still.
JSON_LIMIT = 1024 * 1024
MESSAGE_LIMIT = 8 * 1024 * 1024
UPLOAD_LIMIT = 64 * 1024 * 1024


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


async def _finish(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a transaction's last step (store the answer, commit, roll back) on a thread that
    does not wait for one of the request threads.

    The request threads (``API_THREADS``) may all be taken by requests waiting for the
    lock this transaction holds (SQLite's ``BEGIN IMMEDIATE``, a PostgreSQL row lock or
    pooled connection): if its commit queued behind them, every one would wait out its
    timeout. FastAPI runs a dependency's exit the same way, for the same reason.
    """
    return await anyio.to_thread.run_sync(lambda: func(*args, **kwargs), limiter=CapacityLimiter(1))


def request_slots(state: Any) -> anyio.Semaphore:
    """The process's ``API_THREADS`` request slots (made on first use), on the app's state."""
    slots: anyio.Semaphore | None = getattr(state, "request_slots", None)
    if slots is None:
        slots = state.request_slots = anyio.Semaphore(API_THREADS)
    return slots


async def take_slot(state: Any) -> bool:
    """Wait up to ``ADMISSION_TIMEOUT`` seconds for one of the process's request slots
    (:func:`request_slots`); ``False`` when none came free. The caller releases it."""
    slots = request_slots(state)
    with anyio.move_on_after(ADMISSION_TIMEOUT) as waited:
        await slots.acquire()
    return not waited.cancelled_caught


@asynccontextmanager
async def _admitted(request: Request) -> AsyncIterator[None]:
    """Hold one of the process's ``API_THREADS`` request slots for the whole request.

    A request hops to a thread several times (its dependencies, the endpoint, the response's
    validation, the commit). Admitting at most ``API_THREADS`` requests, each making one hop
    at a time, into a thread pool larger than that (``wafa.api.overload.thread_limit``)
    means a hop never waits for a thread that a request blocked on its lock holds. A
    request that waits ``ADMISSION_TIMEOUT`` seconds for a slot is answered 503 with
    ``Retry-After``; one already admitted (a nested route) is not admitted twice.
    """
    if getattr(request.state, "admitted", False):
        yield
        return
    if not await take_slot(request.app.state):
        raise Busy("the server is busy; retry in a moment", retry_after=1)
    request.state.admitted = True
    try:
        yield
    finally:
        request_slots(request.app.state).release()


def _busy(exc: BaseException) -> Busy:
    return Busy("the database is busy; retry in a moment", retry_after=1)


def _expected(request: Request, exc: Exception) -> Exception:
    """The 4xx/503 a database or body failure stands for, or ``exc`` (a real fault)."""
    if is_busy(exc):
        return _busy(exc)
    too_large = body_error(request, exc)
    if too_large is not exc:
        return too_large
    if isinstance(exc, ValidationError):
        # A schema built inside the work (a service composing another domain's input)
        # refused a value that came from the request: the request's fault, not ours.
        errors = [(("body", *err["loc"]), str(err["msg"])) for err in exc.errors()]
        where = ".".join(str(p) for p in errors[0][0]) if errors else "body"
        return Invalid(f"{where}: {errors[0][1] if errors else 'invalid'}", errors=errors)
    if is_bad_value(exc):
        return Invalid("a value is out of the range the database can store")
    if isinstance(exc, IntegrityError):
        return Conflict("this conflicts with a record stored at the same moment; retry")
    return exc


def limit_body(request: Request, limit: int) -> None:
    """Refuse a body announced larger than ``limit`` (413, nothing read); cut one sent
    without a length off once it passes ``limit``. Done once per request."""
    if getattr(request.state, "body_limit", None) is not None:
        return
    request.state.body_limit = limit
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise TooLarge(
            f"the body is {int(length)} bytes; this route takes at most {limit}", limit=limit
        )
    receive = request._receive
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                request.state.body_too_large = True
                raise TooLarge(f"the body passed {limit} bytes, this route's limit", limit=limit)
        return message

    request._receive = limited


def body_error(request: Request, exc: Exception) -> Exception:
    """The 413 for an error raised while a body over the limit was read (FastAPI reports
    any failure to read a body as a 400), else ``exc`` itself."""
    if getattr(request.state, "body_too_large", False) and not isinstance(exc, TooLarge):
        limit = request.state.body_limit
        return TooLarge(f"the body passed {limit} bytes, this route's limit", limit=limit)
    return exc


NUL_MESSAGE = "must not contain NUL characters"


def _nul_paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, str):
        if "\x00" in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in str(key):
                yield (*path, str(key))
            yield from _nul_paths(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, (*path, index))


async def refuse_nul_characters(request: Request) -> None:
    """Refuse a NUL character in a path, query, JSON or form value (422 naming each field).

    No text column can hold one on PostgreSQL (it ends the statement with an error), none
    has a use for one on SQLite, and a search for one would fail the same way.
    """
    errors: list[tuple[tuple[str | int, ...], str]] = []
    for name, value in request.path_params.items():
        if "\x00" in str(value):
            errors.append((("path", name), NUL_MESSAGE))
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            errors.append((("query", name), NUL_MESSAGE))
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json" or kind.endswith("+json"):
            body = await request.body()
            if b"\\u0000" in body:
                with contextlib.suppress(ValueError):
                    found = json.loads(body)
                    errors += [(("body", *path), NUL_MESSAGE) for path in _nul_paths(found)]
        elif kind == "application/x-www-form-urlencoded":
            # The form, not the raw body: the dashboard's CSRF check has already parsed it
            # (which consumes the stream), and Starlette keeps the parsed form for the route.
            form = await request.form()
            for name, value in form.multi_items():
                if "\x00" in name or (isinstance(value, str) and "\x00" in value):
                    errors.append((("body", name), NUL_MESSAGE))
    if errors:
        raise Invalid(f"{'.'.join(str(p) for p in errors[0][0])}: {NUL_MESSAGE}", errors=errors)


def _gatekeeper(dependant: Dependant) -> Callable[[Request], object] | None:
    """The route's permission check (``wafa.api.deps.permitted``), if it has one."""
    for dep in dependant.dependencies:
        call = dep.call
        if call is not None and getattr(call, "wafa_permission", None) is not None:
            return cast(Callable[[Request], object], call)
        found = _gatekeeper(dep)
        if found is not None:
            return found
    return None


class AutoCommitRoute(APIRoute):
    """Commit the request's session before the response is sent; roll back on any error.

    A database that is saturated (a lock or a connection not had in time) answers 503 with
    ``Retry-After`` (``wafa.core.errors.Busy``), never a 500 after a long wait.

    Before the body is read, a body announced larger than the route's ``max_body_size``
    (``JSON_LIMIT`` unless the route says otherwise) is refused with 413, and the caller is
    authenticated and checked against the route's permission (401/403): an anonymous
    300 MB POST costs nothing. A body sent without a length is cut off at the limit.
    """

    default_max_body_size = JSON_LIMIT
    #: Run the permission dependency (``check(request)``) before the body is read.
    check_before_body = True

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # ``max_body_size=`` as FastAPI spells it, enforced here (FastAPI's own answers 413
        # in plain text, overriding the problem+json).
        self.body_limit: int = kwargs.pop("max_body_size", None) or self.default_max_body_size
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        gatekeeper = _gatekeeper(self.dependant) if self.check_before_body else None

        async def route(request: Request) -> Response:
            limit_body(request, self.body_limit)
            async with _admitted(request):
                if gatekeeper is not None:
                    try:
                        await anyio.to_thread.run_sync(gatekeeper, request)
                    except Exception as exc:
                        if is_busy(exc):
                            raise _busy(exc) from exc
                        raise
                await refuse_nul_characters(request)
                return await _handle(request)

        async def _handle(request: Request) -> Response:
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
            except Exception as exc:
                answer = _expected(request, exc)
                if answer is not exc:
                    raise answer from exc
                raise
            session: Session | None = getattr(request.state, "session", None)
            if session is not None and session.is_active:
                claim: tuple[str, str] | None = getattr(request.state, "idempotency", None)
                try:
                    if claim is not None and 200 <= response.status_code < 300:
                        await _finish(
                            _store_response,
                            session,
                            key=claim[0],
                            principal=claim[1],
                            status_code=response.status_code,
                            body=bytes(response.body),
                        )
                    await _finish(session.commit)
                except WafaError:
                    raise
                except Exception as exc:
                    await _finish(session.rollback)
                    answer = _expected(request, exc)
                    if answer is not exc:
                        raise answer from exc
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
