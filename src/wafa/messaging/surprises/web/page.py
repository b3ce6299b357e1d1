"""The owner's Surprises page (Loyalty > Surprises): the rules (create, edit, pause), a
segment rule granted now to a segment, the latest grants and the cost per month.

It sits here, above loyalty, because a rule for a chosen segment needs messaging's
segments; the rules themselves are loyalty's (``wafa.loyalty.surprise.service``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.loyalty import queries as loyalty_queries
from wafa.loyalty import rewards as loyalty_rewards
from wafa.loyalty.models import SurpriseStatus, SurpriseTrigger
from wafa.loyalty.surprise import service as surprises
from wafa.loyalty.surprise.schemas import SurpriseRuleCreate, SurpriseRuleUpdate
from wafa.messaging.segments import service as segments
from wafa.messaging.surprises import service
from wafa.orders import service as orders
from wafa.web import forms
from wafa.web.auth import MayEditProgram, see_other, staff_label
from wafa.web.forms import FormData, FormReader
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

NAV = NavItem(
    N_("Surprises"),
    "/loyalty/surprises",
    min_role=Role.manager,
    icon="gift",
    order=49,
    section=N_("Loyalty"),
)

TRIGGERS: dict[str, str] = {
    SurpriseTrigger.nth_order: N_("On a customer's Nth order"),
    SurpriseTrigger.anniversary: N_("On the Nth anniversary of joining"),
    SurpriseTrigger.location_visit: N_("On the Nth visit to a location"),
    SurpriseTrigger.random: N_("At random: 1 in N purchases"),
    SurpriseTrigger.segment: N_("For a segment I choose, when I say so"),
}
GIVES: dict[str, str] = {"points": N_("Points"), "reward": N_("A reward (coupon or free product)")}


def _choices(session: Session) -> dict[str, Any]:
    return {
        "triggers": list(TRIGGERS.items()),
        "gives": list(GIVES.items()),
        "locations": [(str(loc.id), loc.name) for loc in orders.list_locations(session)],
        "rewards": [(str(r.id), r.name) for r in loyalty_rewards.list_rewards(session)],
    }


def read_rule(form: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The rule's fields from the form (the service checks that they fit together)."""
    f = FormReader(form, currency=settings.currency)
    values: dict[str, Any] = {
        "name": f.text("name", required=True),
        "count": f.integer("count", minimum=1, maximum=1_000_000),
        "location_id": f.reference("location_id"),
        "min_order_amount": f.money("min_order_amount", default=0),
        "cost_amount": f.money("cost_amount"),
        "monthly_budget_amount": f.money("monthly_budget_amount"),
    }
    if f.choice("gives", GIVES) == "reward":
        values["reward_id"] = f.reference("reward_id")
        if values["reward_id"] is None:
            f.error("reward_id", forms.REQUIRED)
    else:
        values["points"] = f.integer("points", required=True, minimum=1)
    f.check()
    return values


def _form(
    request: Request,
    session: Session,
    *,
    rule_id: uuid.UUID | None,
    values: Mapping[str, Any],
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "loyalty/surprise_form.html",
        {
            "rule_id": rule_id,
            "values": values,
            "errors": errors or {},
            "currency": request.app.state.settings.currency,
            **_choices(session),
        },
        status_code=status_code,
    )


def _field_for(loc: tuple[str | int, ...]) -> str:
    name = str(loc[-1]) if loc else "__all__"
    return "gives" if name == "points_or_reward" else name


@router.get("/loyalty/surprises", response_class=HTMLResponse)
def surprises_page(
    request: Request, session: ReadSession, settings: AppSettings, user: MayEditProgram
) -> HTMLResponse:
    rules = surprises.list_rules(session)
    grants = surprises.list_grants(session, limit=30)
    return render(
        request,
        "loyalty/surprises.html",
        {
            "rules": rules,
            "rule_names": {r.id: r.name for r in rules},
            "spent": surprises.spent_this_month(session, settings=settings),
            "costs": surprises.monthly_costs(session, settings=settings),
            "grants": grants,
            "names": loyalty_queries.customer_names(session, [g.customer_id for g in grants]),
            "segments": [(str(s.id), s.name) for s in segments.segment_choices(session)],
            "triggers": TRIGGERS,
            "currency": settings.currency,
            "rewards": {str(r.id): r.name for r in loyalty_rewards.list_rewards(session)},
        },
    )


@router.get("/loyalty/surprises/new", response_class=HTMLResponse)
def new_rule(request: Request, session: ReadSession, user: MayEditProgram) -> HTMLResponse:
    return _form(request, session, rule_id=None, values={"trigger": "nth_order", "gives": "points"})


@router.post("/loyalty/surprises/new", response_class=HTMLResponse)
def create_rule(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayEditProgram,
    form: FormData,
) -> Response:
    def save() -> Response:
        trigger = FormReader(form).choice("trigger", TRIGGERS)
        values = read_rule(form, settings)
        rule = surprises.create_rule(
            session,
            settings=settings,
            data=SurpriseRuleCreate.model_validate({**values, "trigger": trigger}),
            by=staff_label(user),
        )
        flash(request, N_("Surprise %(name)s saved."), name=rule.name)
        return see_other("/loyalty/surprises")

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _form(
            request, session, rule_id=None, values=form, errors=errors, status_code=status
        ),
        field_for=_field_for,
    )


def _values(rule: Any) -> dict[str, str]:
    def amount(value: int | None) -> str:
        return forms.amount_text(value, rule.currency) if value is not None else ""

    return {
        "name": rule.name,
        "trigger": rule.trigger,
        "count": str(rule.count or ""),
        "location_id": str(rule.location_id or ""),
        "min_order_amount": amount(rule.min_order_amount) if rule.min_order_amount else "",
        "gives": "points" if rule.points else "reward",
        "points": str(rule.points or ""),
        "reward_id": str(rule.reward_id or ""),
        "cost_amount": amount(rule.unit_cost_amount),
        "monthly_budget_amount": amount(rule.monthly_budget_amount),
    }


@router.get("/loyalty/surprises/{rule_id}", response_class=HTMLResponse)
def edit_rule(
    rule_id: uuid.UUID, request: Request, session: ReadSession, user: MayEditProgram
) -> HTMLResponse:
    rule = surprises.get_rule(session, rule_id)
    return _form(request, session, rule_id=rule.id, values=_values(rule))


@router.post("/loyalty/surprises/{rule_id}", response_class=HTMLResponse)
def update_rule(
    rule_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayEditProgram,
    form: FormData,
) -> Response:
    def save() -> Response:
        values = read_rule(form, settings)
        values.setdefault("points", None)
        values.setdefault("reward_id", None)
        rule = surprises.update_rule(
            session,
            settings=settings,
            rule_id=rule_id,
            data=SurpriseRuleUpdate.model_validate(values),
        )
        flash(request, N_("Surprise %(name)s saved."), name=rule.name)
        return see_other("/loyalty/surprises")

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _form(
            request,
            session,
            rule_id=rule_id,
            values={**form, "trigger": surprises.get_rule(session, rule_id).trigger},
            errors=errors,
            status_code=status,
        ),
        field_for=_field_for,
    )


@router.post("/loyalty/surprises/{rule_id}/status")
def set_status(
    rule_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayEditProgram,
    form: FormData,
) -> Response:
    def save() -> Response:
        status = FormReader(form).choice("status", [s.value for s in SurpriseStatus])
        rule = surprises.update_rule(
            session,
            settings=settings,
            rule_id=rule_id,
            data=SurpriseRuleUpdate(status=status),
        )
        if rule.status == SurpriseStatus.paused:
            flash(request, N_("Surprise %(name)s paused."), name=rule.name)
        else:
            flash(request, N_("Surprise %(name)s is on again."), name=rule.name)
        return see_other("/loyalty/surprises")

    return forms.submit(
        request, session, save, redraw=forms.back_with_message(request, "/loyalty/surprises")
    )


@router.post("/loyalty/surprises/{rule_id}/grant")
def grant_to_segment(
    rule_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayEditProgram,
    form: FormData,
) -> Response:
    def save() -> Response:
        f = FormReader(form)
        segment_id = f.reference("segment_id")
        if segment_id is None:
            f.error("segment_id", forms.REQUIRED)
        f.check()
        assert segment_id is not None
        run = service.grant_to_segment(
            session,
            settings=settings,
            rule_id=rule_id,
            segment_id=segment_id,
            by=staff_label(user),
        )
        flash(
            request,
            N_(
                "Surprised %(granted)s customers; %(already)s had it this quarter; "
                "%(over)s left out by the monthly budget."
            ),
            granted=run.granted,
            already=run.already,
            over=run.over_budget,
        )
        return see_other("/loyalty/surprises")

    return forms.submit(
        request,
        session,
        save,
        redraw=forms.back_with_message(request, "/loyalty/surprises"),
    )


__all__ = ["NAV", "router"]
