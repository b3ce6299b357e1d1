"""Compose a campaign: name, segment, channel and topic, subject and text per locale (English,
Arabic, Persian; right to left where the language is), holdout, schedule, coupon."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.core.errors import Loc
from wafa.core.settings import Settings
from wafa.core.text import ascii_number
from wafa.messaging.campaigns import service
from wafa.messaging.campaigns.schemas import CampaignCreate
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


def _page(
    request: Request,
    session: Session,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "messaging/campaigns/compose.html",
        {
            "values": values,
            "errors": errors or {},
            "segments": segments.segment_choices(session),
            "channels": [c.value for c in Channel],
            "topics": [t.value for t in Topic],
            "locales": LOCALES,
            "locale_names": LOCALE_NAMES,
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
        "body": {loc: form.get(f"body_{loc}", "") for loc in LOCALES},
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
