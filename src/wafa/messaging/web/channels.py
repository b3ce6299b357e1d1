"""The channels page: each channel's settings and health, the queue at a glance, the
policy (caps, quiet hours, quiet days, double opt-in) and "send a test to me"."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.auth.models import Role
from wafa.core.settings import Settings
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
from wafa.web import forms
from wafa.web.auth import MayMessage, staff_label
from wafa.web.forms import FormData, FormReader
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


WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
#: An evening's quiet hours: as every evening, its own, or none.
SAME, OWN, NONE = "same", "own", "none"
TIME_FORMAT = N_("Enter a time as hours:minutes, like 21:00.")
SAME_TIMES = N_("From and until must differ; for no quiet hours that evening choose None.")
CHOICE = N_("Choose one of the options.")


def weekday_values(policy: MessagingPolicy) -> dict[str, str]:
    """The weekday form's fields from the stored policy (every channel has the same)."""
    values: dict[str, str] = {}
    for day in range(7):
        if day not in policy.email.by_weekday:
            values[f"quiet_{day}"] = SAME
            continue
        window = policy.email.by_weekday[day]
        values[f"quiet_{day}"] = OWN if window is not None else NONE
        if window is not None:
            values[f"from_{day}"] = window.start.strftime("%H:%M")
            values[f"until_{day}"] = window.end.strftime("%H:%M")
    return values


def read_weekdays(form: Mapping[str, Any]) -> dict[int, QuietWindow | None]:
    """Each weekday's own quiet window (``None``: no quiet hours that evening) from the
    posted form; a day left as every evening is absent. Every problem named by its field."""
    f = FormReader(form)
    windows: dict[int, QuietWindow | None] = {}
    for day in range(7):
        choice = f.raw(f"quiet_{day}") or SAME
        if choice == NONE:
            windows[day] = None
        elif choice == OWN:
            start, end = f.clock(f"from_{day}", TIME_FORMAT), f.clock(f"until_{day}", TIME_FORMAT)
            if start is not None and end is not None:
                if start == end:
                    f.error(f"until_{day}", SAME_TIMES)
                else:
                    windows[day] = QuietWindow(start=start, end=end)
        elif choice != SAME:
            f.error(f"quiet_{day}", CHOICE)
    f.check()
    return windows


def _channels(
    request: Request,
    session: Session,
    settings: Settings,
    *,
    check: int = 0,
    weekday_form: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    health = {s.name: s for s in checks.channel_health(settings)} if check else {}
    policy = load_policy(session)
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
            "policy": policy,
            "dkim": bool(settings.dkim_key_file),
            "weekdays": WEEKDAYS,
            "values": weekday_form if weekday_form is not None else weekday_values(policy),
            "errors": errors or {},
            "checks": checks.last_checks(session),
        },
        status_code=status_code,
    )


@router.get("/messaging", response_class=HTMLResponse)
def channels_page(
    request: Request, session: ReadSession, settings: AppSettings, user: MayMessage, check: int = 0
) -> HTMLResponse:
    return _channels(request, session, settings, check=check)


@router.post("/messaging/policy/weekdays", response_class=HTMLResponse)
def save_weekdays_form(
    request: Request, session: DbSession, settings: AppSettings, user: MayMessage, form: FormData
) -> Response:
    """Quiet hours per weekday, the same for every channel (the rest of the policy kept)."""
    current = load_policy(session)

    def save() -> Response:
        windows = read_weekdays(form)
        changed = {
            name: current.channel(name).model_copy(update={"by_weekday": windows})
            for name in ("email", "sms", "whatsapp")
        }
        save_policy(session, current.model_copy(update=changed), by=staff_label(user))
        flash(request, N_("Quiet hours by weekday saved."))
        return RedirectResponse("/messaging#weekday-quiet", status_code=303)

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _channels(
            request, session, settings, weekday_form=form, errors=errors, status_code=status
        ),
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
