"""A member's loyalty: the cards on the customer page, the full ledger, and staff's actions.

Staff add or remove points (with a reason), keep a tier as a floor, redeem a reward
at the desk, cancel an unused redemption, make a referral code and change the
leaderboard choice; each action says what it did on the customer's page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import date
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.auth.permissions import AdjustmentTooLarge, check_adjustment, role_adjust_limit
from wafa.core.errors import Invalid
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.loyalty import referrals, rewards, service, streaks, views
from wafa.loyalty.ledger import InsufficientPoints
from wafa.loyalty.web.common import context, label
from wafa.web import forms
from wafa.web.auth import Counter, MayAdjustPoints, Staff, see_other, staff_label
from wafa.web.forms import FormData, FormReader, Refusal
from wafa.web.i18n import N_
from wafa.web.pages import CustomerPanel
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render, safe_next

router = APIRouter(route_class=WebRoute, include_in_schema=False)

NOT_ZERO = N_("Enter a number of points other than zero, like 50 or -20.")


# --------------------------------------------------------------------------- the profile's cards


def _load_panel(session: Session, customer_id: uuid.UUID, settings: Settings) -> views.ProfilePanel:
    """The panel's data, computed once per request even though two cards show it."""
    cache: dict[uuid.UUID, views.ProfilePanel] = session.info.setdefault("loyalty_panel", {})
    found = cache.get(customer_id)
    if found is None:
        found = views.profile_panel(session, settings=settings, customer_id=customer_id)
        cache[customer_id] = found
    return found


def _labels(language: str) -> Callable[[str, object], str]:
    return partial(label, language=language)


def _panel(session: Session, customer: Customer) -> dict[str, Any]:
    # The loader is not given the settings (zone, currency): the template passes them
    # (``panel.load(settings)``), and takes the label helper for its language.
    return {"load": partial(_load_panel, session, customer.id), "labels": _labels}


PANELS = (
    CustomerPanel(
        "loyalty", template="loyalty/_profile_panel.html", load=_panel, column="main", order=10
    ),
    CustomerPanel(
        "loyalty-status", template="loyalty/_profile_side.html", load=_panel, column="side", order=5
    ),
)


@router.get("/customers/{customer_id}/loyalty", response_class=HTMLResponse)
def customer_ledger(
    customer_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Staff,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    ledger = views.ledger_view(session, settings=settings, customer_id=customer_id, cursor=cursor)
    customer = customers.get_live_customer(session, ledger.customer_id)
    return render(
        request,
        "loyalty/ledger.html",
        context(request, settings, ledger=ledger, customer=customer, cursor=cursor or ""),
    )


# --------------------------------------------------------------------------- points and tier


def read_override(
    form: Mapping[str, Any], *, tiers: list[str], calendar: CalendarKind
) -> tuple[str | None, date | None, str]:
    """A tier kept by staff as a floor (empty: remove it), its last day, and the reason."""
    f = FormReader(form, calendar=calendar)
    tier = f.choice("tier", tiers)
    until = f.day("until")
    reason = f.text("override_reason", required=True, max_length=500)
    f.check()
    assert reason is not None
    return tier, until, reason


def read_adjustment(form: Mapping[str, Any]) -> tuple[int, str]:
    """Points (signed, not zero) and the required reason of a staff adjustment."""
    f = FormReader(form)
    points = f.integer("points", required=True, minimum=-(10**9), maximum=10**9)
    if points == 0:
        f.error("points", NOT_ZERO)
    reason = f.text("reason", required=True, max_length=500)
    f.check()
    assert points is not None
    assert reason is not None
    return points, reason


def _adjust_page(
    request: Request,
    session: Session,
    settings: Settings,
    customer_id: uuid.UUID,
    *,
    values: Mapping[str, str],
    errors: Mapping[str, str],
    status_code: int = 200,
) -> HTMLResponse:
    customer = customers.get_live_customer(session, customer_id)
    status = service.status(session, settings=settings, customer_id=customer.id)
    current = service.get_program(session, settings=settings)
    return render(
        request,
        "loyalty/adjust.html",
        context(
            request,
            settings,
            customer=customer,
            status=status,
            values=values,
            errors=errors,
            tiers=current.rules.tiers.levels if current.rules.tiers.enabled else [],
        ),
        status_code=status_code,
    )


def _redraw_adjust(
    request: Request,
    session: Session,
    settings: Settings,
    customer_id: uuid.UUID,
    form: Mapping[str, str],
) -> forms.Redraw:
    return lambda errors, status: _adjust_page(
        request, session, settings, customer_id, values=form, errors=errors, status_code=status
    )


@router.get("/customers/{customer_id}/loyalty/adjust", response_class=HTMLResponse)
def adjust_page(
    customer_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: MayAdjustPoints,
) -> HTMLResponse:
    return _adjust_page(request, session, settings, customer_id, values={}, errors={})


@router.post("/customers/{customer_id}/loyalty/adjust", response_class=HTMLResponse)
def adjust_points(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayAdjustPoints,
    form: FormData,
) -> Response:
    def save() -> Response:
        points, reason = read_adjustment(form)
        check_adjustment(role_adjust_limit(user.role), points)
        service.adjust(
            session,
            settings=settings,
            customer_id=customer_id,
            points=points,
            reason=reason,
            by=staff_label(user),
        )
        if points > 0:
            flash(request, N_("%(points)s points added."), points=points)
        else:
            flash(request, N_("%(points)s points removed."), points=-points)
        return see_other(f"/customers/{customer_id}#loyalty")

    short = Refusal(
        InsufficientPoints,
        N_("The customer has only %(points)s points available; nothing was taken."),
        field="points",
        params=lambda exc: {"points": exc.context.get("available", 0)},
    )
    too_large = Refusal(
        AdjustmentTooLarge,
        N_("Your role may add or remove at most %(limit)s points at a time."),
        field="points",
        params=lambda exc: {"limit": exc.context.get("limit", 0)},
    )
    return forms.submit(
        request,
        session,
        save,
        redraw=_redraw_adjust(request, session, settings, customer_id, form),
        refusals=[short, too_large],
    )


@router.post("/customers/{customer_id}/loyalty/tier", response_class=HTMLResponse)
def override_tier(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: MayAdjustPoints,
    form: FormData,
) -> Response:
    def save() -> Response:
        current = service.get_program(session, settings=settings)
        tier, until, reason = read_override(
            form,
            tiers=[t.code for t in current.rules.tiers.levels],
            calendar=forms.form_calendar(request, settings),
        )
        service.override_tier(
            session,
            settings=settings,
            customer_id=customer_id,
            tier=tier,
            until=until,
            reason=reason,
            by=staff_label(user),
        )
        flash(
            request,
            N_("Tier set. They keep it as a floor until the day you chose.")
            if tier
            else N_("The tier set by staff was removed."),
        )
        return see_other(f"/customers/{customer_id}#loyalty")

    return forms.submit(
        request,
        session,
        save,
        redraw=_redraw_adjust(request, session, settings, customer_id, form),
    )


# --------------------------------------------------------------------------- rewards at the desk


@router.post("/customers/{customer_id}/loyalty/redeem")
def redeem_reward(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Counter,
    form: FormData,
) -> Response:
    back = safe_next(form.get("next"), f"/customers/{customer_id}#loyalty")
    reward_id = FormReader(form).reference("reward_id")

    def redeem() -> Response:
        if reward_id is None:
            raise Invalid.field(("reward_id",), N_("Choose a reward to redeem."))
        redemption = service.redeem_reward(
            session,
            settings=settings,
            customer_id=customer_id,
            reward_id=reward_id,
            by=staff_label(user),
        )
        flash(
            request,
            N_("Reward redeemed: %(reward)s. Coupon code %(code)s — write it on the receipt."),
            reward=redemption.reward_name,
            code=redemption.coupon_code or "—",
        )
        return see_other(back)

    def shortfall(exc: InsufficientPoints) -> dict[str, object]:
        reward = rewards.get_reward(session, reward_id) if reward_id else None
        return {
            "reward": reward.name if reward else "",
            "need": exc.context.get("needed", 0),
            "have": exc.context.get("available", 0),
        }

    return forms.submit(
        request,
        session,
        redeem,
        redraw=forms.back_with_message(request, back),
        refusals=[
            Refusal(
                InsufficientPoints,
                N_(
                    "Not enough points: %(reward)s needs %(need)s points and the customer has "
                    "%(have)s. Nothing was taken."
                ),
                params=shortfall,
            ),
            Refusal(rewards.OutOfStock, N_("This reward is out of stock.")),
            Refusal(
                rewards.RewardUnavailable, N_("This reward is not available to this customer now.")
            ),
        ],
    )


@router.post("/loyalty/redemptions/{redemption_id}/cancel")
def cancel_redemption(
    redemption_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Counter,
    form: FormData,
) -> Response:
    def cancel() -> Response:
        redemption = service.cancel_redemption(
            session, settings=settings, redemption_id=redemption_id, by=staff_label(user)
        )
        flash(
            request,
            N_("Redemption cancelled; %(points)s points are back."),
            points=redemption.points,
        )
        return see_other(
            safe_next(form.get("next"), f"/customers/{redemption.customer_id}#loyalty")
        )

    return forms.submit(
        request,
        session,
        cancel,
        redraw=forms.back_with_message(request, safe_next(form.get("next"), "/customers")),
        refusals=[
            Refusal(
                rewards.RedemptionUsed,
                N_("This reward's coupon was used already, so it cannot be cancelled."),
            )
        ],
    )


# --------------------------------------------------------------------------- referral, leaderboard


@router.post("/customers/{customer_id}/loyalty/referral-code")
def make_referral_code(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Counter,
) -> Response:
    info = referrals.info(session, settings=settings, customer_id=customer_id)
    flash(request, N_("Referral code %(code)s is ready to share."), code=info.code)
    return see_other(f"/customers/{info.customer_id}#loyalty")


@router.post("/customers/{customer_id}/loyalty/leaderboard")
def leaderboard_choice(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Counter,
    form: FormData,
) -> Response:
    opt_in = FormReader(form).flag("opt_in")
    customer = customers.get_live_customer(session, customer_id)
    streaks.set_opt_in(session, settings=settings, customer_id=customer.id, opt_in=opt_in)
    flash(
        request,
        N_("They will appear on the leaderboard.")
        if opt_in
        else N_("They will no longer appear on the leaderboard."),
    )
    return see_other(f"/customers/{customer.id}#loyalty")
