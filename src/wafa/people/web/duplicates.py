"""Possible duplicates (managers and owners): pairs of customers who may be one person,
side by side, merged in one click (the audited merge) or marked "not the same person"."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import DbSession, ReadSession
from wafa.customers import duplicates
from wafa.customers.models import DuplicateStatus
from wafa.people import service as people
from wafa.web.auth import MayMerge, see_other, staff_label
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)
PAGE = 20


@router.get("/customers/duplicates", response_class=HTMLResponse)
def duplicates_page(
    request: Request,
    session: ReadSession,
    user: MayMerge,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    pairs = duplicates.open_pairs(session, limit=PAGE, offset=(page - 1) * PAGE)
    total = duplicates.open_count(session)
    return render(
        request,
        "people/duplicates.html",
        {"pairs": pairs, "total": total, "page": page, "pages": max(1, -(-total // PAGE))},
    )


@router.post("/customers/duplicates/{pair_id}/merge")
def merge_pair(
    pair_id: uuid.UUID,
    request: Request,
    session: DbSession,
    user: MayMerge,
    keep: Annotated[uuid.UUID, Form()],
) -> Response:
    pair = duplicates.get_open(session, pair_id)
    ids = {pair.customer_a_id, pair.customer_b_id}
    if keep not in ids:
        return see_other("/customers/duplicates")
    (other,) = ids - {keep}
    people.merge_customers(session, winner_id=keep, loser_id=other, merged_by=staff_label(user))
    duplicates.decide(session, pair_id=pair_id, status=DuplicateStatus.merged, by=staff_label(user))
    flash(
        request, N_("Records merged. Orders, consent history and ids now belong to this customer.")
    )
    return see_other("/customers/duplicates")


@router.post("/customers/duplicates/{pair_id}/dismiss")
def dismiss_pair(
    pair_id: uuid.UUID, request: Request, session: DbSession, user: MayMerge
) -> Response:
    duplicates.decide(
        session, pair_id=pair_id, status=DuplicateStatus.dismissed, by=staff_label(user)
    )
    flash(request, N_("Kept apart: this pair will not be proposed again."))
    return see_other("/customers/duplicates")
