"""Dashboard pages for flows: the list with each flow's switch, and a flow's page (its
trigger, steps with what each did, templates per language, and the lift report)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from wafa.api.deps import AppSettings, DbSession
from wafa.auth.models import Role
from wafa.core.text import ascii_number
from wafa.flows import presets, service
from wafa.flows.engine import definition_of
from wafa.flows.history import ways
from wafa.flows.lift import flow_lift
from wafa.flows.spec import CouponStep, PointsStep, SendStep, WaitStep
from wafa.messaging.segments import service as segments
from wafa.web import forms
from wafa.web.auth import MayMessage, see_other, staff_label
from wafa.web.forms import FormData, FormReader, amount_text
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.pages import CustomerPanel, Pages
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

OUTCOMES = {
    "sent": N_("sent"),
    "held_out": N_("held out"),
    "filtered": N_("no longer in the filter"),
    "unreachable": N_("not reachable"),
    "waited": N_("waited"),
    "branched": N_("checked"),
    "issued": N_("given"),
    "late": N_("too late: not sent"),
}


@router.get("/flows", response_class=HTMLResponse)
def flow_list(request: Request, session: DbSession, user: MayMessage) -> HTMLResponse:
    presets.ensure_presets(session)
    rows = [(f, service.flow_counts(session, f.id)) for f in service.list_flows(session)]
    return render(request, "flows/list.html", {"rows": rows})


def _steps(flow: Any, counts: dict[str, dict[str, int]], waiting: dict[str, int]) -> list[Any]:
    out = []
    for step in definition_of(flow).steps:
        out.append(
            {
                "key": step.key,
                "type": step.type,
                "template": step.template if isinstance(step, SendStep) else None,
                "channel": step.channel if isinstance(step, SendStep) else None,
                "fallback": step.fallback if isinstance(step, SendStep) else None,
                "step": step,
                "counts": counts.get(step.key, {}),
                "waiting": waiting.get(step.key, 0),
            }
        )
    return out


def _page(
    request: Request,
    session: Any,
    settings: Any,
    key: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    flow = service.get_flow(session, key)
    definition = definition_of(flow)
    choices = segments.segment_choices(session)
    audience = _audience(choices, definition.filters)
    return render(
        request,
        "flows/flow.html",
        {
            "flow": flow,
            "trigger": definition.trigger,
            "definition": definition,
            "counts": service.flow_counts(session, flow.id),
            "steps": _steps(
                flow, service.step_counts(session, flow.id), service.waiting_at(session, flow.id)
            ),
            "lift": flow_lift(session, settings=settings, flow=flow),
            "outcomes": OUTCOMES,
            "values": {
                "holdout_percent": str(flow.holdout_percent),
                "conversion_days": str(flow.conversion_days),
                "cooldown_days": str(definition.cooldown_days),
                "segment": audience,
                **_wait_values(definition),
                **_step_values(definition, settings.currency),
                **(values or {}),
            },
            "waits": [s for s in definition.steps if isinstance(s, WaitStep)],
            "editable": [
                s for s in definition.steps if isinstance(s, SendStep | CouponStep | PointsStep)
            ],
            "channels": CHANNELS,
            "currency": settings.currency,
            "segments": choices,
            "audience": audience,
            "errors": errors or {},
        },
        status_code=status_code,
    )


def _submit(
    request: Request,
    session: Any,
    settings: Any,
    key: str,
    form: FormData,
    save: Callable[[], Response],
) -> Response:
    """Run one of the flow page's forms: ``save``, or the page drawn again with what was
    typed and a message per field."""
    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _page(
            request, session, settings, key, values=form, errors=errors, status_code=status
        ),
    )


@router.get("/flows/{key}", response_class=HTMLResponse)
def flow_page(
    key: str, request: Request, session: DbSession, settings: AppSettings, user: MayMessage
) -> HTMLResponse:
    presets.ensure_presets(session)
    return _page(request, session, settings, key)


@router.post("/flows/{key}/settings", response_class=HTMLResponse)
def save_settings(
    key: str,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayMessage,
    form: FormData,
) -> Response:
    def save() -> Response:
        flow = service.get_flow(session, key)
        reader = FormReader(form)
        holdout = (
            reader.integer("holdout_percent", required=True, minimum=0, maximum=50)
            if flow.kind == "marketing"
            else 0
        )
        days = reader.integer("conversion_days", required=True, minimum=1, maximum=365)
        cooldown = reader.integer("cooldown_days", required=True, minimum=0, maximum=3650)
        reader.check()
        definition = definition_of(flow).model_dump(mode="json")
        definition["cooldown_days"] = cooldown
        service.update_flow(
            session,
            key=key,
            by=staff_label(user),
            definition=definition,
            holdout_percent=holdout,
            conversion_days=days,
        )
        flash(request, N_("Flow saved."))
        return see_other(f"/flows/{key}")

    return _submit(request, session, settings, key, form, save)


WAIT_FIELDS = ("days", "hours", "minutes", "at")
#: The largest value of each duration field (as the flow's definition allows).
WAIT_LIMITS = {"days": 400, "hours": 23 * 400, "minutes": 59 * 400}
CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _wait_values(definition: Any) -> dict[str, str]:
    values: dict[str, str] = {}
    for step in definition.steps:
        if isinstance(step, WaitStep):
            for name in WAIT_FIELDS:
                value = getattr(step, name)
                values[f"w_{step.key}_{name}"] = "" if value in (None, 0) else str(value)
    return values


def read_waits(reader: FormReader, definition: Any) -> dict[str, Any]:
    """The flow's definition with each wait step as the form says (errors per field)."""
    data: dict[str, Any] = definition.model_dump(mode="json")
    for step in data["steps"]:
        if step["type"] != "wait":
            continue
        prefix = f"w_{step['key']}_"
        for name, limit in WAIT_LIMITS.items():
            step[name] = reader.integer(prefix + name, minimum=0, maximum=limit, default=0)
        at = ascii_number(reader.raw(prefix + "at"))
        found = CLOCK.match(at)
        if at and not found:
            reader.error(prefix + "at", N_("A local time as HH:MM (00:00 to 23:59), or empty."))
        step["at"] = f"{int(found.group(1)):02d}:{found.group(2)}" if found else None
        if not (step["days"] or step["hours"] or step["minutes"] or step["at"]):
            reader.error(prefix + "days", N_("Wait a duration, until a time of day, or both."))
    return data


@router.post("/flows/{key}/waits", response_class=HTMLResponse)
def save_waits(
    key: str,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayMessage,
    form: FormData,
) -> Response:
    """Change the flow's waits. Customers already waiting keep the time they were given
    (their next step is due then); nobody gets a step twice (steps keep their keys)."""

    def save() -> Response:
        flow = service.get_flow(session, key)
        reader = FormReader(form)
        data = read_waits(reader, definition_of(flow))
        reader.check()
        service.update_flow(session, key=key, by=staff_label(user), definition=data)
        flash(request, N_("Waits saved. Customers already waiting keep their time."))
        return see_other(f"/flows/{key}")

    return _submit(request, session, settings, key, form, save)


@router.post("/flows/{key}/switch")
def switch(key: str, request: Request, session: DbSession, user: MayMessage) -> Response:
    flow = service.get_flow(session, key)
    was_on = flow.enabled
    service.set_enabled(session, key=key, enabled=not was_on, by=staff_label(user))
    if not was_on:
        flash(request, N_("%(name)s is on."), name=flow.name)
    else:
        flash(request, N_("%(name)s is off: nobody enters; those in it wait."), name=flow.name)
    return see_other(f"/flows/{key}" if request.query_params.get("back") == "page" else "/flows")


def _panel(session: Any, customer: Any) -> dict[str, Any] | None:
    found = ways(session, customer.id, limit=5)
    return {"ways": found} if found else None


PAGES = Pages(
    routers=(router,),
    panels=(
        CustomerPanel(
            "flows", template="flows/_profile_panel.html", load=_panel, column="side", order=60
        ),
    ),
    nav=(
        NavItem(
            N_("Flows"),
            "/flows",
            min_role=Role.manager,
            icon="repeat",
            order=61,
            section=N_("Messages"),
        ),
    ),
)


# ----------------------------------------------------------------------------- audience

#: The form's value for "the flow's own rules, set through the API" (kept as they are).
CUSTOM = "custom"


def _audience(choices: list[Any], filters: dict[str, Any]) -> str:
    """The form value naming the flow's filter: "" (everyone), a saved segment whose rules
    are the flow's, or :data:`CUSTOM`."""
    if filters == {"all": []}:
        return ""
    for segment in choices:
        if segments.stored_rules(segment).as_json() == filters:
            return str(segment.id)
    return CUSTOM


@router.post("/flows/{key}/audience", response_class=HTMLResponse)
def save_audience(
    key: str,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayMessage,
    form: FormData,
) -> Response:
    """Who may receive the flow's messages: everyone, or a saved segment's customers.
    The segment's rules are copied into the flow and re-checked before every send, so a
    later change to the segment does not change a running flow."""

    def save() -> Response:
        flow = service.get_flow(session, key)
        reader = FormReader(form)
        choice = reader.raw("segment")
        data: dict[str, Any] = definition_of(flow).model_dump(mode="json")
        if choice == CUSTOM:
            return see_other(f"/flows/{key}")
        if choice:
            segment_id = reader.reference("segment")
            reader.check()
            assert segment_id is not None
            segment = segments.get_live_segment(session, segment_id)
            data["filters"] = segments.stored_rules(segment).as_json()
        else:
            data["filters"] = {"all": []}
        service.update_flow(session, key=key, by=staff_label(user), definition=data)
        flash(request, N_("Saved. The rules are checked again before every message."))
        return see_other(f"/flows/{key}")

    return _submit(request, session, settings, key, form, save)


# ----------------------------------------------------------------------------- offers

CHANNELS = ("email", "sms", "whatsapp")


def _step_values(definition: Any, currency: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for step in definition.steps:
        k = step.key
        if isinstance(step, SendStep):
            values[f"s_{k}_channel"] = step.channel
            values[f"s_{k}_fallback"] = step.fallback or ""
        elif isinstance(step, CouponStep):
            values[f"c_{k}_name"] = step.name
            values[f"c_{k}_percent"] = "" if step.percent is None else str(step.percent)
            values[f"c_{k}_amount"] = amount_text(step.amount, currency)
            values[f"c_{k}_valid_days"] = str(step.valid_days)
        elif isinstance(step, PointsStep):
            values[f"p_{k}_points"] = str(step.points)
    return values


def read_steps(reader: FormReader, definition: Any) -> dict[str, Any]:
    """The flow's definition with each message's channels, coupon and points as the form
    says (one message per field)."""
    data: dict[str, Any] = definition.model_dump(mode="json")
    for step in data["steps"]:
        k = step["key"]
        if step["type"] == "send":
            channel = reader.choice(f"s_{k}_channel", CHANNELS)
            if channel is None and f"s_{k}_channel" not in reader.errors:
                reader.error(f"s_{k}_channel", N_("Choose a channel."))
            fallback = reader.choice(f"s_{k}_fallback", CHANNELS)
            if fallback is not None and fallback == channel:
                reader.error(f"s_{k}_fallback", N_("The second choice must be another channel."))
            step["channel"] = channel or step["channel"]
            step["fallback"] = fallback
        elif step["type"] == "coupon":
            step["name"] = reader.text(f"c_{k}_name", required=True) or step["name"]
            percent = reader.integer(f"c_{k}_percent", minimum=1, maximum=100)
            amount = reader.money(f"c_{k}_amount")
            if amount == 0:
                reader.error(f"c_{k}_amount", N_("Give a percent or an amount, not both."))
            if (percent is None) == (amount is None):
                reader.error(f"c_{k}_percent", N_("Give a percent or an amount, not both."))
            step["percent"], step["amount"] = percent, amount
            step["valid_days"] = reader.integer(
                f"c_{k}_valid_days", required=True, minimum=1, maximum=365
            )
        elif step["type"] == "points":
            step["points"] = reader.integer(
                f"p_{k}_points", required=True, minimum=1, maximum=1_000_000
            )
    return data


@router.post("/flows/{key}/steps", response_class=HTMLResponse)
def save_steps(
    key: str,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayMessage,
    form: FormData,
) -> Response:
    """Change the channels of the flow's messages and its coupons and points. Steps keep
    their keys: nobody past a step receives it again, and those waiting get the new offer."""

    def save() -> Response:
        flow = service.get_flow(session, key)
        reader = FormReader(form, currency=settings.currency)
        data = read_steps(reader, definition_of(flow))
        reader.check()
        service.update_flow(session, key=key, by=staff_label(user), definition=data)
        flash(request, N_("Steps saved. Nobody receives a step twice."))
        return see_other(f"/flows/{key}")

    return _submit(request, session, settings, key, form, save)
