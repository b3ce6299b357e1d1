"""The channels page: each channel's settings and health, the queue at a glance, the
policy (caps, quiet hours, quiet days, double opt-in) and "send a test to me"."""

from __future__ import annotations

from datetime import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.auth.models import Role
from wafa.messaging import checks, queries
from wafa.messaging.channels import Outcome
from wafa.messaging.policy import (
    ChannelPolicy,
    MessagingPolicy,
    QuietWindow,
    load_policy,
    save_policy,
)
from wafa.messaging.texts import STATUS_LABELS
from wafa.web.auth import MayMessage, staff_label
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

NAV = NavItem(
    N_("Channels"),
    "/messaging",
    min_role=Role.manager,
    icon="message",
    order=60,
    section=N_("Messages"),
)


def _mask(url: str | None) -> str | None:
    if not url:
        return None
    scheme, _, rest = url.partition("://")
    if "@" in rest:
        who, _, where = rest.rpartition("@")
        user = who.split(":", 1)[0]
        rest = f"{user[:3]}…@{where}" if user else where
    return f"{scheme}://{rest}"


@router.get("/messaging", response_class=HTMLResponse)
def channels_page(
    request: Request, session: ReadSession, settings: AppSettings, user: MayMessage, check: int = 0
) -> HTMLResponse:
    health = {s.name: s for s in checks.channel_health(settings)} if check else {}
    return render(
        request,
        "messaging/channels.html",
        {
            "channels": [
                ("email", _mask(settings.smtp_url), settings.email_rate),
                ("sms", _mask(settings.sms_url), settings.sms_rate),
                ("whatsapp", _mask(settings.whatsapp_url), settings.whatsapp_rate),
            ],
            "health": health,
            "checked": bool(check),
            "counts": queries.status_counts(session),
            "status_labels": STATUS_LABELS,
            "workers": queries.live_workers(session, lapse_seconds=settings.send_lapse_seconds),
            "policy": load_policy(session),
            "dkim": bool(settings.dkim_key_file),
        },
    )


def _clock(value: str | None, default: time) -> time:
    if not value:
        return default
    hours, _, minutes = value.partition(":")
    return time(int(hours), int(minutes or 0))


@router.post("/messaging/policy")
def save_policy_form(
    request: Request,
    session: DbSession,
    user: MayMessage,
    email_cap: Annotated[float, Form(ge=0, le=24 * 14)] = 16,
    sms_cap: Annotated[float, Form(ge=0, le=24 * 14)] = 24,
    whatsapp_cap: Annotated[float, Form(ge=0, le=24 * 14)] = 24,
    quiet_start: Annotated[str | None, Form(pattern=r"^\d{1,2}:\d{2}$")] = None,
    quiet_end: Annotated[str | None, Form(pattern=r"^\d{1,2}:\d{2}$")] = None,
    quiet_weekend: Annotated[bool, Form()] = False,
    quiet_holidays: Annotated[bool, Form()] = False,
    holiday_country: Annotated[str | None, Form(max_length=2)] = None,
    double_opt_in: Annotated[bool, Form()] = False,
) -> Response:
    current = load_policy(session)
    try:
        window = QuietWindow(start=_clock(quiet_start, time(21)), end=_clock(quiet_end, time(8)))
        policy = MessagingPolicy(
            email=ChannelPolicy(
                cap_hours=email_cap, quiet=window, by_weekday=current.email.by_weekday
            ),
            sms=ChannelPolicy(cap_hours=sms_cap, quiet=window, by_weekday=current.sms.by_weekday),
            whatsapp=ChannelPolicy(
                cap_hours=whatsapp_cap, quiet=window, by_weekday=current.whatsapp.by_weekday
            ),
            quiet_weekend=quiet_weekend,
            quiet_holidays=quiet_holidays,
            holiday_country=(holiday_country or "").upper() or None,
            quiet_days=current.quiet_days,
            double_opt_in=double_opt_in,
            soft_bounce_limit=current.soft_bounce_limit,
            retry_minutes=current.retry_minutes,
        )
    except (ValidationError, ValueError):
        flash(request, N_("Quiet hours must be times like 21:00."), kind="error")
        return RedirectResponse("/messaging", status_code=303)
    save_policy(session, policy, by=staff_label(user))
    flash(request, N_("Message rules saved."))
    return RedirectResponse("/messaging", status_code=303)


@router.post("/messaging/test")
def send_test_to_me(request: Request, settings: AppSettings, user: MayMessage) -> Response:
    result = checks.send_test(settings, to=user.email, channel="email", locale=user.locale)
    if result.outcome is Outcome.sent:
        flash(request, N_("A test email was sent to %(address)s."), address=user.email)
    else:
        flash(
            request,
            N_("The test could not be sent: %(reason)s"),
            kind="error",
            reason=result.detail or result.outcome.value,
        )
    return RedirectResponse("/messaging", status_code=303)
