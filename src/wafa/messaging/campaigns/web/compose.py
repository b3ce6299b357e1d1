"""Compose a campaign: name, segment, channel and topic, subject and text per locale (English,
Arabic, Persian; right to left where the language is), holdout, schedule, coupon. The same
form edits a draft or a campaign scheduled for later (``/campaigns/{id}/edit``); once
sending started it is refused."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.core.errors import Loc
from wafa.core.settings import Settings
from wafa.core.text import ascii_number
from wafa.messaging import texts
from wafa.messaging.campaigns import service
from wafa.messaging.campaigns.models import Campaign
from wafa.messaging.campaigns.schemas import CampaignCreate
from wafa.messaging.campaigns.service import CampaignStateConflict
from wafa.messaging.campaigns.web.words import WORDS
from wafa.messaging.models import Channel, Topic
from wafa.messaging.segments import service as segments
from wafa.messaging.texts import LOCALES
from wafa.web import forms
from wafa.web.auth import MayMessage, see_other, staff_label
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

LOCALE_NAMES = {"en": "English", "ar": "العربية", "fa": "فارسی"}
TIME_FORMAT = N_("Enter a time as hours:minutes, like 10:00.")
FIELDS = (
    "name",
    "segment",
    "channel",
    "topic",
    "holdout_percent",
    "schedule",
    "send_day",
    "send_time",
    "coupon_kind",
    "coupon_value",
    "coupon_days",
    "report_days",
    *(f"{part}_{loc}" for part in ("subject", "body") for loc in LOCALES),
)


NOT_A_DRAFT = N_("Sending has started: the campaign can no longer be edited.")


def _page(
    request: Request,
    session: Session,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    campaign: Campaign | None = None,
) -> HTMLResponse:
    return render(
        request,
        "messaging/campaigns/compose.html",
        {
            "campaign": campaign,
            "values": values,
            "errors": errors or {},
            "segments": segments.segment_choices(session),
            "channels": [c.value for c in Channel],
            "topics": [t.value for t in Topic],
            "locales": LOCALES,
            "locale_names": LOCALE_NAMES,
            "opt_out": {loc: texts.gettext(loc, texts.SMS_OPT_OUT) for loc in LOCALES},
            **WORDS,
        },
        status_code=status_code,
    )


@router.get("/campaigns/new", response_class=HTMLResponse)
def new_campaign(
    request: Request, session: ReadSession, _: MayMessage, segment: str = ""
) -> HTMLResponse:
    defaults = {
        "channel": "email",
        "topic": "newsletters",
        "holdout_percent": "10",
        "schedule": "now",
        "report_days": "14",
        "coupon_days": "30",
        "segment": segment,
    }
    return _page(request, session, defaults)


RENAMED = {
    "segment_id": "segment",
    "send_at": "send_day",
    "local_date": "send_day",
    "local_time": "send_time",
    "coupon": "coupon_value",
}


def _field_for(loc: Loc) -> str:
    """The form field a refusal names: ``("body", "fa")`` is ``body_fa``."""
    head = str(loc[0]) if loc else forms.WHOLE_FORM
    if head in ("subject", "body", "html") and len(loc) > 1 and loc[1] in LOCALES:
        return f"{'body' if head == 'html' else head}_{loc[1]}"
    return RENAMED.get(head, head)


def _read(form: dict[str, str], settings: Settings) -> CampaignCreate:
    reader = forms.FormReader(form, calendar=settings.calendar, zone=settings.zone)
    name = reader.text("name", required=True)
    segment_id = reader.reference("segment")
    if segment_id is None:
        reader.error("segment", forms.REQUIRED)
    channel = reader.choice("channel", [c.value for c in Channel]) or "email"
    topic = reader.choice("topic", [t.value for t in Topic]) or "newsletters"
    holdout = reader.integer("holdout_percent", minimum=0, maximum=50, default=10)
    schedule = reader.choice("schedule", ["now", "at", "local"]) or "now"
    day = reader.day("send_day")
    clock: time | None = None
    raw_time = ascii_number(reader.raw("send_time"))
    if raw_time:
        try:
            clock = time.fromisoformat(raw_time)
        except ValueError:
            reader.error("send_time", TIME_FORMAT)
    if schedule != "now":
        if day is None:
            reader.error("send_day", forms.REQUIRED)
        if clock is None:
            reader.error("send_time", forms.REQUIRED)
    coupon: dict[str, Any] | None = None
    kind = reader.choice("coupon_kind", ["", "discount_percent", "discount_fixed"])
    if kind == "discount_percent":
        percent = reader.integer("coupon_value", required=True, minimum=1, maximum=100)
        coupon = {"kind": kind, "percent": percent}
    elif kind == "discount_fixed":
        coupon = {"kind": kind, "amount": reader.money("coupon_value", required=True)}
    if coupon is not None:
        coupon["valid_days"] = reader.integer("coupon_days", minimum=1, maximum=365, default=30)
    report_days = reader.integer("report_days", minimum=1, maximum=90, default=14)
    reader.check()
    values: dict[str, Any] = {
        "name": name,
        "segment_id": segment_id,
        "channel": channel,
        "topic": topic,
        "holdout_percent": holdout,
        "schedule": schedule,
        "coupon": coupon,
        "report_days": report_days,
        "subject": {loc: form.get(f"subject_{loc}", "") for loc in LOCALES},
        # A browser posts a textarea's line breaks as CR LF; an SMS would pay for each CR.
        "body": {loc: form.get(f"body_{loc}", "").replace("\r\n", "\n") for loc in LOCALES},
    }
    if schedule == "at" and day and clock:
        values["send_at"] = datetime.combine(day, clock, tzinfo=settings.zone)
    if schedule == "local" and day and clock:
        values["local_date"] = day
        values["local_time"] = clock.strftime("%H:%M")
    return CampaignCreate.model_validate(values)


@router.post("/campaigns/new")
async def create_campaign(
    request: Request, session: DbSession, settings: AppSettings, user: MayMessage
) -> Response:
    posted = await request.form()
    form = {k: v for k in FIELDS if isinstance(v := posted.get(k, ""), str)}

    def work() -> Response:
        data = _read(form, settings)
        campaign = service.create_campaign(
            session, settings=settings, data=data, by=staff_label(user)
        )
        flash(request, N_("Campaign saved. Check the preview, then send it."))
        return see_other(f"/campaigns/{campaign.id}")

    return forms.submit(
        request,
        session,
        work,
        redraw=lambda errors, status: _page(request, session, form, errors, status),
        field_for=_field_for,
    )


def values_of(campaign: Campaign, settings: Settings) -> dict[str, str]:
    """A stored campaign as the form's fields (what ``_read`` reads back to the same)."""
    values: dict[str, str] = {
        "name": campaign.name,
        "segment": str(campaign.segment_id),
        "channel": campaign.channel,
        "topic": campaign.topic,
        "holdout_percent": str(campaign.holdout_percent),
        "schedule": campaign.schedule,
        "report_days": str(campaign.report_days),
        "coupon_days": "30",
    }
    for loc in LOCALES:
        values[f"subject_{loc}"] = campaign.subject.get(loc, "")
        values[f"body_{loc}"] = campaign.text.get(loc, "")
    if campaign.send_at is not None:
        values["send_day"] = forms.day_text(
            campaign.send_at, calendar=settings.calendar, zone=settings.zone
        )
        values["send_time"] = campaign.send_at.astimezone(settings.zone).strftime("%H:%M")
    if campaign.local_date is not None:
        values["send_day"] = forms.day_text(
            campaign.local_date, calendar=settings.calendar, zone=settings.zone
        )
        values["send_time"] = campaign.local_time or ""
    coupon = campaign.coupon
    if coupon:
        values["coupon_kind"] = str(coupon["kind"])
        values["coupon_days"] = str(coupon.get("valid_days", 30))
        if coupon["kind"] == "discount_percent":
            values["coupon_value"] = str(int(coupon.get("percent_bp", 0)) // 100)
        else:
            values["coupon_value"] = forms.amount_text(coupon.get("amount"), settings.currency)
    return values


@router.get("/campaigns/{campaign_id}/edit", response_class=HTMLResponse)
def edit_campaign(
    campaign_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    _: MayMessage,
) -> Response:
    campaign = service.get_campaign(session, campaign_id)
    if campaign.status not in service.EDITABLE:
        flash(request, NOT_A_DRAFT, kind="error")
        return see_other(f"/campaigns/{campaign_id}")
    return _page(request, session, values_of(campaign, settings), campaign=campaign)


@router.post("/campaigns/{campaign_id}/edit")
async def save_campaign(
    campaign_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _: MayMessage,
) -> Response:
    posted = await request.form()
    form = {k: v for k in FIELDS if isinstance(v := posted.get(k, ""), str)}
    campaign = service.get_campaign(session, campaign_id)
    path = f"/campaigns/{campaign_id}"

    def work() -> Response:
        data = _read(form, settings)
        # The form writes text bodies; an HTML body given through the API is kept.
        data = data.model_copy(update={"html": dict(campaign.html or {})})
        service.update_campaign(session, settings=settings, campaign_id=campaign_id, data=data)
        flash(request, N_("Campaign saved. Check the preview, then send it."))
        return see_other(path)

    return forms.submit(
        request,
        session,
        work,
        redraw=lambda errors, status: _page(
            request, session, form, errors, status, campaign=campaign
        ),
        field_for=_field_for,
        refusals=[forms.Refusal(CampaignStateConflict, NOT_A_DRAFT)],
    )
