"""One campaign: where it stands (counts per status), what it would say to a real customer
(the preview, right to left where the locale is; SMS length; "send a test to me"), and its
buttons: edit (a draft), send, pause, resume, cancel."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.messaging.campaigns import preview, service
from wafa.messaging.campaigns.service import CampaignStateConflict
from wafa.messaging.campaigns.web.words import WORDS
from wafa.messaging.channels import Outcome
from wafa.messaging.segments import service as segments
from wafa.messaging.texts import LOCALES
from wafa.web import forms
from wafa.web.auth import MayMessage, see_other
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

LOCALE_NAMES = {"en": "English", "ar": "العربية", "fa": "فارسی"}
NO_ONE = N_("The segment has no customers to preview with.")
NOT_NOW = N_("This cannot be done to the campaign as it stands now.")
DONE = {
    "send": N_("Sending started. The worker queues the recipients and sends."),
    "pause": N_("Campaign paused. Nothing more leaves until you resume it."),
    "resume": N_("Campaign resumed."),
    "cancel": N_("Campaign cancelled. What had not gone out will not."),
}


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(
    campaign_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    _: MayMessage,
    customer: uuid.UUID | None = None,
    locale: Annotated[str | None, Query(max_length=2)] = None,
) -> HTMLResponse:
    campaign = service.get_campaign(session, campaign_id)
    read = service.read_campaign(session, campaign_id=campaign_id)
    people = preview.sample_customers(session, settings=settings, campaign=campaign)
    chosen = next((p for p in people if p.id == customer), people[0] if people else None)
    shown = None
    if chosen is not None:
        shown = preview.preview(
            session,
            settings=settings,
            campaign=campaign,
            customer_id=chosen.id,
            locale=locale if locale in LOCALES else None,
        )
    return render(
        request,
        "messaging/campaigns/detail.html",
        {
            "campaign": campaign,
            "read": read,
            "segment": segments.get_segment(session, campaign.segment_id),
            "people": people,
            "chosen": chosen,
            "preview": shown,
            "preview_locale": locale if locale in LOCALES else "",
            "sms": preview.sms_lengths(campaign),
            "locales": LOCALES,
            "locale_names": LOCALE_NAMES,
            **WORDS,
        },
    )


def _act(
    request: Request, session: DbSession, settings: AppSettings, campaign_id: uuid.UUID, what: str
) -> Response:
    path = f"/campaigns/{campaign_id}"

    def work() -> Response:
        if what == "send":
            service.start_sending(session, settings=settings, campaign_id=campaign_id)
        elif what == "pause":
            service.pause(session, campaign_id=campaign_id)
        elif what == "resume":
            service.resume(session, campaign_id=campaign_id)
        else:
            service.cancel(session, campaign_id=campaign_id)
        flash(request, DONE[what])
        return see_other(path)

    return forms.submit(
        request,
        session,
        work,
        redraw=forms.back_with_message(request, path),
        refusals=[forms.Refusal(CampaignStateConflict, NOT_NOW)],
    )


@router.post("/campaigns/{campaign_id}/send")
def send(
    campaign_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _: MayMessage,
) -> Response:
    return _act(request, session, settings, campaign_id, "send")


@router.post("/campaigns/{campaign_id}/pause")
def pause(
    campaign_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _: MayMessage,
) -> Response:
    return _act(request, session, settings, campaign_id, "pause")


@router.post("/campaigns/{campaign_id}/resume")
def resume(
    campaign_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _: MayMessage,
) -> Response:
    return _act(request, session, settings, campaign_id, "resume")


@router.post("/campaigns/{campaign_id}/cancel")
def cancel(
    campaign_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _: MayMessage,
) -> Response:
    return _act(request, session, settings, campaign_id, "cancel")


@router.post("/campaigns/{campaign_id}/test")
def send_test_to_me(
    campaign_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayMessage,
    customer: Annotated[uuid.UUID | None, Form()] = None,
    locale: Annotated[str | None, Form(max_length=2)] = None,
) -> Response:
    """Email the campaign, as the previewed customer would get it, to the staff member
    signed in; marked as a test and counted nowhere (``preview.send_test``)."""
    campaign = service.get_campaign(session, campaign_id)
    people = preview.sample_customers(session, settings=settings, campaign=campaign)
    chosen = next((p for p in people if p.id == customer), people[0] if people else None)
    back = f"/campaigns/{campaign_id}"
    if chosen is None:
        flash(request, NO_ONE, kind="error")
        return see_other(back)
    shown_locale = locale if locale in LOCALES else None
    result = preview.send_test(
        session,
        settings=settings,
        campaign=campaign,
        customer_id=chosen.id,
        to=user.email,
        locale=shown_locale,
    )
    if result.outcome is Outcome.sent:
        flash(request, N_("A test email was sent to %(address)s."), address=user.email)
    else:
        flash(
            request,
            N_("The test could not be sent: %(reason)s"),
            kind="error",
            reason=result.detail or result.outcome.value,
        )
    query = f"?customer={chosen.id}" + (f"&locale={shown_locale}" if shown_locale else "")
    return see_other(back + query)
