"""The suppression list: addresses nothing (or no marketing) goes to; add one, lift one."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wafa.api.deps import DbSession, ReadSession
from wafa.auth.models import Role
from wafa.core.errors import WafaError
from wafa.core.pagination import decode_cursor, encode_cursor
from wafa.messaging import consent, queries
from wafa.messaging.models import Medium, SuppressionReason
from wafa.web.auth import MayMessage, MaySuppress, staff_label
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

NAV = NavItem(
    N_("Suppression list"),
    "/messaging/suppressions",
    min_role=Role.manager,
    icon="shield",
    order=64,
    section=N_("Messages"),
)

REASONS = {
    "hard_bounce": N_("The address does not exist (hard bounce)"),
    "soft_bounces": N_("Failed too often in a row"),
    "complaint": N_("Marked as spam"),
    "unsubscribe": N_("Unsubscribed"),
    "erased": N_("Customer erased (only a keyed hash is kept)"),
    "manual": N_("Blocked by staff"),
}


@router.get("/messaging/suppressions", response_class=HTMLResponse)
def suppressions_page(
    request: Request,
    session: ReadSession,
    user: MayMessage,
    reason: Annotated[str | None, Query(max_length=16)] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    before = decode_cursor(cursor) if cursor else None
    rows, next_id = queries.suppression_page(
        session, before=before, limit=50, reason=reason if reason in REASONS else None
    )
    return render(
        request,
        "messaging/suppressions.html",
        {
            "rows": rows,
            "reasons": REASONS,
            "reason": reason,
            "cursor": cursor,
            "next_cursor": encode_cursor(next_id) if next_id else None,
        },
    )


@router.post("/messaging/suppressions")
def add_suppression(
    request: Request,
    session: DbSession,
    user: MaySuppress,
    address: Annotated[str, Form(min_length=3, max_length=320)],
) -> Response:
    value = address.strip()
    medium = Medium.email if "@" in value else Medium.phone
    consent.suppress(
        session,
        secret=consent.hash_key(session),
        medium=medium,
        address=value,
        reason=SuppressionReason.manual,
        source=f"dashboard ({staff_label(user)})",
    )
    flash(request, N_("%(address)s will receive nothing more."), address=value)
    return RedirectResponse("/messaging/suppressions", status_code=303)


@router.post("/messaging/suppressions/{suppression_id}/lift")
def lift_suppression(
    request: Request, session: DbSession, user: MaySuppress, suppression_id: uuid.UUID
) -> Response:
    try:
        consent.lift_suppression(session, suppression_id=suppression_id)
    except WafaError as exc:
        flash(request, N_("Not lifted: %(reason)s"), kind="error", reason=exc.detail)
    else:
        flash(request, N_("The address can receive messages again."))
    return RedirectResponse("/messaging/suppressions", status_code=303)
