"""What a message about a gathering may say (the flows' ``gathering`` variable).

Names and times are given per language (``name_fa``, ``when_fa``, ...), each already in
that language's calendar: Persian in the Solar Hijri calendar (Persian readers expect
it), English and Arabic in the business calendar; times in the business's timezone. The
template turns the digits with ``|digits(locale)``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import jdatetime
from babel.dates import format_date
from sqlalchemy.orm import Session

from wafa.core.calendars import local_date, ymd
from wafa.core.settings import CalendarKind, Settings
from wafa.core.time import utcnow
from wafa.gatherings import links
from wafa.gatherings.models import Gathering

LANGUAGES = ("en", "ar", "fa")


def when_text(starts_at: datetime, ends_at: datetime, *, language: str, settings: Settings) -> str:
    """``Sunday 20 December 2026, 19:00–21:00`` in ``language`` (Jalali for Persian)."""
    zone: ZoneInfo = settings.zone
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    day = start.date()
    if language == "fa":
        j = jdatetime.date.fromgregorian(date=day)
        text = (
            f"{jdatetime.date.j_weekdays_fa[j.weekday()]} {j.day} "
            f"{jdatetime.date.j_months_fa[j.month - 1]} {j.year}"
        )
    elif settings.calendar == CalendarKind.jalali:
        y, m, d = ymd(day, CalendarKind.jalali)
        text = f"{y:04d}/{m:02d}/{d:02d}"
    else:
        text = format_date(day, "full", locale=language)
    hours = f"{start:%H:%M}–{end:%H:%M}"
    if end.date() != start.date():
        hours = f"{start:%H:%M}–{end:%Y-%m-%d %H:%M}"
    return f"{text}{'، ' if language in ('ar', 'fa') else ', '}{hours}"


def message_context(
    session: Session, *, settings: Settings, gathering_id: str | uuid.UUID, customer_id: uuid.UUID
) -> dict[str, Any]:
    """The ``gathering`` variable of a message to ``customer_id``: names and times per
    language, the place, the points for attending and the signed yes/no links."""
    gathering = session.get(Gathering, uuid.UUID(str(gathering_id)))
    if gathering is None:
        return {}
    signer = links.signer(session, settings)
    values: dict[str, Any] = {
        "id": str(gathering.id),
        "place": gathering.place,
        "points": gathering.points,
        "capacity": gathering.capacity,
        "status": gathering.status,
        # Whether the message goes on the event's own local day (a late reminder says
        # "today", not "tomorrow").
        "today": local_date(utcnow(), settings.zone)
        == local_date(gathering.starts_at, settings.zone),
    }
    for language in LANGUAGES:
        values[f"name_{language}"] = gathering.name_in(language)
        values[f"when_{language}"] = when_text(
            gathering.starts_at, gathering.ends_at, language=language, settings=settings
        )
    for answer in ("yes", "no"):
        values[f"{answer}_url"] = links.rsvp_url(
            session,
            settings=settings,
            gathering=gathering,
            customer_id=customer_id,
            answer=answer,
            links=signer,
        )
    return values
