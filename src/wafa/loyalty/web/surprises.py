"""The counter's side of surprise rewards: "given" on the customer's card.

The owner's page for the rules is ``wafa.messaging.surprises.web`` (it reads segments).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from wafa.api.deps import DbSession
from wafa.loyalty.surprise import service
from wafa.web import forms
from wafa.web.auth import Counter, see_other, staff_label
from wafa.web.forms import FormData
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, safe_next

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.post("/pos/customers/{customer_id}/surprises/{grant_id}/handed")
def mark_handed(
    customer_id: uuid.UUID,
    grant_id: uuid.UUID,
    request: Request,
    session: DbSession,
    user: Counter,
    form: FormData,
) -> Response:
    back = safe_next(form.get("next"), f"/pos?customer={customer_id}")

    def save() -> Response:
        service.mark_handed(
            session, customer_id=customer_id, grant_id=grant_id, by=staff_label(user)
        )
        flash(request, N_("Surprise given. Thank you!"))
        return see_other(back)

    return forms.submit(request, session, save, redraw=forms.back_with_message(request, back))
