"""For the cashier: a QR code of a fresh sign-in link, shown on the point-of-sale screen, that
the customer scans to open their own page on their phone (staff only; the link opens once,
for 15 minutes, and is made only when the cashier unfolds it)."""

from __future__ import annotations

import io
import uuid

import segno
from fastapi import APIRouter, Response

from wafa.api.deps import AppSettings, ReadSession
from wafa.portal import access
from wafa.web.auth import Staff
from wafa.web.routing import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/portal/counter/{customer_id}.svg")
def sign_in_qr(
    customer_id: uuid.UUID, session: ReadSession, settings: AppSettings, user: Staff
) -> Response:
    """An SVG QR code of a 15-minute sign-in link for the customer at the counter."""
    link = access.issue_link(
        session, settings=settings, customer_id=customer_id, ttl=access.COUNTER_LINK_TTL
    )
    out = io.BytesIO()
    segno.make_qr(link.url, error="m").save(out, kind="svg", scale=4, border=2, dark="#111")
    return Response(
        out.getvalue(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
