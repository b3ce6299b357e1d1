"""One campaign: where it stands (counts per status), what it would say to a real customer
(the preview, right to left where the locale is; SMS length), and its buttons: send, pause,
resume, cancel."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.messaging.campaigns import preview, service
from wafa.messaging.campaigns.service import CampaignStateConflict
from wafa.messaging.campaigns.web.words import WORDS
from wafa.messaging.segments import service as segments
from wafa.messaging.texts import LOCALES
from wafa.web import forms
from wafa.web.auth import MayMessage, see_other
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

LOCALE_NAMES = {"en": "English", "ar": "العربية", "fa": "فارسی"}
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
