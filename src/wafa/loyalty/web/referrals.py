"""The referral review queue: referrals held by the fraud checks, approved or rejected by staff."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.core.errors import Conflict, Invalid
from wafa.loyalty import queries, referrals, views
from wafa.loyalty.models import ReferralStatus
from wafa.loyalty.web.common import LABELS, context
from wafa.web import forms
from wafa.web.auth import MayReviewReferrals, see_other, staff_label
from wafa.web.forms import FormData, FormReader, Refusal
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/loyalty/referrals", response_class=HTMLResponse)
def referrals_page(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayReviewReferrals,
    status: Annotated[str | None, Query(max_length=20)] = ReferralStatus.review.value,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    chosen = status if status in LABELS["referral"] else None
    rows, nxt = views.referral_rows(session, status=chosen, cursor=cursor)
    return render(
        request,
        "loyalty/referrals.html",
        context(
            request,
            settings,
            rows=rows,
            next_cursor=nxt,
            status=chosen or "",
            cursor=cursor or "",
            waiting=queries.review_count(session),
        ),
    )


@router.post("/loyalty/referrals/{referral_id}/approve")
def approve_referral(
    referral_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayReviewReferrals,
    form: FormData,
) -> Response:
    def approve() -> Response:
        note = FormReader(form).text("note", max_length=500)
        referrals.approve(
            session, settings=settings, referral_id=referral_id, by=staff_label(user), note=note
        )
        flash(request, N_("Referral approved; both customers got their rewards."))
        return see_other("/loyalty/referrals")

    return forms.submit(
        request,
        session,
        approve,
        redraw=forms.back_with_message(request, "/loyalty/referrals"),
        refusals=[Refusal(Conflict, N_("This referral cannot be approved now."))],
    )


@router.post("/loyalty/referrals/{referral_id}/reject")
def reject_referral(
    referral_id: uuid.UUID,
    request: Request,
    session: DbSession,
    user: MayReviewReferrals,
    form: FormData,
) -> Response:
    def reject() -> Response:
        note = FormReader(form).text("note", max_length=500)
        if not note:
            raise Invalid.field(("note",), N_("Say why the referral is rejected."))
        referrals.reject(session, referral_id=referral_id, by=staff_label(user), note=note)
        flash(request, N_("Referral rejected; nothing more will be paid for it."))
        return see_other("/loyalty/referrals")

    def refused(errors: dict[str, str], status: int) -> Response:
        back = f"/loyalty/referrals#r-{referral_id}" if status == 422 else "/loyalty/referrals"
        return forms.back_with_message(request, back)(errors, status)

    return forms.submit(
        request,
        session,
        reject,
        redraw=refused,
        refusals=[
            Refusal(Conflict, N_("This referral was rewarded already; it cannot be rejected."))
        ],
    )
