"""The program's settings: earning, pending days, expiry, bonuses, birthday, referrals, more.

The form shows a part of the rules; saving keeps the rest as it is and applies from
now on (a new version of the rules), never rewriting what was earned.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.core.errors import Loc
from wafa.core.money import minor_digits
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import rewards, service, views
from wafa.loyalty.schemas.program import (
    BirthdayMode,
    ExpiryPolicy,
    ProgramRules,
    RefundPolicy,
    StreakPeriod,
)
from wafa.loyalty.web.common import context, point_value_text, rate_parts
from wafa.web import forms
from wafa.web.auth import MayEditProgram, see_other, staff_label
from wafa.web.forms import FormData, FormReader, amount_text
from wafa.web.i18n import N_
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

RATE = N_("Choose an amount that gives a whole rate, like 1, 10 or 100.")

# Form field → where it lives in the rules.
FIELDS: dict[str, tuple[str, ...]] = {
    "enabled": ("enabled",),
    "name": ("name",),
    "earn_points": ("earning", "rate_bp"),
    "after_discounts": ("earning", "after_discounts"),
    "include_shipping": ("earning", "include_shipping"),
    "include_tax": ("earning", "include_tax"),
    "excluded_categories": ("earning", "excluded_categories"),
    "excluded_skus": ("earning", "excluded_skus"),
    "min_order_amount": ("earning", "min_order_amount"),
    "pending_days": ("pending_days",),
    "expiry_policy": ("expiry", "policy"),
    "expiry_months": ("expiry", "months"),
    "refund_policy": ("refund_policy",),
    "bonus_signup": ("bonuses", "signup"),
    "bonus_first_order": ("bonuses", "first_order"),
    "bonus_profile_completed": ("bonuses", "profile_completed"),
    "bonus_survey_answered": ("bonuses", "survey_answered"),
    "birthday_enabled": ("birthday", "enabled"),
    "birthday_mode": ("birthday", "mode"),
    "birthday_points": ("birthday", "points"),
    "birthday_reward": ("birthday", "reward_id"),
    "birthday_cooloff_days": ("birthday", "cooloff_days"),
    "referral_enabled": ("referral", "enabled"),
    "referee_points": ("referral", "referee_points"),
    "referee_reward": ("referral", "referee_reward_id"),
    "referrer_points": ("referral", "referrer_points"),
    "referrer_reward": ("referral", "referrer_reward_id"),
    "referral_max_per_period": ("referral", "max_per_period"),
    "referral_period_days": ("referral", "period_days"),
    "referral_link_base": ("referral", "link_base"),
    "streak_period": ("streaks", "period"),
    "leaderboard_enabled": ("leaderboard", "enabled"),
    "leaderboard_size": ("leaderboard", "size"),
    "point_value": ("point_value_bp",),
}


def field_for(loc: Loc) -> str:
    """The settings form's field for a location in the rules (``__all__`` when none)."""
    path = tuple(str(p) for p in loc if p not in ("body", "rules"))
    if len(path) == 1 and (path[0] in FIELDS or path[0] in ("earn_per", "note")):
        return path[0]  # already a form field (the reader's own errors)
    best, size = forms.WHOLE_FORM, 0
    for name, where in FIELDS.items():
        if path[: len(where)] == where and len(where) > size:
            best, size = name, len(where)
    return best


def values_of(rules: ProgramRules, currency: str) -> dict[str, str]:
    """The settings form filled with ``rules``."""
    points, per = rate_parts(rules.earning.rate_bp, currency)
    b, r = rules.birthday, rules.referral
    return {
        "enabled": "yes" if rules.enabled else "",
        "name": rules.name,
        "earn_points": str(points),
        "earn_per": amount_text(per, currency),
        "after_discounts": "yes" if rules.earning.after_discounts else "",
        "include_shipping": "yes" if rules.earning.include_shipping else "",
        "include_tax": "yes" if rules.earning.include_tax else "",
        "excluded_categories": ", ".join(rules.earning.excluded_categories),
        "excluded_skus": ", ".join(rules.earning.excluded_skus),
        "min_order_amount": amount_text(rules.earning.min_order_amount, currency)
        if rules.earning.min_order_amount
        else "",
        "pending_days": str(rules.pending_days),
        "expiry_policy": str(rules.expiry.policy),
        "expiry_months": str(rules.expiry.months),
        "refund_policy": str(rules.refund_policy),
        "bonus_signup": str(rules.bonuses.signup),
        "bonus_first_order": str(rules.bonuses.first_order),
        "bonus_profile_completed": str(rules.bonuses.profile_completed),
        "bonus_survey_answered": str(rules.bonuses.survey_answered),
        "birthday_enabled": "yes" if b.enabled else "",
        "birthday_mode": str(b.mode),
        "birthday_points": str(b.points),
        "birthday_reward": str(b.reward_id or ""),
        "birthday_cooloff_days": str(b.cooloff_days),
        "referral_enabled": "yes" if r.enabled else "",
        "referee_points": str(r.referee_points),
        "referee_reward": str(r.referee_reward_id or ""),
        "referrer_points": str(r.referrer_points),
        "referrer_reward": str(r.referrer_reward_id or ""),
        "referral_max_per_period": str(r.max_per_period),
        "referral_period_days": str(r.period_days),
        "referral_link_base": r.link_base or "",
        "streak_period": str(rules.streaks.period),
        "leaderboard_enabled": "yes" if rules.leaderboard.enabled else "",
        "leaderboard_size": str(rules.leaderboard.size),
        "point_value": point_value_text(rules.point_value_bp, currency),
    }


def _uuid_text(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _earning(f: FormReader, earning: dict[str, Any]) -> None:
    points = f.integer("earn_points", required=True)
    per = f.money("earn_per", required=True)
    if per == 0:
        f.error("earn_per", forms.TOO_SMALL)
    elif points is not None and per:
        if points * 10_000 % per:
            f.error("earn_per", RATE)
        else:
            earning["rate_bp"] = points * 10_000 // per
    earning["after_discounts"] = f.flag("after_discounts")
    earning["include_shipping"] = f.flag("include_shipping")
    earning["include_tax"] = f.flag("include_tax")
    earning["excluded_categories"] = f.words("excluded_categories")
    earning["excluded_skus"] = f.words("excluded_skus", max_length=100)
    earning["min_order_amount"] = f.money("min_order_amount", default=0)


def _point_value(f: FormReader, currency: str) -> int | None:
    value = f.decimal("point_value", required=True)
    if value is None:
        return None
    bp = value.scaleb(4 + minor_digits(currency))
    if value < 0:
        f.error("point_value", forms.TOO_SMALL)
    elif bp != bp.to_integral_value():
        f.error("point_value", forms.AMOUNT_PLACES)
    elif bp > 10**7:
        f.error("point_value", forms.TOO_LARGE)
    else:
        return int(bp)
    return None


def read_program(form: Mapping[str, Any], *, current: ProgramRules, currency: str) -> ProgramRules:
    """The rules in force with the settings form's changes (what the form does not show stays)."""
    f = FormReader(form, currency=currency)
    data = current.model_dump(mode="json")
    data["enabled"] = f.flag("enabled")
    data["name"] = f.text("name", required=True, max_length=120) or current.name
    _earning(f, data["earning"])
    data["pending_days"] = f.integer("pending_days", required=True, maximum=365)
    data["expiry"]["policy"] = f.choice("expiry_policy", [p.value for p in ExpiryPolicy]) or (
        ExpiryPolicy.never.value
    )
    data["expiry"]["months"] = f.integer("expiry_months", required=True, minimum=1, maximum=120)
    data["refund_policy"] = f.choice("refund_policy", [p.value for p in RefundPolicy]) or (
        current.refund_policy.value
    )
    for key in ("signup", "first_order", "profile_completed", "survey_answered"):
        data["bonuses"][key] = f.integer(f"bonus_{key}", default=0)
    birthday = data["birthday"]
    birthday["enabled"] = f.flag("birthday_enabled")
    birthday["mode"] = f.choice("birthday_mode", [m.value for m in BirthdayMode]) or "day"
    birthday["points"] = f.integer("birthday_points", default=0)
    birthday["reward_id"] = _uuid_text(f.reference("birthday_reward"))
    birthday["cooloff_days"] = f.integer("birthday_cooloff_days", default=0, maximum=366)
    referral = data["referral"]
    referral["enabled"] = f.flag("referral_enabled")
    referral["referee_points"] = f.integer("referee_points", default=0)
    referral["referee_reward_id"] = _uuid_text(f.reference("referee_reward"))
    referral["referrer_points"] = f.integer("referrer_points", default=0)
    referral["referrer_reward_id"] = _uuid_text(f.reference("referrer_reward"))
    referral["max_per_period"] = f.integer("referral_max_per_period", required=True, minimum=1)
    referral["period_days"] = f.integer(
        "referral_period_days", required=True, minimum=1, maximum=366
    )
    referral["link_base"] = f.text("referral_link_base", max_length=300)
    data["streaks"]["period"] = f.choice("streak_period", [p.value for p in StreakPeriod]) or (
        current.streaks.period.value
    )
    data["leaderboard"]["enabled"] = f.flag("leaderboard_enabled")
    data["leaderboard"]["size"] = f.integer(
        "leaderboard_size", required=True, minimum=1, maximum=100
    )
    point_value = _point_value(f, currency)
    if point_value is not None:
        data["point_value_bp"] = point_value
    f.check()
    return ProgramRules.model_validate(data)


def _program_page(
    request: Request,
    session: Session,
    settings: Settings,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    current = service.get_program(session, settings=settings)
    return render(
        request,
        "loyalty/program.html",
        context(
            request,
            settings,
            program=current,
            values=values or values_of(current.rules, settings.currency),
            errors=errors or {},
            versions=views.version_history(session, settings=settings),
            rewards=rewards.list_rewards(session),
            rate=rate_parts(current.rules.earning.rate_bp, settings.currency),
            now_utc=utcnow(),
        ),
        status_code=status_code,
    )


@router.get("/loyalty", response_class=HTMLResponse)
def loyalty_home(user: MayEditProgram) -> Response:
    return see_other("/loyalty/program")


@router.get("/loyalty/program", response_class=HTMLResponse)
def program_page(
    request: Request, session: ReadSession, settings: AppSettings, user: MayEditProgram
) -> HTMLResponse:
    return _program_page(request, session, settings)


@router.post("/loyalty/program", response_class=HTMLResponse)
def save_program(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayEditProgram,
    form: FormData,
) -> Response:
    def save() -> Response:
        current = service.get_program(session, settings=settings)
        rules = read_program(form, current=current.rules, currency=settings.currency)
        service.update_program(
            session,
            settings=settings,
            rules=rules,
            by=staff_label(user),
            note=FormReader(form).text("note", max_length=500),
        )
        flash(
            request, N_("Program saved. The new rules apply from now on; nothing earned changes.")
        )
        return see_other("/loyalty/program")

    return forms.submit(
        request,
        session,
        save,
        redraw=lambda errors, status: _program_page(
            request, session, settings, values=form, errors=errors, status_code=status
        ),
        field_for=field_for,
    )
