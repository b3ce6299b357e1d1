"""For staff, on the customer's profile: their portal access (browsers signed in, the latest
sign-in, a cancellation), a button to send them a sign-in link, one to show a link once, and
one to cancel every link and sign them out everywhere (a lost phone).

Permissions. Sending the link goes to the customer's own address and cancelling only takes
access away: both need ``serve`` (the counter's). Showing a link puts the customer's whole
page in staff's hands, "Download my data" included, so it needs ``export``, the permission
to take everything held on a person. The link is made on the POST and shown in that one
answer (``no-store``); Wafa keeps no copy of it, only the digest once it is used.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, DbSession
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.portal import access
from wafa.web.auth import Counter, MayExport, see_other
from wafa.web.i18n import N_
from wafa.web.pages import CustomerPanel
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _panel(session: Session, customer: Customer) -> Mapping[str, Any] | None:
    return {
        "access": access.access_status(session, customer_id=customer.id),
        "send_by": "email" if customer.email else "sms" if customer.phone else None,
    }


PANEL = CustomerPanel(
    "portal", template="portal/_profile_panel.html", load=_panel, column="side", order=35
)


def _back(customer_id: uuid.UUID) -> Response:
    return see_other(f"/customers/{customer_id}#portal-access")


@router.post("/portal/staff/{customer_id}/link", response_class=HTMLResponse)
def show_link(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayExport,
) -> Response:
    """A fresh sign-in link (seven days, opens once), shown in this answer only."""
    customer = customers.get_live_customer(session, customer_id)
    link = access.issue_link(session, settings=settings, customer_id=customer.id)
    return render(
        request,
        "portal/staff_link.html",
        {"customer": customer, "link": link},
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.post("/portal/staff/{customer_id}/send")
def send_link(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Counter,
) -> Response:
    """Send the customer a sign-in link (email, else SMS), then back to their profile."""
    channel = access.send_link(session, settings=settings, customer_id=customer_id)
    if channel is None:
        flash(request, N_("This customer has no email or phone to send the link to."), kind="error")
    else:
        flash(request, N_("The link to their page is on its way."))
    return _back(customer_id)


@router.post("/portal/staff/{customer_id}/revoke")
def revoke(customer_id: uuid.UUID, request: Request, session: DbSession, user: Counter) -> Response:
    """Cancel every link issued so far and sign the customer out of every browser."""
    customers.get_live_customer(session, customer_id)
    access.revoke_access(session, customer_id=customer_id)
    flash(request, N_("Their links no longer open and they are signed out everywhere."))
    return _back(customer_id)
