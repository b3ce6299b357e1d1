"""The rewards catalogue: what members can spend points on, added, edited, paused.

What a reward needs to say what it gives is the schemas' rule
(``schemas.io.benefit_problems``); this form reads text and keeps only the fields
the reward's kind uses.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.core.errors import Loc
from wafa.core.settings import CalendarKind, Settings
from wafa.core.time import utcnow
from wafa.loyalty import queries, rewards, service, views
from wafa.loyalty.models import LimitPeriod, Reward, RewardKind
from wafa.loyalty.schemas.io import RewardCreate, RewardUpdate
from wafa.loyalty.web.common import context
from wafa.web import forms
from wafa.web.auth import MayEditRewards, see_other
from wafa.web.forms import FormData, FormReader, amount_text, day_text, until_text
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PERCENT = N_("Enter a percentage between 0.01 and 100.")

# What each kind of reward (or coupon) gives, and the form field it is typed in.
GIVES: dict[str, str] = {
    RewardKind.discount_fixed: "amount",
    RewardKind.discount_percent: "percent_bp",
    RewardKind.free_product: "product_sku",
    RewardKind.partner_offer: "partner_name",
}


def field_for(loc: Loc) -> str:
    """The reward (or coupon) form's field for a location in its schema."""
    parts = [str(p) for p in loc if p != "body"]
    name = parts[0] if parts else forms.WHOLE_FORM
    return {"percent_bp": "percent"}.get(name, name)


def percent_text(bp: int | None) -> str:
    """Basis points as the percentage a form shows (``1250`` → ``12.5``)."""
    return forms.plain(Decimal(bp).scaleb(-2)) if bp else ""


def percent_bp(f: FormReader, name: str) -> int | None:
    """A percentage typed as ``12.5`` in basis points."""
    value = f.decimal(name)
    if value is None:
        return None
    bp = value.scaleb(2)
    if bp <= 0 or bp > 10_000 or bp != bp.to_integral_value():
        f.error(name, PERCENT)
        return None
    return int(bp)


def benefit_fields(f: FormReader, kind: str | None) -> dict[str, Any]:
    """What the reward or coupon gives, keeping only the field its kind uses.

    A percentage typed on a free coffee means nothing, so it is dropped; a gift may
    name its product.
    """
    values: dict[str, Any] = {
        "amount": f.money("amount"),
        "percent_bp": percent_bp(f, "percent"),
        "product_sku": f.text("product_sku", max_length=100),
        "partner_name": f.text("partner_name", max_length=200),
    }
    keep = {GIVES.get(kind or "")} | ({"product_sku"} if kind == RewardKind.gift else set())
    return {k: (v if k in keep else None) for k, v in values.items()}


def _reward_fields(f: FormReader, kind: str | None) -> dict[str, Any]:
    return benefit_fields(f, kind) | {
        "description": f.text("description", max_length=2000),
        "cost_points": f.integer("cost_points", required=True),
        "min_tier": f.text("min_tier", max_length=32),
        "stock": f.integer("stock"),
        "min_order_amount": f.money("min_order_amount", default=0),
        "coupon_valid_days": f.integer("coupon_valid_days", minimum=1, maximum=3650),
        "valid_from": f.start("valid_from"),
        "valid_until": f.until("valid_until"),
        "in_catalogue": f.flag("in_catalogue"),
        "limit_per_customer": f.integer("limit_per_customer", minimum=1, maximum=10_000),
        "limit_period": f.choice("limit_period", [p.value for p in LimitPeriod]),
    }


def read_create(
    form: Mapping[str, Any], *, currency: str, calendar: CalendarKind, zone: ZoneInfo
) -> RewardCreate:
    """A new reward from the reward form."""
    f = FormReader(form, currency=currency, calendar=calendar, zone=zone)
    name = f.text("name", required=True)
    kind = f.choice("kind", [k.value for k in RewardKind])
    if kind is None:
        f.error("kind", forms.REQUIRED)
    values = _reward_fields(f, kind)
    f.check()
    return RewardCreate.model_validate({"name": name, "kind": kind, "active": True, **values})


def read_update(
    form: Mapping[str, Any], *, reward: Reward, calendar: CalendarKind, zone: ZoneInfo
) -> RewardUpdate:
    """The changes the reward form makes to ``reward`` (its kind stays)."""
    f = FormReader(form, currency=reward.currency, calendar=calendar, zone=zone)
    name = f.text("name", required=True)
    values = _reward_fields(f, reward.kind)
    f.check()
    return RewardUpdate.model_validate({"name": name, **values})


def values_of(reward: Reward, *, calendar: CalendarKind, zone: ZoneInfo) -> dict[str, str]:
    """The reward form filled with ``reward``."""
    return {
        "name": reward.name,
        "description": reward.description or "",
        "kind": reward.kind,
        "cost_points": str(reward.cost_points),
        "amount": amount_text(reward.amount, reward.currency) if reward.amount else "",
        "percent": percent_text(reward.percent_bp),
        "product_sku": reward.product_sku or "",
        "partner_name": reward.partner_name or "",
        "min_tier": reward.min_tier or "",
        "stock": "" if reward.stock is None else str(reward.stock),
        "min_order_amount": amount_text(reward.min_order_amount, reward.currency)
        if reward.min_order_amount
        else "",
        "coupon_valid_days": str(reward.coupon_valid_days or ""),
        "valid_from": day_text(reward.valid_from, calendar=calendar, zone=zone),
        "valid_until": until_text(reward.valid_until, calendar=calendar, zone=zone),
        "active": "yes" if reward.active else "",
        "in_catalogue": "yes" if reward.in_catalogue else "",
        "limit_per_customer": ""
        if reward.limit_per_customer is None
        else str(reward.limit_per_customer),
        "limit_period": reward.limit_period or "",
    }


@router.get("/loyalty/rewards", response_class=HTMLResponse)
def rewards_page(
    request: Request, session: ReadSession, settings: AppSettings, user: MayEditRewards
) -> HTMLResponse:
    current = service.get_program(session, settings=settings)
    catalogue = rewards.list_rewards(session)
    return render(
        request,
        "loyalty/rewards.html",
        context(
            request,
            settings,
            rewards=catalogue,
            tier_names=views.tier_names(current.rules),
            products=queries.product_names(session, [r.product_sku for r in catalogue]),
            now=utcnow(),
        ),
    )


def _reward_form(
    request: Request,
    session: Session,
    settings: Settings,
    *,
    reward: Reward | None,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    current = service.get_program(session, settings=settings)
    return render(
        request,
        "loyalty/reward_form.html",
        context(
            request,
            settings,
            reward=reward,
            values=values,
            errors=errors or {},
            tiers=current.rules.tiers.levels,
        ),
        status_code=status_code,
    )


@router.get("/loyalty/rewards/new", response_class=HTMLResponse)
def new_reward(
    request: Request, session: ReadSession, settings: AppSettings, user: MayEditRewards
) -> HTMLResponse:
    return _reward_form(
        request,
        session,
        settings,
        reward=None,
        values={"kind": "discount_fixed", "in_catalogue": "yes", "limit_period": "month"},
    )


@router.post("/loyalty/rewards/new", response_class=HTMLResponse)
def create_reward(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayEditRewards,
    form: FormData,
) -> Response:
    def save() -> Response:
        data = read_create(
            form,
            currency=settings.currency,
            calendar=forms.form_calendar(request, settings),
            zone=settings.zone,
        )
        reward = rewards.create_reward(session, settings=settings, data=data)
        flash(request, N_("Reward “%(name)s” added to the catalogue."), name=reward.name)
        return see_other("/loyalty/rewards")

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _reward_form(
            request, session, settings, reward=None, values=form, errors=errors, status_code=status
        ),
        field_for=field_for,
    )


@router.get("/loyalty/rewards/{reward_id}", response_class=HTMLResponse)
def edit_reward(
    reward_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayEditRewards,
) -> HTMLResponse:
    reward = rewards.get_reward(session, reward_id)
    values = values_of(reward, calendar=forms.form_calendar(request, settings), zone=settings.zone)
    return _reward_form(request, session, settings, reward=reward, values=values)


@router.post("/loyalty/rewards/{reward_id}", response_class=HTMLResponse)
def update_reward(
    reward_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayEditRewards,
    form: FormData,
) -> Response:
    def save() -> Response:
        reward = rewards.get_reward(session, reward_id)
        data = read_update(
            form,
            reward=reward,
            calendar=forms.form_calendar(request, settings),
            zone=settings.zone,
        )
        rewards.update_reward(session, settings=settings, reward_id=reward.id, data=data)
        flash(request, N_("Changes saved. Coupons already issued keep what they promised."))
        return see_other("/loyalty/rewards")

    def redraw(errors: dict[str, str], status: int) -> Response:
        reward = rewards.get_reward(session, reward_id)
        return _reward_form(
            request,
            session,
            settings,
            reward=reward,
            values=form | {"kind": reward.kind},
            errors=errors,
            status_code=status,
        )

    return forms.submit(request, session, save, redraw=redraw, field_for=field_for)


@router.post("/loyalty/rewards/{reward_id}/active")
def reward_active(
    reward_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayEditRewards,
    form: FormData,
) -> Response:
    active = FormReader(form).flag("active")
    reward = rewards.update_reward(
        session, settings=settings, reward_id=reward_id, data=RewardUpdate(active=active)
    )
    flash(
        request,
        N_("“%(name)s” can be redeemed again.")
        if active
        else N_("“%(name)s” can no longer be redeemed. Coupons already issued still work."),
        name=reward.name,
    )
    return see_other("/loyalty/rewards")
