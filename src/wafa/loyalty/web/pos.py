"""The point of sale: the counter's screen, its search results and its customer card.

The screen records through the JSON API (``/api/v1/pos/...``) with the session
cookie, the CSRF header and an ``Idempotency-Key`` per attempt (``static/pos.js``);
its search results and customer card are HTML fragments rendered here, so money,
digits and dates read the same as everywhere else.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from wafa.api.deps import AppSettings, ReadSession
from wafa.auth import business
from wafa.loyalty import accrual, views
from wafa.loyalty.web.common import context
from wafa.orders import queries as order_queries
from wafa.web import forms, i18n
from wafa.web.auth import Staff
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import render, request_language

router = APIRouter(route_class=WebRoute, include_in_schema=False)

COUPON_REASONS_JS = (
    "not_found",
    "voided",
    "not_yet_valid",
    "expired",
    "used_up",
    "customer_limit",
    "other_customer",
    "customer_required",
    "minimum_order",
)


def pos_texts(language: str) -> dict[str, Any]:
    """Everything pos.js says, in the user's language."""

    def t(msgid: str) -> str:
        return i18n.gettext(language, msgid)

    return {
        "lang": language,
        "numbering": i18n.NUMBERING.get(language, "latn"),
        "errors": {
            "network": t(N_("No connection to Wafa. Nothing was recorded; try again.")),
            "generic": t(N_("This could not be done. Nothing was recorded.")),
            "session": t(N_("Your session has ended. Log in again, then retry.")),
            "role": t(N_("Your role does not allow this.")),
            "insufficient-points": t(
                N_("Not enough points for this reward. Nothing was taken from the balance.")
            ),
            "out-of-stock": t(N_("This reward is out of stock.")),
            "reward-unavailable": t(N_("This reward is not available to this customer now.")),
            "customer-conflict": t(N_("Another customer already has this phone or email.")),
            "not-found": t(N_("Nothing found with this number.")),
            "conflict": t(N_("This could not be done: the data changed. Nothing was recorded.")),
            "invalid": t(N_("Please check the highlighted fields.")),
            "redemption-used": t(N_("This reward's coupon was used already.")),
            "already-referred": t(N_("This customer was already referred by someone.")),
        },
        "coupon": {reason: t(views.coupon_reason(reason) or "") for reason in COUPON_REASONS_JS},
        "fields": {
            "required": t(forms.REQUIRED),
            "amount": t(forms.AMOUNT),
            "phone": t(
                N_("Enter a valid phone number. Add the country code if it is not a local number.")
            ),
            "email": t(N_("Enter a valid email address, like name@example.com.")),
            "birthday": t(N_("This day does not exist in the chosen calendar.")),
            "contact": t(N_("Give a phone number or an email, to find them next time.")),
            "invalid": t(forms.GENERIC),
        },
        "text": {
            "points_earned": t(N_("Points: +%(points)s")),
            "no_points": t(N_("Recorded. This purchase earns no points.")),
            "already": t(N_("This receipt was recorded already; nothing was added.")),
            "stamps": t(N_("Stamps: +%(stamps)s")),
            "recorded": t(N_("Purchase recorded")),
            "attached": t(N_("Order added to the customer")),
            "redeemed": t(N_("Reward redeemed")),
            "coupon_used": t(N_("Coupon used: %(discount)s off")),
            "coupon_ok": t(N_("Valid: %(discount)s off")),
            "coupon_ok_item": t(N_("Valid: give the item or gift on the coupon")),
            "enrolled": t(N_("Welcome, %(name)s!")),
            "sale": t(N_("Sale")),
            "remove": t(N_("Remove")),
            "cart_empty": t(N_("Add products or an amount to start.")),
            "no_products": t(N_("No product matches.")),
            "open_existing": t(N_("Open this customer")),
        },
    }


@router.get("/pos", response_class=HTMLResponse)
def pos_page(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Staff,
    q: Annotated[str | None, Query(max_length=100)] = None,
    customer: uuid.UUID | None = None,
) -> HTMLResponse:
    query = (q or "").strip()
    rows = views.pos_search(session, settings=settings, q=query) if query else []
    card = views.pos_card(session, settings=settings, customer_id=customer) if customer else None
    language = request_language(request)
    return render(
        request,
        "loyalty/pos.html",
        context(
            request,
            settings,
            q=query,
            rows=rows,
            card=card,
            pos_texts=pos_texts(language),
            month_names_now=i18n.month_names(forms.form_calendar(request, settings), language),
        ),
    )


@router.get("/pos/search", response_class=HTMLResponse)
def pos_search(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Staff,
    q: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    query = q.strip()
    rows = views.pos_search(session, settings=settings, q=query) if query else []
    return render(
        request,
        "loyalty/_pos_results.html",
        context(request, settings, q=query, rows=rows),
        headers={"Cache-Control": "no-store"},
    )


@router.get("/pos/customers/{customer_id}", response_class=HTMLResponse)
def pos_customer(
    customer_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Staff,
) -> HTMLResponse:
    card = views.pos_card(session, settings=settings, customer_id=customer_id)
    return render(
        request,
        "loyalty/_pos_card.html",
        context(request, settings, card=card),
        headers={"Cache-Control": "no-store"},
    )


@router.get("/pos/receipt/{order_id}", response_class=HTMLResponse)
def pos_receipt(
    order_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Staff,
) -> HTMLResponse:
    """A sale as a receipt to show or print: the shop's logo (served by Wafa) and name, the
    lines, the totals, the customer and the points the sale earned."""
    detail = order_queries.order_detail(session, order_id)
    logo = business.logo(session)
    return render(
        request,
        "loyalty/receipt.html",
        context(
            request,
            settings,
            detail=detail,
            order=detail.order,
            points=accrual.earned_by_order(session, order_id),
            receipt_logo=logo.version if logo else None,
        ),
    )
