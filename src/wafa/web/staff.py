"""The owner's screens for who may use Wafa: staff logins and API keys.

``/staff`` lists the staff with their role and last login; the owner adds a login (a
password typed or made and shown once), changes a role, disables a login (every session
of that user ends at once, and the API keys they made stop) or enables it again, and
resets a password (a new one is made and shown once; the user's sessions end).

``/keys`` lists the API keys with their scopes and last use; the owner creates one (the
key is shown once, only its hash is kept) and revokes one. A key made here is tied to
the owner who made it: it stops if that owner is disabled or demoted.

The same actions on the command line: ``wafa user list|create|disable|enable|set-role|
set-password`` and ``wafa apikey create|list|revoke``.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wafa.api.deps import DbSession, ReadSession
from wafa.auth import service as auth
from wafa.auth.models import Role, Scope
from wafa.core.contacts import ContactError, normalize_email
from wafa.core.errors import Conflict
from wafa.web import forms
from wafa.web.auth import MayManageKeys, MayManageStaff, see_other
from wafa.web.forms import FormData, FormReader
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.pages import Pages
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

ROLES = [r.value for r in (Role.cashier, Role.manager, Role.owner)]
SCOPES = [s.value for s in Scope]

BAD_EMAIL = N_("Enter an email address such as name@example.com.")
SHORT_PASSWORD = N_("At least 10 characters.")  # auth.MIN_PASSWORD
LAST_OWNER = N_("The shop needs at least one active owner: make someone else owner first.")
EMAIL_TAKEN = N_("Someone on the staff already logs in with this email.")
NO_SCOPE = N_("Choose at least one scope.")


def new_password() -> str:
    """A password to hand over once (about 96 bits)."""
    return secrets.token_urlsafe(12)


# --------------------------------------------------------------------------- staff


def _staff_page(
    request: Request,
    session: Session,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "auth/staff.html",
        {
            "users": auth.list_users(session),
            "roles": ROLES,
            "values": values or {"role": Role.cashier.value},
            "errors": errors or {},
            "min_password": auth.MIN_PASSWORD,
        },
        status_code=status_code,
    )


def _shown_once(request: Request, *, user: Any, password: str, status_code: int) -> HTMLResponse:
    return render(
        request,
        "auth/password_once.html",
        {"member": user, "password": password},
        status_code=status_code,
    )


@router.get("/staff", response_class=HTMLResponse)
def staff_page(request: Request, session: ReadSession, user: MayManageStaff) -> HTMLResponse:
    return _staff_page(request, session)


@router.post("/staff", response_class=HTMLResponse)
def add_staff(
    request: Request, session: DbSession, user: MayManageStaff, form: FormData
) -> Response:
    def save() -> Response:
        reader = FormReader(form)
        email = reader.text("email", required=True, max_length=320)
        name = reader.text("name", max_length=200)
        role = reader.choice("role", ROLES)
        if role is None and "role" not in reader.errors:
            reader.error("role", forms.REQUIRED)
        password = reader.raw("password")
        if email:
            try:
                normalize_email(email, public=False)
            except ContactError:
                reader.error("email", BAD_EMAIL)
        if password and len(password) < auth.MIN_PASSWORD:
            reader.error("password", SHORT_PASSWORD)
        reader.check()
        made = password or new_password()
        member = auth.create_user(
            session, email=email or "", password=made, role=Role(role or ""), name=name
        )
        if password:
            flash(request, N_("%(email)s can log in now."), email=member.email)
            return see_other("/staff")
        return _shown_once(request, user=member, password=made, status_code=201)

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _staff_page(
            request, session, values=form, errors=errors, status_code=status
        ),
        refusals=(forms.Refusal(Conflict, EMAIL_TAKEN, field="email"),),
    )


@router.post("/staff/{user_id}/role")
def change_role(
    user_id: uuid.UUID, request: Request, session: DbSession, user: MayManageStaff, form: FormData
) -> Response:
    def save() -> Response:
        reader = FormReader(form)
        role = reader.choice("role", ROLES)
        if role is None and "role" not in reader.errors:
            reader.error("role", forms.REQUIRED)
        reader.check()
        member = auth.set_role(session, user_id=user_id, role=Role(role or ""))
        flash(request, N_("Role changed for %(email)s; they log in again."), email=member.email)
        return see_other("/staff")

    return forms.submit(
        request,
        session,
        save,
        redraw=forms.back_with_message(request, "/staff"),
        refusals=(forms.Refusal(Conflict, LAST_OWNER),),
    )


@router.post("/staff/{user_id}/active")
def change_active(
    user_id: uuid.UUID, request: Request, session: DbSession, user: MayManageStaff, form: FormData
) -> Response:
    active = FormReader(form).flag("active")

    def save() -> Response:
        member = auth.set_active(session, user_id=user_id, active=active)
        if active:
            flash(request, N_("%(email)s can log in again."), email=member.email)
        else:
            flash(
                request,
                N_("%(email)s is disabled: logged out everywhere, their API keys stopped."),
                email=member.email,
            )
        return see_other("/staff")

    return forms.submit(
        request,
        session,
        save,
        redraw=forms.back_with_message(request, "/staff"),
        refusals=(forms.Refusal(Conflict, LAST_OWNER),),
    )


@router.post("/staff/{user_id}/password", response_class=HTMLResponse)
def reset_password(
    user_id: uuid.UUID, request: Request, session: DbSession, user: MayManageStaff
) -> Response:
    made = new_password()
    member = auth.set_password(session, user_id=user_id, password=made)
    return _shown_once(request, user=member, password=made, status_code=200)


# --------------------------------------------------------------------------- API keys


def _keys_page(
    request: Request,
    session: Session,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    keys = auth.list_api_keys(session)
    makers = {u.id: u for u in auth.list_users(session)}
    return render(
        request,
        "auth/keys.html",
        {
            "keys": keys,
            "makers": makers,
            "scopes": SCOPES,
            "values": values if values is not None else {"scope_read": "on"},
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/keys", response_class=HTMLResponse)
def keys_page(request: Request, session: ReadSession, user: MayManageKeys) -> HTMLResponse:
    return _keys_page(request, session)


@router.post("/keys", response_class=HTMLResponse)
def create_key(
    request: Request, session: DbSession, user: MayManageKeys, form: FormData
) -> Response:
    def save() -> Response:
        reader = FormReader(form)
        name = reader.text("name", required=True, max_length=200)
        chosen = [s for s in SCOPES if reader.flag(f"scope_{s}")]
        if not chosen:
            reader.error("scopes", NO_SCOPE)
        reader.check()
        key, token = auth.create_api_key(
            session, name=name or "", scopes=chosen, created_by=auth.get_user(session, user.id)
        )
        return render(request, "auth/key_once.html", {"key": key, "token": token}, status_code=201)

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _keys_page(
            request, session, values=form, errors=errors, status_code=status
        ),
    )


@router.post("/keys/{key_id}/revoke")
def revoke_key(
    key_id: uuid.UUID, request: Request, session: DbSession, user: MayManageKeys
) -> Response:
    key = auth.revoke_api_key(session, key_id=key_id)
    flash(request, N_("Key %(name)s revoked: it stops working now."), name=key.name)
    return see_other("/keys")


PAGES = Pages(
    routers=(router,),
    nav=(
        NavItem(N_("Staff"), "/staff", min_role=Role.owner, icon="user-plus", order=86),
        NavItem(N_("API keys"), "/keys", min_role=Role.owner, icon="shield", order=87),
    ),
)
