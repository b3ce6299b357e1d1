"""For the cashier: a QR code of a fresh sign-in link, shown on the point-of-sale screen, that
the customer scans to open their own page on their phone (the link opens once, for 15
minutes, and is made only when the cashier unfolds it); or the link sent to them by email or
SMS. Both need the permission to serve at the counter."""

from __future__ import annotations

import io
import uuid

import segno
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.portal import access
from wafa.web.auth import Counter
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/portal/counter/{customer_id}.svg")
def sign_in_qr(
    customer_id: uuid.UUID, session: ReadSession, settings: AppSettings, user: Counter
) -> Response:
    """An SVG QR code of a 15-minute sign-in link for the customer at the counter."""
    link = access.issue_link(
        session,
        settings=settings,
        customer_id=customer_id,
        ttl=access.COUNTER_LINK_TTL,
        at_counter=True,
    )
    out = io.BytesIO()
    segno.make_qr(link.url, error="m").save(out, kind="svg", scale=4, border=2, dark="#111")
    return Response(
        out.getvalue(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.post("/portal/counter/{customer_id}/send")
def send_link(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Counter,
) -> Response:
    """Send the customer their sign-in link (email, else SMS), then back to their POS card."""
    channel = access.send_link(session, settings=settings, customer_id=customer_id)
    if channel is None:
        flash(request, N_("This customer has no email or phone to send the link to."), kind="error")
    else:
        flash(request, N_("The link to their page is on its way."))
    return RedirectResponse(f"/pos?customer={customer_id}", status_code=303)
