"""Message preferences on the customer profile (a panel), and the form that changes them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from wafa.api.deps import DbSession
from wafa.core.errors import Invalid
from wafa.customers.models import Customer
from wafa.messaging import preferences
from wafa.messaging.models import Channel, Topic
from wafa.messaging.policy import load_policy
from wafa.messaging.texts import SKIP_REASONS, STATUS_LABELS
from wafa.web.auth import Counter, staff_label
from wafa.web.i18n import N_
from wafa.web.pages import CustomerPanel
from wafa.web.routing import WebRoute
from wafa.web.templating import flash

router = APIRouter(route_class=WebRoute, include_in_schema=False)

TOPIC_LABELS = {
    "newsletters": N_("Newsletters"),
    "offers": N_("Offers and coupons"),
    "loyalty": N_("News about my points and rewards"),
    "surveys": N_("Surveys about my visits"),
}


def _panel(session: Session, customer: Customer) -> Mapping[str, Any] | None:
    policy = load_policy(session)
    return {
        "prefs": preferences.read_preferences(
            session, customer_id=customer.id, double_opt_in=policy.double_opt_in
        ),
        "recent": preferences.history(session, customer_id=customer.id, limit=5),
        "topic_labels": TOPIC_LABELS,
        "statuses": STATUS_LABELS,
        "reasons": SKIP_REASONS,
    }


PANEL = CustomerPanel(
    "messaging", template="messaging/_profile_panel.html", load=_panel, column="side", order=30
)


@router.post("/messaging/customers/{customer_id}/preferences")
async def save_preferences(
    request: Request,
    session: DbSession,
    user: Counter,
    customer_id: uuid.UUID,
) -> Response:
    form = await request.form()
    keep = {str(v) for v in form.getlist("keep")}
    consent = {channel: f"consent_{channel.value}" in form for channel in Channel}
    topics = {
        channel: {topic: f"{channel.value}:{topic.value}" in keep for topic in Topic}
        for channel in Channel
    }
    zone = form.get("timezone")
    data = preferences.PreferencesUpdate(
        timezone=zone if isinstance(zone, str) and zone else None,
        consent=consent,
        topics=topics,
        source="dashboard",
    )
    try:
        preferences.update_preferences(
            session, customer_id=customer_id, data=data, by=staff_label(user)
        )
    except Invalid:
        flash(request, N_("Choose a timezone from the list, like Asia/Tehran."), kind="error")
    else:
        flash(request, N_("Message preferences saved."))
    return RedirectResponse(f"/customers/{customer_id}", status_code=303)
