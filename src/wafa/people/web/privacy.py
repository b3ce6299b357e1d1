"""A person's data: download everything held on them, or erase it (owners only)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.customers import service as customers
from wafa.people import service as people
from wafa.web.auth import MayErase, MayExport, see_other, staff_label
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/customers/{customer_id}/export")
def export_customer(
    customer_id: uuid.UUID, request: Request, session: ReadSession, user: MayExport
) -> Response:
    data = people.export_customer(session, customer_id, hooks=request.app.state.people_hooks)
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2, default=str),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="customer-{customer_id}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/customers/{customer_id}/erase", response_class=HTMLResponse)
def erase_confirm(
    customer_id: uuid.UUID, request: Request, session: ReadSession, user: MayErase
) -> HTMLResponse:
    customer = customers.get_live_customer(session, customer_id)
    return render(request, "people/erase.html", {"customer": customer, "error": False})


@router.post("/customers/{customer_id}/erase", response_class=HTMLResponse)
def erase_customer(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayErase,
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    if confirm != "yes":
        customer = customers.get_live_customer(session, customer_id)
        return render(
            request,
            "people/erase.html",
            {"customer": customer, "error": True},
            status_code=422,
        )
    customer = people.erase_customer(
        session,
        settings=settings,
        customer_id=customer_id,
        erased_by=staff_label(user),
        hooks=request.app.state.people_hooks,
    )
    flash(
        request, N_("The customer's personal data was erased. Order totals are kept anonymously.")
    )
    return see_other(f"/customers/{customer.id}")
