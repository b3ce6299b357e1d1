"""Preferences (consent per channel and topic, language, birthday) and my data (export,
erasure)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.core.errors import Invalid
from wafa.core.settings import CalendarKind, Settings
from wafa.core.text import ascii_digits
from wafa.customers.models import Customer
from wafa.customers.schemas import Birthday
from wafa.messaging import preferences
from wafa.messaging.models import Topic
from wafa.people import service as people
from wafa.portal import access, service
from wafa.portal.web.common import (
    Me,
    PortalRoute,
    cookie_secret,
    error_page,
    language_of,
    render,
)
from wafa.web import i18n
from wafa.web.i18n import N_
from wafa.web.templating import templates_of

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

TOPIC_LABELS = (
    (Topic.newsletters.value, N_("Newsletters")),
    (Topic.offers.value, N_("Offers and coupons")),
    (Topic.loyalty.value, N_("News about my points and rewards")),
    (Topic.surveys.value, N_("Surveys about my visits")),
)
CHANNEL_LABELS = {"email": N_("Email"), "sms": N_("SMS"), "whatsapp": N_("WhatsApp")}


BIRTHDAY_ERRORS = {
    "invalid": N_("This is not a day of the year. Check the day and the month."),
    "locked": N_("It can change again from %(date)s. The shop can correct it sooner."),
}


def _calendar(request: Request, settings: Settings, me: Customer) -> CalendarKind:
    """The calendar the birthday is typed in: the page's (Jalali for a Jalali business or a
    Persian reader)."""
    language = language_of(request, me)
    return i18n.DateContext(language, settings.zone, settings.calendar).display_calendar


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    me: Customer,
    *,
    birthday_error: str | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    held = preferences.read_preferences(session, customer_id=me.id)
    rule = service.birthday_rule(session, customer_id=me.id)
    return render(
        request,
        "portal/preferences.html",
        {
            "channels": [c for c in held.channels if c.address],
            "topic_labels": TOPIC_LABELS,
            "channel_labels": CHANNEL_LABELS,
            "saved": request.query_params.get("saved") == "1",
            "erase_sent": request.query_params.get("erase"),
            "at_counter": access.opened_at_counter(session, cookie_secret(request)),
            "data_link_sent": request.query_params.get("data-link"),
            "birthday": me.birthday,
            "birthday_rule": rule,
            "birthday_calendar": str(_calendar(request, settings, me)),
            "birthday_saved": request.query_params.get("birthday") == "1",
            "birthday_error": birthday_error,
            "typed": typed or {},
            "tab": "me",
        },
        status=status,
    )


@router.get("/portal/preferences")
def preferences_page(
    request: Request, session: ReadSession, settings: AppSettings, me: Me
) -> HTMLResponse:
    """What the customer agreed to receive, on which channel, in which language; their
    birthday."""
    return _page(request, session, settings, me)


@router.post("/portal/birthday")
def save_birthday(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    me: Me,
    day: Annotated[str, Form(max_length=4)] = "",
    month: Annotated[str, Form(max_length=4)] = "",
    year: Annotated[str, Form(max_length=6)] = "",
) -> Response:
    """Give the birthday (or change it once it has stood a year): day and month, the year
    if they like, in the page's calendar. Refused with the form shown again (422)."""
    typed = {"day": day, "month": month, "year": year}
    kind = _calendar(request, settings, me)
    try:
        digits = {k: ascii_digits(v).strip() for k, v in typed.items()}
        birthday = Birthday.model_validate(
            {
                "day": int(digits["day"]),
                "month": int(digits["month"]),
                "year": int(digits["year"]) if digits["year"] else None,
                "calendar": kind,
            }
        )
        service.set_birthday(session, settings=settings, customer_id=me.id, birthday=birthday)
    except service.BirthdayLocked as locked:
        session.rollback()
        message = i18n.gettext(
            language_of(request, me),
            BIRTHDAY_ERRORS["locked"],
            date=templates_date(request, locked.until, me),
        )
        return _page(request, session, settings, me, birthday_error=message, status=409)
    except (ValueError, ValidationError, Invalid):
        session.rollback()
        message = i18n.gettext(language_of(request, me), BIRTHDAY_ERRORS["invalid"])
        return _page(
            request, session, settings, me, birthday_error=message, typed=typed, status=422
        )
    return RedirectResponse("/portal/preferences?birthday=1#birthday", status_code=303)


def templates_date(request: Request, value: datetime, me: Customer) -> str:
    """A date as the portal page shows it (the reader's calendar and digits)."""
    language = language_of(request, me)
    return i18n.format_day(value, templates_of(request).date_context(language), style="long")


@router.post("/portal/preferences")
def save_preferences(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    me: Me,
    shown: Annotated[list[str] | None, Form()] = None,
    consent: Annotated[list[str] | None, Form()] = None,
    topic: Annotated[list[str] | None, Form()] = None,
    language: Annotated[str | None, Form(max_length=8)] = None,
) -> Response:
    """Ticked boxes arrive, unticked ones do not: ``shown`` names the channels on the form."""
    channels = set(shown or [])
    ticked = set(topic or [])
    service.save_preferences(
        session,
        customer_id=me.id,
        consent={ch: ch in set(consent or []) for ch in channels},
        topics={ch: {t: f"{ch}:{t}" in ticked for t, _ in TOPIC_LABELS} for ch in channels},
        language=language or None,
        settings=settings,
    )
    return RedirectResponse("/portal/preferences?saved=1", status_code=303)


@router.get("/portal/me/export.json")
def export(request: Request, session: ReadSession, me: Me) -> Response:
    """Everything held on the customer (people's export, every domain's share), as JSON.
    Not from a session opened by the QR code on the cashier's screen (a cashier could have
    scanned it): that session is offered a link to the customer's own email or phone."""
    if access.opened_at_counter(session, cookie_secret(request)):
        return error_page(request, status=403, code="opened-at-counter")
    data = people.export_customer(session, me.id, hooks=request.app.state.people_hooks)
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2, default=str),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="my-data.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/portal/me/data-link")
def send_data_link(request: Request, session: DbSession, settings: AppSettings, me: Me) -> Response:
    """Send a sign-in link to the customer's own email (else phone) that opens My data in
    a session of their own, from which the download works."""
    channel = access.send_link(
        session, settings=settings, customer_id=me.id, page="/portal/preferences"
    )
    return RedirectResponse(
        f"/portal/preferences?data-link={channel or 'none'}#my-data", status_code=303
    )


@router.post("/portal/me/erase")
def ask_erasure(request: Request, session: DbSession, settings: AppSettings, me: Me) -> Response:
    """Send the second link that confirms erasure; nothing is erased yet."""
    channel = service.request_erasure(session, settings=settings, customer_id=me.id)
    return RedirectResponse(f"/portal/preferences?erase={channel}#my-data", status_code=303)


@router.get("/portal/erase/{token}")
def erase_page(
    token: str, request: Request, session: ReadSession, settings: AppSettings
) -> HTMLResponse:
    """The second link: a button (a GET erases nothing; mail scanners open links)."""
    found = service.erasure_target(session, settings=settings, token=token)
    return render(
        request,
        "portal/erase.html",
        {"valid": found is not None, "done": False},
        status=200 if found is not None else 410,
    )


@router.post("/portal/erase/{token}")
def erase(token: str, request: Request, session: DbSession, settings: AppSettings) -> Response:
    """Erase everything held on the customer (people's erase); the portal session ends with it."""
    done = service.confirm_erasure(
        session, settings=settings, token=token, hooks=request.app.state.people_hooks
    )
    response = render(
        request, "portal/erase.html", {"valid": done, "done": done}, status=200 if done else 410
    )
    if done:
        response.delete_cookie("wafa_portal", path="/portal")
    return response
