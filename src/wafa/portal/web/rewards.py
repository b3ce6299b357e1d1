"""Rewards: redeem one with points (the loyalty engine's redemption) and see its coupon at once."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.feedback.service import qr_svg
from wafa.portal import service, views
from wafa.portal.web.common import Me, PortalRoute, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


@router.get("/portal/rewards")
def rewards(request: Request, session: ReadSession, settings: AppSettings, me: Me) -> HTMLResponse:
    """The catalogue as this customer may use it, each form with its one-time nonce."""
    page = views.rewards_page(session, settings=settings, customer_id=me.id, known=me)
    return render(
        request,
        "portal/rewards.html",
        {"page": page, "tab": "rewards", "nonce": secrets.token_urlsafe(24)},
    )


@router.post("/portal/rewards")
def redeem(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    me: Me,
    reward_id: Annotated[uuid.UUID, Form()],
    nonce: Annotated[str, Form(max_length=64)],
) -> Response:
    """Spend points on a reward; a second send of the same form shows the same coupon."""
    redemption_id = service.redeem_once(
        session, settings=settings, customer_id=me.id, reward_id=reward_id, nonce=nonce
    )
    return RedirectResponse(f"/portal/rewards/{redemption_id}", status_code=303)


@router.get("/portal/rewards/{redemption_id}")
def redeemed(
    redemption_id: uuid.UUID, request: Request, session: ReadSession, me: Me
) -> HTMLResponse:
    """The coupon of one of the customer's own redemptions, with its QR code for the till."""
    redemption = service.redemption_of(session, customer_id=me.id, redemption_id=redemption_id)
    code = redemption.coupon_code or ""
    return render(
        request,
        "portal/redeemed.html",
        {"redemption": redemption, "qr": Markup(qr_svg(code)) if code else "", "tab": "rewards"},
    )
