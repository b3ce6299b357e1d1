"""Dashboard pages for members-only events (managers and owners): the list, a new event,
editing one, one event's page (seats, the waiting list in order, answers, check-ins;
send the invitations, cancel, check someone in at the door)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.auth.models import Role, StaffUser
from wafa.auth.permissions import Permission
from wafa.core.calendars import local_date, ymd
from wafa.core.errors import Invalid
from wafa.core.settings import Settings
from wafa.core.text import ascii_number
from wafa.core.time import utcnow
from wafa.gatherings import service
from wafa.gatherings.models import Gathering
from wafa.gatherings.schemas import GatheringCreate, GatheringUpdate
from wafa.messaging.segments import service as segments
from wafa.web import forms
from wafa.web.auth import permitted, see_other, staff_label
from wafa.web.forms import FormData, FormReader, form_calendar
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.pages import CustomerPanel
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)
MayManage = Annotated[StaffUser, permitted(Permission.manage_events)]
MayServe = Annotated[StaffUser, permitted(Permission.serve)]

NAV = NavItem(N_("Events"), "/events", min_role=Role.manager, icon="calendar", order=46)

#: How the dashboard names an event's state and an answer (msgids).
STATUS_LABELS = {
    "draft": N_("Draft: nobody invited yet"),
    "inviting": N_("Sending the invitations"),
    "open": N_("Invited: taking answers"),
    "cancelled": N_("Cancelled"),
}
ANSWER_LABELS = {
    "yes": N_("Coming"),
    "waiting": N_("Waiting"),
    "invited": N_("No answer yet"),
    "no": N_("Cannot come"),
}

#: What staff read after answering for a customer (a seat, or cannot come).
SAVED = {
    "yes": N_("Saved: coming, with a seat."),
    "no": N_("Saved: cannot come."),
    "invited": N_("Saved."),
}

CHOOSE = N_("Choose an answer: coming, waiting or cannot come.")

_CLOCK = re.compile(r"^(\d{1,2})[:.](\d{2})$")
TIME = N_("Type a time as hours:minutes, e.g. 19:30.")


def _clock(f: FormReader, name: str) -> time | None:
    value = ascii_number(f.raw(name)).replace(" ", "")
    found = _CLOCK.match(value)
    if not found or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        f.error(name, TIME)
        return None
    return time(int(found.group(1)), int(found.group(2)))


def _read(request: Request, form: FormData, settings: Settings) -> dict[str, Any]:
    """The event form's fields, checked (``Invalid`` naming the field). The day is typed
    in the reader's calendar (Jalali in Persian), the times in the business's zone; an
    end earlier than the start is the next day's."""
    f = FormReader(form, calendar=form_calendar(request, settings), zone=settings.zone)
    values: dict[str, Any] = {
        "name_en": f.text("name_en", required=True),
        "name_ar": f.text("name_ar"),
        "name_fa": f.text("name_fa"),
        "place": f.text("place", required=True, max_length=300),
        "capacity": f.integer("capacity", required=True, minimum=1, maximum=100_000),
        "points": f.integer("points", minimum=0, maximum=1_000_000) or 0,
        "segment_id": f.reference("segment_id"),
    }
    day = f.day("day")
    if day is None and "day" not in f.errors:
        f.error("day", forms.REQUIRED)
    start, end = _clock(f, "starts_at"), _clock(f, "ends_at")
    f.check()
    assert day is not None
    assert start is not None
    assert end is not None
    starts_at = datetime.combine(day, start, tzinfo=settings.zone)
    ends_at = datetime.combine(day, end, tzinfo=settings.zone)
    if ends_at <= starts_at:
        ends_at += timedelta(days=1)
    values["starts_at"], values["ends_at"] = starts_at, ends_at
    return values


def _values_of(request: Request, settings: Settings, g: Gathering) -> dict[str, Any]:
    calendar = form_calendar(request, settings)
    y, m, d = ymd(local_date(g.starts_at, settings.zone), calendar)
    zone = settings.zone
    return {
        "name_en": g.name_en,
        "name_ar": g.name_ar or "",
        "name_fa": g.name_fa or "",
        "place": g.place,
        "capacity": str(g.capacity),
        "points": str(g.points),
        "segment_id": str(g.segment_id or ""),
        "day": f"{y:04d}-{m:02d}-{d:02d}",
        "starts_at": f"{g.starts_at.astimezone(zone):%H:%M}",
        "ends_at": f"{g.ends_at.astimezone(zone):%H:%M}",
    }


def _day_example(request: Request, settings: Settings) -> str:
    y, m, d = ymd(local_date(utcnow(), settings.zone), form_calendar(request, settings))
    return f"{y:04d}-{m:02d}-{d:02d}"


def _form(
    request: Request,
    session: Any,
    settings: Settings,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    editing: Gathering | None = None,
) -> HTMLResponse:
    return render(
        request,
        "gatherings/form.html",
        {
            "values": values or {},
            "errors": errors or {},
            "editing": editing,
            "segments": segments.segment_choices(session),
            "day_example": _day_example(request, settings),
        },
        status_code=status_code,
    )


@router.get("/events", response_class=HTMLResponse)
def event_list(request: Request, session: ReadSession, user: MayManage) -> HTMLResponse:
    past = request.query_params.get("past") == "1"
    rows = [(g, service.counts(session, g.id)) for g in service.list_gatherings(session, past=past)]
    return render(
        request,
        "gatherings/list.html",
        {"rows": rows, "past": past, "status_labels": STATUS_LABELS},
    )


@router.get("/events/new", response_class=HTMLResponse)
def new_event(
    request: Request, session: ReadSession, settings: AppSettings, user: MayManage
) -> HTMLResponse:
    return _form(request, session, settings, values={"capacity": "30", "points": "0"})


@router.post("/events/new", response_class=HTMLResponse)
def create_event(
    request: Request, session: DbSession, settings: AppSettings, user: MayManage, form: FormData
) -> Response:
    def save() -> Response:
        data = GatheringCreate.model_validate(_read(request, form, settings))
        g = service.create_gathering(session, settings=settings, data=data, by=staff_label(user))
        flash(request, N_("Event %(name)s created."), name=g.name_en)
        return see_other(f"/events/{g.id}")

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _form(
            request, session, settings, values=form, errors=errors, status_code=status
        ),
    )


@router.get("/events/{event_id}/edit", response_class=HTMLResponse)
def edit_event(
    event_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayManage,
) -> HTMLResponse:
    g = service.get_gathering(session, event_id)
    return _form(request, session, settings, values=_values_of(request, settings, g), editing=g)


@router.post("/events/{event_id}/edit", response_class=HTMLResponse)
def save_event(
    event_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayManage,
    form: FormData,
) -> Response:
    g = service.get_gathering(session, event_id)

    def save() -> Response:
        data = GatheringUpdate.model_validate(_read(request, form, settings))
        service.update_gathering(session, settings=settings, gathering_id=g.id, data=data)
        flash(request, N_("Event %(name)s saved."), name=g.name_en)
        return see_other(f"/events/{g.id}")

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _form(
            request, session, settings, values=form, errors=errors, status_code=status, editing=g
        ),
    )


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event_page(
    event_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayManage,
) -> HTMLResponse:
    g = service.get_gathering(session, event_id)
    status = request.query_params.get("status") or None
    today = local_date(utcnow(), settings.zone)
    return render(
        request,
        "gatherings/detail.html",
        {
            "event": g,
            "counts": service.counts(session, g.id),
            "rows": service.rsvps(session, g.id, status=status),
            "status": status,
            "segment": segments.get_segment(session, g.segment_id) if g.segment_id else None,
            "status_labels": STATUS_LABELS,
            "answer_labels": ANSWER_LABELS,
            "answers_open": answers_open(g, utcnow()),
            "check_in_open": local_date(g.starts_at, settings.zone)
            <= today
            <= local_date(g.ends_at, settings.zone),
        },
    )


@router.post("/events/{event_id}/invite", response_class=HTMLResponse)
def invite(event_id: uuid.UUID, request: Request, session: DbSession, user: MayManage) -> Response:
    def work() -> Response:
        service.send_invitations(session, gathering_id=event_id)
        flash(request, N_("Invitations are on their way: the worker sends them in a few minutes."))
        return see_other(f"/events/{event_id}")

    return forms.submit(
        request,
        session,
        work,
        redraw=forms.back_with_message(request, f"/events/{event_id}"),
        refusals=(forms.Refusal(service.GatheringClosed, N_("This event takes no answers now.")),),
    )


@router.post("/events/{event_id}/cancel", response_class=HTMLResponse)
def cancel(event_id: uuid.UUID, request: Request, session: DbSession, user: MayManage) -> Response:
    g = service.cancel_gathering(session, gathering_id=event_id)
    flash(
        request,
        N_("Event %(name)s cancelled; those with a seat or waiting are told."),
        name=g.name_en,
    )
    return see_other(f"/events/{event_id}")


_CHECK_IN_REFUSALS = (
    forms.Refusal(service.GatheringClosed, N_("Check-in is open on the day of the event only.")),
    forms.Refusal(service.NotComing, N_("This customer has no seat at this event.")),
    forms.Refusal(service.NotInvited, N_("This customer is not invited to this event.")),
)


@router.post("/events/{event_id}/check-in/{customer_id}", response_class=HTMLResponse)
def check_in(
    event_id: uuid.UUID,
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayServe,
) -> Response:
    back = request.query_params.get("back") or f"/events/{event_id}"
    if not back.startswith("/") or back.startswith("//"):
        back = f"/events/{event_id}"

    def work() -> Response:
        rsvp = service.check_in(
            session,
            settings=settings,
            gathering_id=event_id,
            customer_id=customer_id,
            by=staff_label(user),
        )
        if rsvp.points_awarded:
            flash(
                request, N_("Checked in: %(points)s points for coming."), points=rsvp.points_awarded
            )
        else:
            flash(request, N_("Checked in."))
        return see_other(back)

    return forms.submit(
        request,
        session,
        work,
        redraw=forms.back_with_message(request, back),
        refusals=_CHECK_IN_REFUSALS,
    )


def answers_open(g: Gathering, now: datetime) -> bool:
    """Whether the event takes answers now (staff's too): invited, not started."""
    return g.status in ("open", "inviting") and g.starts_at > now


_ANSWER_REFUSALS = (
    forms.Refusal(service.GatheringClosed, N_("This event takes no answers now.")),
    forms.Refusal(service.NotInvited, N_("This customer is not invited to this event.")),
    forms.Refusal(
        service.SeatFree,
        N_("A seat is free: choose Coming to give it to this customer."),
        field="answer",
    ),
    forms.Refusal(
        service.NobodyWaiting,
        N_("Nobody is waiting for this seat: it would stay empty."),
        field="answer",
    ),
)


@router.post("/events/{event_id}/answer/{customer_id}", response_class=HTMLResponse)
def answer_for(
    event_id: uuid.UUID,
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    user: MayManage,
    form: FormData,
) -> Response:
    """Staff answer for an invited customer (on the phone, at the counter): the same
    service as the customer's own answer, so the seat guard and the waiting list hold and
    a seat given up goes to the first who waits, who is told."""
    back = request.query_params.get("back") or f"/events/{event_id}"
    if not back.startswith("/") or back.startswith("//"):
        back = f"/events/{event_id}"

    def work() -> Response:
        chosen = form.get("answer", "")
        if chosen not in ("yes", "waiting", "no"):
            raise Invalid.field(("answer",), CHOOSE)
        rsvp = service.answer(
            session, gathering_id=event_id, customer_id=customer_id, answer=chosen, source="staff"
        )
        if rsvp.status == "waiting":
            flash(request, N_("Saved: on the waiting list, number %(n)s."), n=rsvp.waiting_seq)
        else:
            flash(request, SAVED[rsvp.status])
        return see_other(back)

    return forms.submit(
        request,
        session,
        work,
        redraw=forms.back_with_message(request, back),
        refusals=_ANSWER_REFUSALS,
    )


def _profile_panel(session: Any, customer: Any) -> dict[str, Any] | None:
    """The customer's invitations to events not over yet (hidden when none), each with
    the staff's answer form while the event takes answers."""
    now = utcnow()
    rows = service.invitations_for(session, customer_id=customer.id, now=now)
    if not rows:
        return None
    return {
        "rows": [(r, g, answers_open(g, now)) for r, g in rows],
        "answer_labels": ANSWER_LABELS,
        "customer": customer,
    }


PANEL = CustomerPanel(
    "events",
    template="gatherings/_profile_panel.html",
    load=_profile_panel,
    min_role=Role.manager,
    column="side",
    order=65,
)
