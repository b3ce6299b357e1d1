"""Staff login, logout, the language switch, and the dependencies that guard pages.

Pages declare the one permission they need (``wafa.auth.permissions``, the same table
the API checks)::

    @router.get("/loyalty/rewards")
    def rewards(
        request: Request, session: ReadSession, user: Annotated[StaffUser, permitted(P.edit_rewards)]
    ) -> HTMLResponse: ...

``Staff`` is ``permitted(P.view)``: every logged-in staff user. A visitor who is not
logged in is sent to ``/login?next=...``; a user whose role lacks the permission gets a
403 page in their language.

The UI language of a request is: the language picked in the menu (kept in the
session), else the user's saved language, else ``settings.locale``.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, TimestampSigner

from wafa.api.deps import AppSettings, DbSession, public
from wafa.auth import permissions, throttle
from wafa.auth import service as auth
from wafa.auth.models import StaffUser
from wafa.auth.permissions import Permission
from wafa.core.errors import Forbidden, NotFound, Unauthorized
from wafa.core.time import utcnow
from wafa.web import i18n
from wafa.web.nav import home_for
from wafa.web.routing import WebRoute
from wafa.web.templating import render, safe_next

SESSION_USER = "user_id"
SESSION_LOCALE = "locale"
SESSION_VERSION = "sv"  # the user's session_version when they logged in
SESSION_STARTED = "iat"  # when they logged in (UNIX seconds): the absolute lifetime


class LoginRequired(Unauthorized):
    code = "login-required"


class RoleRequired(Forbidden):
    code = "role-required"


def _choose_language(request: Request, user: StaffUser | None) -> str:
    settings = request.app.state.settings
    return (
        i18n.normalize_language(request.session.get(SESSION_LOCALE))
        or (i18n.normalize_language(user.locale) if user is not None else None)
        or str(settings.locale)
    )


def _session_current(request: Request, user: StaffUser) -> bool:
    """Whether the cookie belongs to the user's current sessions and is within its lifetime.

    Logging out, a password change, disabling the user, a role change and
    ``wafa secret rotate`` raise ``session_version``: every older cookie stops here.
    """
    if request.session.get(SESSION_VERSION) != user.session_version:
        return False
    started = request.session.get(SESSION_STARTED)
    if not isinstance(started, int | float):
        return False
    lifetime: int = request.app.state.settings.session_lifetime
    return bool(utcnow().timestamp() - started <= lifetime)


def start_session(request: Request, user: StaffUser) -> None:
    """A fresh session for ``user`` (no fixation); the language picked before stays."""
    language = request.session.get(SESSION_LOCALE)
    request.session.clear()
    request.session[SESSION_USER] = str(user.id)
    request.session[SESSION_VERSION] = user.session_version
    request.session[SESSION_STARTED] = int(utcnow().timestamp())
    if language:
        request.session[SESSION_LOCALE] = language
    request.state.user = user


def load_user(request: Request) -> StaffUser | None:
    """The logged-in, active staff user of this request, or ``None``; sets the language."""
    cached: StaffUser | None = getattr(request.state, "user", None)
    if cached is not None:
        return cached
    raw = request.session.get(SESSION_USER) if "session" in request.scope else None
    user = None
    if raw:
        try:
            with request.app.state.read_sessions() as session:
                user = auth.get_user(session, uuid.UUID(str(raw)))
        except (NotFound, ValueError):
            user = None
        if user is None or not user.active or not _session_current(request, user):
            for key in (SESSION_USER, SESSION_VERSION, SESSION_STARTED):
                request.session.pop(key, None)
            user = None
    request.state.user = user
    request.state.language = _choose_language(request, user)
    return user


def current_user(request: Request) -> StaffUser:
    """Dependency: the logged-in staff user, or a redirect to the login page."""
    user = load_user(request)
    if user is None:
        raise LoginRequired("log in to open this page")
    return user


def may(user: StaffUser, permission: Permission) -> bool:
    """Whether ``user``'s role holds ``permission`` (for drawing buttons; routes check too)."""
    return permission in permissions.role_permissions(user.role)


def permitted(permission: Permission) -> Any:
    """Dependency factory: the logged-in user, refused unless their role holds ``permission``."""

    def check(user: Annotated[StaffUser, Depends(current_user)]) -> StaffUser:
        permissions.check(
            permissions.role_permissions(user.role), permission, who=f"the {user.role} role"
        )
        return user

    check.wafa_permission = permission  # type: ignore[attr-defined]
    return Depends(check)


Staff = Annotated[StaffUser, permitted(Permission.view)]
"""Any logged-in staff user (``Permission.view``)."""
Counter = Annotated[StaffUser, permitted(Permission.serve)]
"""Serving at the counter: every role (``Permission.serve``)."""
# One alias per permission; which roles hold each is ``wafa.auth.permissions``.
MayViewReports = Annotated[StaffUser, permitted(Permission.view_reports)]
MayAdjustPoints = Annotated[StaffUser, permitted(Permission.adjust_points)]
MayCreateCoupons = Annotated[StaffUser, permitted(Permission.create_coupons)]
MayEditRewards = Annotated[StaffUser, permitted(Permission.edit_rewards)]
MayEditProgram = Annotated[StaffUser, permitted(Permission.edit_program)]
MayEditCatalogue = Annotated[StaffUser, permitted(Permission.edit_catalogue)]
MayReviewReferrals = Annotated[StaffUser, permitted(Permission.review_referrals)]
MayMerge = Annotated[StaffUser, permitted(Permission.merge)]
MayRefund = Annotated[StaffUser, permitted(Permission.refund)]
MayMessage = Annotated[StaffUser, permitted(Permission.message)]
MaySuppress = Annotated[StaffUser, permitted(Permission.suppress)]
MayExport = Annotated[StaffUser, permitted(Permission.export)]
MayErase = Annotated[StaffUser, permitted(Permission.erase)]
MayManageKeys = Annotated[StaffUser, permitted(Permission.manage_keys)]
MayIntegrations = Annotated[StaffUser, permitted(Permission.integrations)]
MayManageStaff = Annotated[StaffUser, permitted(Permission.manage_staff)]
MaySettings = Annotated[StaffUser, permitted(Permission.settings)]
MayImport = Annotated[StaffUser, permitted(Permission.import_data)]


def staff_label(user: StaffUser) -> str:
    """How audit trails name a staff user (same form as the API's principal label)."""
    return f"staff:{user.email}"


def see_other(path: str) -> RedirectResponse:
    """A 303 redirect (the answer to a successful form post)."""
    return RedirectResponse(path, status_code=303)


# --------------------------------------------------------------------------- routes

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/login", response_class=HTMLResponse, dependencies=[public("the login page")])
def login_page(request: Request, next: str | None = None) -> Response:
    user = load_user(request)
    if user is not None:
        return see_other(safe_next(next, home_for(request, user)))
    return render(
        request,
        "auth/login.html",
        {"next": safe_next(next, ""), "email": "", "failed": False, "locked": None},
    )


DEVICE_COOKIE = "wafa_device"
DEVICE_MAX_AGE = 365 * 24 * 3600


def _device_signer(request: Request) -> TimestampSigner:
    return TimestampSigner(str(request.app.state.secret_key), salt="wafa.device")


def _device_tag(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]


def known_device(request: Request, email: str) -> bool:
    """Whether this browser logged in to ``email`` before (a signed cookie says so)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return False
    try:
        tags = _device_signer(request).unsign(raw, max_age=DEVICE_MAX_AGE).decode().split(".")
    except BadSignature:
        return False
    return _device_tag(email) in tags


def _remember_device(request: Request, response: Response, email: str) -> None:
    tags = [_device_tag(email)]
    raw = request.cookies.get(DEVICE_COOKIE)
    if raw:
        with contextlib.suppress(BadSignature):
            old = _device_signer(request).unsign(raw, max_age=DEVICE_MAX_AGE).decode()
            tags += [t for t in old.split(".") if t and t not in tags][:4]
    response.set_cookie(
        DEVICE_COOKIE,
        _device_signer(request).sign(".".join(tags)).decode(),
        max_age=DEVICE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.secure_cookies,
    )


def _login_page(
    request: Request, *, next: str, email: str, wait: int | None, status_code: int
) -> Response:
    load_user(request)  # the page's language
    locked = -(-wait // 60) if wait else None  # whole minutes, at least one
    response = render(
        request,
        "auth/login.html",
        {"next": safe_next(next, ""), "email": email, "failed": True, "locked": locked},
        status_code=status_code,
    )
    if wait:
        response.headers["Retry-After"] = str(wait)
    return response


@router.post("/login", response_class=HTMLResponse, dependencies=[public("logging in")])
def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Claim a try (throttle, committed at once), then check the password with nothing locked.

    Unknown emails are counted and answered exactly like known ones. From a browser that
    logged in to this account before, only the address is counted, so strangers guessing
    at the account do not slow its owner down.
    """
    keys = [
        (
            throttle.address_key(request.client.host if request.client else None),
            throttle.FREE_PER_ADDRESS,
        )
    ]
    if not known_device(request, email):
        keys.append((throttle.account_key(email), throttle.FREE_PER_ACCOUNT))
    with request.app.state.write_sessions() as session, session.begin():
        claim = throttle.claim(session, keys)
    if not claim.allowed:
        return _login_page(request, next=next, email=email, wait=claim.retry_after, status_code=429)
    try:
        with request.app.state.read_sessions() as session:
            user = auth.authenticate(session, email=email, password=password)
    except Unauthorized:
        return _login_page(request, next=next, email=email, wait=None, status_code=401)
    with request.app.state.write_sessions() as session, session.begin():
        throttle.forget(session, throttle.account_key(email))
        auth.record_login(session, user_id=user.id)
    start_session(request, user)
    response = see_other(safe_next(next, home_for(request, user)))
    _remember_device(request, response, email)
    return response


@router.post("/logout", dependencies=[public("logging out")])
def logout(request: Request, session: DbSession) -> Response:
    user = load_user(request)
    if user is not None:
        # Every copy of the cookie stops working (and the user's other sessions end too).
        auth.end_sessions(session, user_id=user.id)
    language = request.session.get(SESSION_LOCALE)
    request.session.clear()
    if language:
        request.session[SESSION_LOCALE] = language
    return see_other("/login")


@router.post("/locale", dependencies=[public("choosing the language, before or after logging in")])
def switch_language(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    locale: Annotated[str, Form(max_length=8)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    language = i18n.normalize_language(locale) or str(settings.locale)
    request.session[SESSION_LOCALE] = language
    user = load_user(request)
    if user is not None:
        auth.set_user_locale(session, user_id=user.id, locale=language)
    return see_other(safe_next(next))


__all__ = [
    "Counter",
    "LoginRequired",
    "MayAdjustPoints",
    "MayCreateCoupons",
    "MayEditCatalogue",
    "MayEditProgram",
    "MayEditRewards",
    "MayErase",
    "MayExport",
    "MayImport",
    "MayIntegrations",
    "MayManageKeys",
    "MayManageStaff",
    "MayMerge",
    "MayMessage",
    "MayRefund",
    "MayReviewReferrals",
    "MaySettings",
    "MaySuppress",
    "MayViewReports",
    "RoleRequired",
    "Staff",
    "current_user",
    "load_user",
    "may",
    "permitted",
    "public",
    "router",
    "see_other",
    "staff_label",
]
