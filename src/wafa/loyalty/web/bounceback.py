"""Bounce-back offers: the rules (a coupon for the next visit with a qualifying purchase),
what they did against the holdout, and the point of sale's receipt view of a sale's coupon."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.core.settings import Settings
from wafa.loyalty.bounceback import report as reporting
from wafa.loyalty.bounceback import service
from wafa.loyalty.bounceback.schemas import KINDS, RuleCreate
from wafa.loyalty.models import BounceBackRule
from wafa.loyalty.web.common import context
from wafa.loyalty.web.rewards import field_for, percent_bp, percent_text
from wafa.orders import service as orders
from wafa.orders.models import Channel
from wafa.web import forms
from wafa.web.auth import MayEditRewards, Staff, see_other, staff_label
from wafa.web.forms import FormData, FormReader
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PATH = "/loyalty/bounce-back"
CHANNELS = {
    Channel.in_store.value: N_("In store"),
    Channel.online.value: N_("Online"),
    Channel.phone.value: N_("By phone"),
}


def values_of(rule: BounceBackRule, currency: str) -> dict[str, str]:
    """The rule form filled with ``rule``."""

    def amount(value: int | None) -> str:
        return forms.amount_text(value, currency) if value is not None else ""

    return {
        "name": rule.name,
        "active": "yes" if rule.active else "",
        "priority": str(rule.priority),
        "min_amount": amount(rule.min_amount) if rule.min_amount else "",
        "category": rule.category or "",
        "product_sku": rule.product_sku or "",
        "first_purchase_only": "yes" if rule.first_purchase_only else "",
        "channel": rule.channel or "",
        "location_id": str(rule.location_id) if rule.location_id else "",
        "kind": rule.kind,
        "amount": amount(rule.amount),
        "percent": percent_text(rule.percent_bp),
        "reward_sku": rule.reward_sku or "",
        "coupon_min_order": amount(rule.coupon_min_order) if rule.coupon_min_order else "",
        "valid_days": str(rule.valid_days),
        "holdout_percent": str(rule.holdout_percent),
    }


def read_rule(form: Mapping[str, Any], *, currency: str) -> RuleCreate:
    """A rule from the rule form."""
    f = FormReader(form, currency=currency)
    kind = f.choice("kind", KINDS) or "discount_percent"
    values: dict[str, Any] = {
        "name": f.text("name", required=True),
        "active": f.flag("active"),
        "priority": f.integer("priority", minimum=0, maximum=10_000),
        "min_amount": f.money("min_amount", default=0),
        "category": f.text("category", max_length=100),
        "product_sku": f.text("product_sku", max_length=100),
        "first_purchase_only": f.flag("first_purchase_only"),
        "channel": f.choice("channel", list(CHANNELS)),
        "location_id": f.reference("location_id"),
        "kind": kind,
        "amount": f.money("amount") if kind == "discount_fixed" else None,
        "percent_bp": percent_bp(f, "percent") if kind == "discount_percent" else None,
        "reward_sku": f.text("reward_sku", max_length=100),
        "coupon_min_order": f.money("coupon_min_order", default=0),
        "valid_days": f.integer("valid_days", required=True, minimum=1, maximum=366),
        "holdout_percent": f.integer("holdout_percent", required=True, minimum=0, maximum=50),
    }
    f.check()
    if values["priority"] is None:
        values.pop("priority")
    return RuleCreate.model_validate(values)


@router.get(PATH, response_class=HTMLResponse)
def bounce_back_page(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayEditRewards,
    rule: Annotated[str, Query(max_length=40)] = "",
    since: Annotated[str, Query(max_length=20)] = "",
    until: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    rules = service.list_rules(session)
    # The report's filters, typed in the reader's calendar; a day that does not read is
    # named under its field and left out of the filter.
    f = FormReader(
        {"rule": rule, "since": since, "until": until},
        calendar=forms.form_calendar(request, settings),
        zone=settings.zone,
    )
    rule_id = f.reference("rule")
    first, last = f.day("since"), f.day("until")
    if first is not None and last is not None and last < first:
        f.error("until", N_("The last day comes before the first."))
        last = None
    return render(
        request,
        "loyalty/bounceback.html",
        context(
            request,
            settings,
            rules=rules,
            report=reporting.report(
                session,
                settings=settings,
                rule_id=rule_id if any(r.id == rule_id for r in rules) else None,
                since=first,
                until=last,
            ),
            filters={"rule": rule, "since": since, "until": until},
            filter_errors=dict(f.errors),
            channels=CHANNELS,
            locations={loc.id: loc.name for loc in orders.list_locations(session)},
        ),
    )


def _rule_form(
    request: Request,
    session: Session,
    settings: Settings,
    *,
    rule: BounceBackRule | None,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "loyalty/bounceback_form.html",
        context(
            request,
            settings,
            rule=rule,
            values=values,
            errors=errors or {},
            channels=CHANNELS,
            locations=orders.list_locations(session),
            kinds=KINDS,
        ),
        status_code=status_code,
    )


@router.get(PATH + "/new", response_class=HTMLResponse)
def new_rule(
    request: Request, session: ReadSession, settings: AppSettings, user: MayEditRewards
) -> HTMLResponse:
    return _rule_form(
        request,
        session,
        settings,
        rule=None,
        values={
            "active": "yes",
            "kind": "discount_percent",
            "percent": "10",
            "valid_days": "14",
            "holdout_percent": "10",
        },
    )


@router.post(PATH + "/new", response_class=HTMLResponse)
def create_rule(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayEditRewards,
    form: FormData,
) -> Response:
    def save() -> Response:
        rule = service.create_rule(
            session, data=read_rule(form, currency=settings.currency), by=staff_label(user)
        )
        flash(request, N_("Offer “%(name)s” added."), name=rule.name)
        return see_other(PATH)

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _rule_form(
            request, session, settings, rule=None, values=form, errors=errors, status_code=status
        ),
        field_for=field_for,
    )


@router.get(PATH + "/{rule_id}", response_class=HTMLResponse)
def edit_rule(
    rule_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayEditRewards,
) -> HTMLResponse:
    rule = service.get_rule(session, rule_id)
    return _rule_form(
        request, session, settings, rule=rule, values=values_of(rule, settings.currency)
    )


@router.post(PATH + "/{rule_id}", response_class=HTMLResponse)
def update_rule(
    rule_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayEditRewards,
    form: FormData,
) -> Response:
    def save() -> Response:
        service.update_rule(
            session, rule_id=rule_id, data=read_rule(form, currency=settings.currency)
        )
        flash(request, N_("Changes saved. Coupons already handed out keep their terms."))
        return see_other(PATH)

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _rule_form(
            request,
            session,
            settings,
            rule=service.get_rule(session, rule_id),
            values=form,
            errors=errors,
            status_code=status,
        ),
        field_for=field_for,
    )


@router.get("/pos/orders/{order_id}/receipt", response_class=HTMLResponse)
def pos_receipt(
    order_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Staff,
) -> HTMLResponse:
    """The receipt view after a sale: the next visit's coupon to hand over, if it earned one."""
    offer = service.coupon_for_order(session, settings=settings, order_id=order_id)
    return render(
        request,
        "loyalty/_pos_receipt.html",
        context(request, settings, offer=offer),
        headers={"Cache-Control": "no-store"},
    )
