"""Merging a duplicate record into a customer: search, side-by-side preview, confirm."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import DbSession, ReadSession
from wafa.people import queries
from wafa.people import service as people
from wafa.web.auth import MayMerge, see_other, staff_label
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/customers/{customer_id}/merge", response_class=HTMLResponse)
def merge_search(
    customer_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    user: MayMerge,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    found = queries.merge_candidates(session, customer_id, q=q)
    return render(request, "people/merge.html", {"found": found, "customer": found.customer})


@router.get("/customers/{customer_id}/merge/{other_id}", response_class=HTMLResponse)
def merge_confirm(
    customer_id: uuid.UUID,
    other_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    user: MayMerge,
) -> HTMLResponse:
    preview = queries.merge_preview(session, keep_id=customer_id, duplicate_id=other_id)
    return render(
        request, "people/merge_confirm.html", {"preview": preview, "customer": preview.keep}
    )


@router.post("/customers/{customer_id}/merge")
def merge_customers(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    user: MayMerge,
    other_id: Annotated[uuid.UUID, Form()],
) -> Response:
    merge = people.merge_customers(
        session, winner_id=customer_id, loser_id=other_id, merged_by=staff_label(user)
    )
    flash(
        request, N_("Records merged. Orders, consent history and ids now belong to this customer.")
    )
    return see_other(f"/customers/{merge.winner_id}")
