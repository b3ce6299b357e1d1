"""Request dependencies: settings, sessions (write and read), the authenticated principal."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from wafa.auth import permissions
from wafa.auth import service as auth
from wafa.auth.permissions import Permission
from wafa.core.errors import Unauthorized
from wafa.core.settings import Settings
from wafa.core.time import utcnow


async def get_settings(request: Request) -> Settings:
    # async: a plain read of the app's state needs no hop to a worker thread (FastAPI runs
    # every sync dependency on one, which costs more than the read).
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
    """Who is calling: an API key or a logged-in staff user, and what they may do."""

    kind: str
    id: uuid.UUID
    name: str
    permissions: frozenset[Permission]
    role: str | None = None
    adjust_limit: int | None = 0

    @property
    def label(self) -> str:
        """How audit trails name this principal."""
        return f"{self.kind}:{self.name}"

    def may(self, permission: Permission) -> bool:
        """Whether this caller holds ``permission``."""
        return permission in self.permissions


def _key_principal(request: Request, token: str) -> Principal:
    with request.app.state.read_sessions() as session:
        key, creator = auth.authenticate_api_key(session, token)
        granted = permissions.scope_permissions(key.scopes)
        creator_role = creator.role if creator is not None else None
        if creator is not None:
            granted &= permissions.role_permissions(creator.role)
        stale = key.last_used_at is None or key.last_used_at < utcnow() - timedelta(minutes=1)
        principal = Principal(
            "api_key",
            key.id,
            key.name,
            granted,
            adjust_limit=permissions.scope_adjust_limit(key.scopes, creator_role),
        )
    if stale:
        with request.app.state.write_sessions() as session, session.begin():
            auth.touch_api_key(session, key.id)
    return principal


def _staff_principal(request: Request) -> Principal:
    # The dashboard's own pages (the POS screen) call the API with their session cookie:
    # the staff user's role decides, exactly as on the pages.
    from wafa.web.auth import load_user

    user = load_user(request)
    if user is None:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <API key>'")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        from wafa.web.security import check_csrf_header

        check_csrf_header(request)
    return Principal(
        "staff",
        user.id,
        user.email,
        permissions.role_permissions(user.role),
        user.role,
        permissions.role_adjust_limit(user.role),
    )


def _principal(request: Request) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <API key>'")
        principal = _key_principal(request, token.strip())
    else:
        principal = _staff_principal(request)
    request.state.principal = principal
    return principal


def permitted(permission: Permission) -> Any:
    """A dependency: the authenticated caller, refused unless they hold ``permission``.

    Every API route declares exactly one (``wafa.auth.permissions`` is the table).
    """

    def check(request: Request) -> Principal:
        principal = _principal(request)
        if principal.role is None and permission not in principal.permissions:
            raise auth.InsufficientScope(
                f"this API key's scopes do not allow this ({permission.value}: "
                f"{permissions.MEANING[permission]})",
                required=permission.value,
            )
        permissions.check(principal.permissions, permission, who=f"the {principal.role} role")
        return principal

    check.wafa_permission = permission  # type: ignore[attr-defined]
    return Depends(check)


def public(reason: str) -> Any:
    """Declares a route open to everyone (the login page, a signed customer link, a signed
    webhook); ``reason`` says why. The role matrix test refuses routes that declare neither
    this nor a permission. A route class whose every route is open says so instead with a
    ``wafa_public = "why"`` class attribute (the customer portal's ``PortalRoute``)."""

    async def open_to_all() -> None:  # async: nothing to run on a worker thread
        return None

    open_to_all.wafa_permission = None  # type: ignore[attr-defined]
    open_to_all.wafa_public = reason  # type: ignore[attr-defined]
    return Depends(open_to_all)


Reader = Annotated[Principal, permitted(Permission.view)]
"""Looks things up (customers, orders, loyalty status): every role, every scope."""
Writer = Annotated[Principal, permitted(Permission.serve)]
"""Serves at the counter (sales, orders, enrolment, redemptions, customer details)."""
# One alias per permission; which roles and scopes hold each is ``wafa.auth.permissions``.
MayViewReports = Annotated[Principal, permitted(Permission.view_reports)]
MayAdjustPoints = Annotated[Principal, permitted(Permission.adjust_points)]
MayCreateCoupons = Annotated[Principal, permitted(Permission.create_coupons)]
MayEditRewards = Annotated[Principal, permitted(Permission.edit_rewards)]
MayEditProgram = Annotated[Principal, permitted(Permission.edit_program)]
MayEditCatalogue = Annotated[Principal, permitted(Permission.edit_catalogue)]
MayReviewReferrals = Annotated[Principal, permitted(Permission.review_referrals)]
MayMerge = Annotated[Principal, permitted(Permission.merge)]
MayRefund = Annotated[Principal, permitted(Permission.refund)]
MayMessage = Annotated[Principal, permitted(Permission.message)]
MaySuppress = Annotated[Principal, permitted(Permission.suppress)]
MayExport = Annotated[Principal, permitted(Permission.export)]
MayErase = Annotated[Principal, permitted(Permission.erase)]
MayManageKeys = Annotated[Principal, permitted(Permission.manage_keys)]
MayIntegrations = Annotated[Principal, permitted(Permission.integrations)]
MayManageStaff = Annotated[Principal, permitted(Permission.manage_staff)]
MaySettings = Annotated[Principal, permitted(Permission.settings)]


async def _raw_body(request: Request) -> bytes:
    return await request.body()


def _idempotent(
    request: Request,
    session: DbSession,
    body: Annotated[bytes, Depends(_raw_body)],
) -> None:
    # The route's own permission dependency has authenticated the caller already.
    principal = _principal(request)
    from wafa.api.routing import use_idempotency_key

    use_idempotency_key(request, session, f"{principal.kind}:{principal.id}", body)


Idempotent = Depends(_idempotent)
"""Add to a POST route's dependencies to honour ``Idempotency-Key``."""
