"""Request dependencies: settings, sessions (write and read), the authenticated principal."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from wafa.auth import service as auth
from wafa.auth.models import ROLE_RANK, Role, Scope
from wafa.core.errors import Unauthorized
from wafa.core.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _session(request: Request, *, write: bool) -> Iterator[Session]:
    factory = request.app.state.write_sessions if write else request.app.state.read_sessions
    session: Session = factory()
    request.state.session = session
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        # The route class commits before the response goes out; whatever is left
        # uncommitted here belongs to a failed request.
        if session.in_transaction():
            session.rollback()
        session.close()


def get_session(request: Request) -> Iterator[Session]:
    """A write session owned by the request; committed by ``AutoCommitRoute``."""
    yield from _session(request, write=True)


def get_read_session(request: Request) -> Iterator[Session]:
    """A read session (on SQLite: no write lock is taken)."""
    yield from _session(request, write=False)


DbSession = Annotated[Session, Depends(get_session)]
ReadSession = Annotated[Session, Depends(get_read_session)]
AppSettings = Annotated[Settings, Depends(get_settings)]


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key or a logged-in staff user."""

    kind: str
    id: uuid.UUID
    name: str
    scopes: frozenset[str]
    role: str | None = None

    @property
    def label(self) -> str:
        """How audit trails name this principal."""
        return f"{self.kind}:{self.name}"


ROLE_SCOPES = {
    Role.cashier: frozenset({Scope.read, Scope.write}),
    Role.manager: frozenset({Scope.read, Scope.write, Scope.admin}),
    Role.owner: frozenset({Scope.read, Scope.write, Scope.admin}),
}


def _principal(request: Request) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization")
    factory = request.app.state.read_sessions
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <API key>'")
        with factory() as session:
            key = auth.authenticate_api_key(session, token.strip())
            principal = Principal("api_key", key.id, key.name, frozenset(key.scopes))
    else:
        # The dashboard's own pages (the POS screen) call the API with their session cookie.
        user_id = request.session.get("user_id") if "session" in request.scope else None
        if not user_id:
            raise Unauthorized("missing API key: send 'Authorization: Bearer <API key>'")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            from wafa.web.security import check_csrf_header

            check_csrf_header(request)
        with factory() as session:
            user = auth.get_user(session, uuid.UUID(user_id))
            if not user.active:
                raise Unauthorized("this staff account is disabled")
            principal = Principal(
                "staff", user.id, user.email, ROLE_SCOPES[Role(user.role)], user.role
            )
    request.state.principal = principal
    return principal


def require(scope: Scope) -> object:
    """A dependency that authenticates the caller and checks ``scope``."""

    def check(request: Request) -> Principal:
        principal = _principal(request)
        if scope not in principal.scopes:
            raise auth.InsufficientScope(
                f"this key lacks the {scope.value!r} scope",
                required=scope.value,
                granted=sorted(principal.scopes),
            )
        return principal

    return Depends(check)


def staff_at_least(principal: Principal, role: Role) -> bool:
    """Whether a staff principal holds ``role`` or higher (API keys: never)."""
    return principal.role is not None and ROLE_RANK[Role(principal.role)] >= ROLE_RANK[role]


Reader = Annotated[Principal, require(Scope.read)]
Writer = Annotated[Principal, require(Scope.write)]
Admin = Annotated[Principal, require(Scope.admin)]


async def _raw_body(request: Request) -> bytes:
    return await request.body()


def _idempotent(
    request: Request,
    session: DbSession,
    principal: Writer,
    body: Annotated[bytes, Depends(_raw_body)],
) -> None:
    from wafa.api.routing import use_idempotency_key

    use_idempotency_key(request, session, f"{principal.kind}:{principal.id}", body)


Idempotent = Depends(_idempotent)
"""Add to a POST route's dependencies to honour ``Idempotency-Key``."""
