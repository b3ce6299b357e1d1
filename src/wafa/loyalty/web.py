"""Loyalty in the dashboard: the point of sale, the program's settings, tiers, rewards,
stamp cards, coupons, the referral review queue, the points liability, the leaderboard,
and the loyalty cards of the customer page.

Routes parse the form (``wafa.loyalty.forms``), check the role (``Staff`` for the
counter, ``Manager`` for the program), call one service or view function, and
render. The point of sale records through the JSON API (``/api/v1/pos/...``) with
the session cookie, the CSRF header and an ``Idempotency-Key`` per attempt
(``static/pos.js``); its search results and customer card are HTML fragments
rendered here, so money, digits and dates read the same as everywhere else.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Callable, Mapping
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from wafa.api.deps import AppSettings, DbSession, ReadSession
from wafa.auth.models import Role
from wafa.core.errors import Conflict, Invalid
from wafa.core.money import minor_digits
from wafa.core.settings import CalendarKind, Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.loyalty import (
    codes,
    coupons,
    events,
    forms,
    queries,
    referrals,
    rewards,
    service,
    stamps,
    streaks,
    views,
)
from wafa.loyalty.ledger import InsufficientPoints
from wafa.loyalty.models import CouponSource, CouponStatus, ReferralStatus, RewardKind
from wafa.loyalty.schemas.io import RewardUpdate
from wafa.loyalty.schemas.program import (
    BirthdayMode,
    DowngradePolicy,
    ExpiryPolicy,
    RefundPolicy,
    StreakPeriod,
    TierBasis,
    Tiers,
    TierWindow,
)
from wafa.web import i18n
from wafa.web.auth import Manager, Staff, see_other, staff_label
from wafa.web.i18n import N_
from wafa.web.nav import register_nav
from wafa.web.panels import register_customer_panel, register_timeline_event
from wafa.web.routing import WebRoute
from wafa.web.templating import flash, render, request_language, safe_next

router = APIRouter(route_class=WebRoute, include_in_schema=False)

LOYALTY = N_("Loyalty")
register_nav(N_("Point of sale"), "/pos", min_role=Role.cashier, icon="tablet", order=15)
register_nav(
    N_("Program"),
    "/loyalty/program",
    min_role=Role.manager,
    icon="sliders",
    order=41,
    section=LOYALTY,
)
register_nav(
    N_("Tiers"), "/loyalty/tiers", min_role=Role.manager, icon="star", order=42, section=LOYALTY
)
register_nav(
    N_("Rewards"), "/loyalty/rewards", min_role=Role.manager, icon="gift", order=43, section=LOYALTY
)
register_nav(
    N_("Stamp cards"),
    "/loyalty/stamp-cards",
    min_role=Role.manager,
    icon="repeat",
    order=44,
    section=LOYALTY,
)
register_nav(
    N_("Coupons"), "/loyalty/coupons", min_role=Role.manager, icon="tag", order=45, section=LOYALTY
)
register_nav(
    N_("Referrals"),
    "/loyalty/referrals",
    min_role=Role.manager,
    icon="link",
    order=46,
    section=LOYALTY,
)
register_nav(
    N_("Points liability"),
    "/loyalty/liability",
    min_role=Role.manager,
    icon="coins",
    order=47,
    section=LOYALTY,
)
register_nav(
    N_("Leaderboard"),
    "/loyalty/leaderboard",
    min_role=Role.manager,
    icon="trend",
    order=48,
    section=LOYALTY,
)

for _topic, _event_label, _event_icon in (
    (events.POINTS_EARNED, N_("Points earned"), "star"),
    (events.POINTS_EXPIRING, N_("Points expiring soon"), "clock"),
    (events.TIER_CHANGED, N_("Tier changed"), "trend"),
    (events.REWARD_REDEEMED, N_("Reward redeemed"), "gift"),
    (events.COUPON_ISSUED, N_("Coupon issued"), "tag"),
    (events.REFERRAL_REWARDED, N_("Referral rewarded"), "link"),
    (events.BADGE_EARNED, N_("Badge earned"), "star"),
    (events.BIRTHDAY_REWARD_GRANTED, N_("Birthday reward"), "cake"),
):
    register_timeline_event(_topic, _event_label, icon=_event_icon)

# Enum values shown to people (translated in loyalty_web.po).
LABELS: dict[str, dict[str, str]] = {
    "reward_kind": {
        RewardKind.discount_fixed: N_("Money off"),
        RewardKind.discount_percent: N_("Percentage off"),
        RewardKind.free_product: N_("Free product"),
        RewardKind.gift: N_("Gift"),
        RewardKind.partner_offer: N_("Partner offer"),
    },
    "coupon_source": {
        CouponSource.reward: N_("Reward"),
        CouponSource.campaign: N_("Campaign"),
        CouponSource.stamp_card: N_("Stamp card"),
        CouponSource.birthday: N_("Birthday"),
        CouponSource.referral: N_("Referral"),
        CouponSource.compensation: N_("Compensation"),
    },
    "coupon_status": {CouponStatus.active: N_("Active"), CouponStatus.voided: N_("Void")},
    "redemption": {
        "issued": N_("Not used yet"),
        "used": N_("Used"),
        "cancelled": N_("Cancelled"),
    },
    "referral": {
        ReferralStatus.pending: N_("Waiting for a first purchase"),
        ReferralStatus.qualified: N_("Bought; reward on its way"),
        ReferralStatus.review: N_("Needs review"),
        ReferralStatus.rewarded: N_("Rewarded"),
        ReferralStatus.rejected: N_("Rejected"),
    },
    "entry_kind": {
        "earn": N_("Earned"),
        "spend": N_("Spent"),
        "expire": N_("Expired"),
        "adjust": N_("Adjusted"),
        "reverse": N_("Reversed"),
    },
    "expiry": {
        ExpiryPolicy.never: N_("Points never expire"),
        ExpiryPolicy.fixed: N_("Points expire a number of months after they are earned"),
        ExpiryPolicy.inactivity: N_("All points expire after months without a purchase"),
    },
    "refund": {
        RefundPolicy.negative_balance: N_("Allow a negative balance"),
        RefundPolicy.future_earnings: N_("Take them from future earnings"),
        RefundPolicy.forfeit: N_("Let them go"),
    },
    "birthday_mode": {
        BirthdayMode.day: N_("On the birthday itself"),
        BirthdayMode.month: N_("In the birthday month"),
    },
    "streak_period": {StreakPeriod.week: N_("Weeks"), StreakPeriod.month: N_("Months")},
    "tier_basis": {TierBasis.points: N_("Points earned"), TierBasis.spend: N_("Money spent")},
    "tier_window": {
        TierWindow.rolling: N_("A rolling window of months"),
        TierWindow.calendar_year: N_("The calendar year"),
    },
    "downgrade": {
        DowngradePolicy.one_down: N_("One tier down"),
        DowngradePolicy.recalculate: N_("Straight to the tier they qualify for"),
    },
    "stamp_per": {"visit": N_("One per visit"), "item": N_("One per item")},
}

COUPON_REASONS_JS = (
    "not_found",
    "voided",
    "not_yet_valid",
    "expired",
    "used_up",
    "customer_limit",
    "other_customer",
    "customer_required",
    "minimum_order",
)

FORM_MESSAGES = frozenset(
    value for name, value in vars(forms).items() if name.isupper() and isinstance(value, str)
)


async def form_data(request: Request) -> dict[str, str]:
    """The posted form as ``{name: text}`` (files ignored; the CSRF check read it already)."""
    data = await request.form()
    return {k: v for k, v in data.items() if isinstance(v, str)}


FormData = Annotated[dict[str, str], Depends(form_data)]


def display_calendar(request: Request, settings: Settings) -> CalendarKind:
    """The calendar the user reads dates in (Jalali for Persian or a Jalali business)."""
    ctx = i18n.DateContext(request_language(request), settings.zone, settings.calendar)
    return ctx.display_calendar


def field_errors(
    request: Request, exc: Invalid, field_for: Callable[[tuple[str | int, ...]], str] | None = None
) -> dict[str, str]:
    """``Invalid`` as ``{form field: message in the user's language}``."""
    language = request_language(request)
    out: dict[str, str] = {}
    for loc, msg in exc.errors or [(("__all__",), exc.detail)]:
        name = field_for(loc) if field_for else (str(loc[-1]) if loc else "__all__")
        message = msg if msg in FORM_MESSAGES else forms.INVALID
        out.setdefault(name, i18n.gettext(language, message))
    return out


def _label(kind: str, value: object, language: str) -> str:
    msgid = LABELS.get(kind, {}).get(str(value))
    return i18n.gettext(language, msgid) if msgid else str(value)


def _context(request: Request, settings: Settings, **values: Any) -> dict[str, Any]:
    language = request_language(request)
    calendar = display_calendar(request, settings)
    base: dict[str, Any] = {
        "L": partial(_label, language=language),
        "choices_of": lambda kind: [
            (str(k), i18n.gettext(language, v)) for k, v in LABELS[kind].items()
        ],
        "currency": settings.currency,
        "minor_digits": minor_digits(settings.currency),
        "form_calendar": str(calendar),
        "date_example": forms.day_text(utcnow(), calendar=calendar, zone=settings.zone),
    }
    base.update(values)
    return base


# --------------------------------------------------------------------------- point of sale

NUMBERING = {"en": "latn", "ar": "arab", "fa": "arabext"}


def _pos_texts(language: str) -> dict[str, Any]:
    """Everything pos.js says, in the user's language."""

    def t(msgid: str) -> str:
        return i18n.gettext(language, msgid)

    return {
        "lang": language,
        "numbering": NUMBERING.get(language, "latn"),
        "errors": {
            "network": t(N_("No connection to Wafa. Nothing was recorded; try again.")),
            "generic": t(N_("This could not be done. Nothing was recorded.")),
            "session": t(N_("Your session has ended. Log in again, then retry.")),
            "role": t(N_("Your role does not allow this.")),
            "insufficient-points": t(
                N_("Not enough points for this reward. Nothing was taken from the balance.")
            ),
            "out-of-stock": t(N_("This reward is out of stock.")),
            "reward-unavailable": t(N_("This reward is not available to this customer now.")),
            "customer-conflict": t(N_("Another customer already has this phone or email.")),
            "not-found": t(N_("Nothing found with this number.")),
            "conflict": t(N_("This could not be done: the data changed. Nothing was recorded.")),
            "invalid": t(N_("Please check the highlighted fields.")),
            "redemption-used": t(N_("This reward's coupon was used already.")),
            "already-referred": t(N_("This customer was already referred by someone.")),
        },
        "coupon": {reason: t(views.coupon_reason(reason) or "") for reason in COUPON_REASONS_JS},
        "fields": {
            "required": t(forms.REQUIRED),
            "amount": t(forms.AMOUNT),
            "phone": t(
                N_("Enter a valid phone number. Add the country code if it is not a local number.")
            ),
            "email": t(N_("Enter a valid email address, like name@example.com.")),
            "birthday": t(N_("This day does not exist in the chosen calendar.")),
            "contact": t(N_("Give a phone number or an email, to find them next time.")),
            "invalid": t(forms.INVALID),
        },
        "text": {
            "points_earned": t(N_("Points: +%(points)s")),
            "no_points": t(N_("Recorded. This purchase earns no points.")),
            "already": t(N_("This receipt was recorded already; nothing was added.")),
            "stamps": t(N_("Stamps: +%(stamps)s")),
            "recorded": t(N_("Purchase recorded")),
            "attached": t(N_("Order added to the customer")),
            "redeemed": t(N_("Reward redeemed")),
            "coupon_used": t(N_("Coupon used: %(discount)s off")),
            "coupon_ok": t(N_("Valid: %(discount)s off")),
            "coupon_ok_item": t(N_("Valid: give the item or gift on the coupon")),
            "enrolled": t(N_("Welcome, %(name)s!")),
            "sale": t(N_("Sale")),
            "remove": t(N_("Remove")),
            "cart_empty": t(N_("Add products or an amount to start.")),
            "no_products": t(N_("No product matches.")),
            "open_existing": t(N_("Open this customer")),
        },
    }


@router.get("/pos", response_class=HTMLResponse)
def pos_page(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Staff,
    q: Annotated[str | None, Query(max_length=100)] = None,
    customer: uuid.UUID | None = None,
) -> HTMLResponse:
    query = (q or "").strip()
    rows = views.pos_search(session, settings=settings, q=query) if query else []
    card = views.pos_card(session, settings=settings, customer_id=customer) if customer else None
    language = request_language(request)
    return render(
        request,
        "loyalty/pos.html",
        _context(
            request,
            settings,
            q=query,
            rows=rows,
            card=card,
            pos_texts=_pos_texts(language),
            month_names_now=i18n.month_names(display_calendar(request, settings), language),
        ),
    )


@router.get("/pos/search", response_class=HTMLResponse)
def pos_search(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Staff,
    q: Annotated[str, Query(max_length=100)] = "",
) -> HTMLResponse:
    query = q.strip()
    rows = views.pos_search(session, settings=settings, q=query) if query else []
    return render(
        request,
        "loyalty/_pos_results.html",
        _context(request, settings, q=query, rows=rows),
        headers={"Cache-Control": "no-store"},
    )


@router.get("/pos/customers/{customer_id}", response_class=HTMLResponse)
def pos_customer(
    customer_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Staff,
) -> HTMLResponse:
    card = views.pos_card(session, settings=settings, customer_id=customer_id)
    return render(
        request,
        "loyalty/_pos_card.html",
        _context(request, settings, card=card),
        headers={"Cache-Control": "no-store"},
    )


# --------------------------------------------------------------------------- customer profile


def _load_panel(session: Session, customer_id: uuid.UUID, settings: Settings) -> views.ProfilePanel:
    """The panel's data, computed once per request even though two cards show it."""
    cache: dict[uuid.UUID, views.ProfilePanel] = session.info.setdefault("loyalty_panel", {})
    found = cache.get(customer_id)
    if found is None:
        found = views.profile_panel(session, settings=settings, customer_id=customer_id)
        cache[customer_id] = found
    return found


def _labels(language: str) -> Callable[[str, object], str]:
    return partial(_label, language=language)


def _panel(session: Session, customer: Customer) -> dict[str, Any]:
    # The loader is not given the settings (zone, currency): the template passes them
    # (``panel.load(settings)``), and takes the label helper for its language.
    return {"load": partial(_load_panel, session, customer.id), "labels": _labels}


register_customer_panel(
    "loyalty", template="loyalty/_profile_panel.html", load=_panel, column="main", order=10
)
register_customer_panel(
    "loyalty-status", template="loyalty/_profile_side.html", load=_panel, column="side", order=5
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
        _context(request, settings, ledger=ledger, customer=customer, cursor=cursor or ""),
    )


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
        _context(
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


@router.get("/customers/{customer_id}/loyalty/adjust", response_class=HTMLResponse)
def adjust_page(
    customer_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Manager,
) -> HTMLResponse:
    return _adjust_page(request, session, settings, customer_id, values={}, errors={})


@router.post("/customers/{customer_id}/loyalty/adjust", response_class=HTMLResponse)
def adjust_points(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Manager,
    form: FormData,
) -> Response:
    language = request_language(request)
    try:
        points, reason = forms.read_adjustment(form)
        service.adjust(
            session,
            settings=settings,
            customer_id=customer_id,
            points=points,
            reason=reason,
            by=staff_label(user),
        )
    except Invalid as exc:
        session.rollback()
        return _adjust_page(
            request,
            session,
            settings,
            customer_id,
            values=form,
            errors=field_errors(request, exc),
            status_code=422,
        )
    except InsufficientPoints:
        session.rollback()
        status = service.status(session, settings=settings, customer_id=customer_id)
        message = i18n.gettext(
            language,
            N_("The customer has only %(points)s points available; nothing was taken."),
            points=i18n.format_number(status.available, language),
        )
        return _adjust_page(
            request,
            session,
            settings,
            customer_id,
            values=form,
            errors={"points": message},
            status_code=409,
        )
    if points > 0:
        flash(request, N_("%(points)s points added."), points=i18n.format_number(points, language))
    else:
        flash(
            request, N_("%(points)s points removed."), points=i18n.format_number(-points, language)
        )
    return see_other(f"/customers/{customer_id}#loyalty")


@router.post("/customers/{customer_id}/loyalty/tier", response_class=HTMLResponse)
def override_tier(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Manager,
    form: FormData,
) -> Response:
    current = service.get_program(session, settings=settings)
    try:
        tier, until, reason = forms.read_override(
            form,
            tiers=[t.code for t in current.rules.tiers.levels],
            calendar=display_calendar(request, settings),
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
    except Invalid as exc:
        session.rollback()
        return _adjust_page(
            request,
            session,
            settings,
            customer_id,
            values=form,
            errors=field_errors(request, exc),
            status_code=422,
        )
    flash(
        request,
        N_("Tier set. They keep it as a floor until the day you chose.")
        if tier
        else N_("The tier set by staff was removed."),
    )
    return see_other(f"/customers/{customer_id}#loyalty")


@router.post("/customers/{customer_id}/loyalty/redeem")
def redeem_reward(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Staff,
    form: FormData,
) -> Response:
    back = safe_next(form.get("next"), f"/customers/{customer_id}#loyalty")
    reward_id = forms.FormReader(form).reference("reward_id")
    if reward_id is None:
        flash(request, N_("Choose a reward to redeem."), kind="error")
        return see_other(back)
    language = request_language(request)
    try:
        redemption = service.redeem_reward(
            session,
            settings=settings,
            customer_id=customer_id,
            reward_id=reward_id,
            by=staff_label(user),
        )
    except InsufficientPoints:
        session.rollback()
        status = service.status(session, settings=settings, customer_id=customer_id)
        reward = rewards.get_reward(session, reward_id)
        flash(
            request,
            N_(
                "Not enough points: %(reward)s needs %(need)s points and the customer has "
                "%(have)s. Nothing was taken."
            ),
            kind="error",
            reward=reward.name,
            need=i18n.format_number(reward.cost_points, language),
            have=i18n.format_number(status.available, language),
        )
        return see_other(back)
    except rewards.RewardUnavailable as exc:
        session.rollback()
        flash(
            request,
            N_("This reward is out of stock.")
            if isinstance(exc, rewards.OutOfStock)
            else N_("This reward is not available to this customer now."),
            kind="error",
        )
        return see_other(back)
    flash(
        request,
        N_("Reward redeemed: %(reward)s. Coupon code %(code)s — write it on the receipt."),
        reward=redemption.reward_name,
        code=redemption.coupon_code or "—",
    )
    return see_other(back)


@router.post("/loyalty/redemptions/{redemption_id}/cancel")
def cancel_redemption(
    redemption_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Staff,
    form: FormData,
) -> Response:
    try:
        redemption = service.cancel_redemption(
            session, settings=settings, redemption_id=redemption_id, by=staff_label(user)
        )
    except rewards.RedemptionUsed:
        session.rollback()
        flash(
            request,
            N_("This reward's coupon was used already, so it cannot be cancelled."),
            kind="error",
        )
        return see_other(safe_next(form.get("next"), "/customers"))
    flash(
        request,
        N_("Redemption cancelled; %(points)s points are back."),
        points=i18n.format_number(redemption.points, request_language(request)),
    )
    return see_other(safe_next(form.get("next"), f"/customers/{redemption.customer_id}#loyalty"))


@router.post("/customers/{customer_id}/loyalty/referral-code")
def make_referral_code(
    customer_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Staff,
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
    user: Staff,
    form: FormData,
) -> Response:
    opt_in = forms.FormReader(form).flag("opt_in")
    customer = customers.get_live_customer(session, customer_id)
    streaks.set_opt_in(session, settings=settings, customer_id=customer.id, opt_in=opt_in)
    flash(
        request,
        N_("They will appear on the leaderboard.")
        if opt_in
        else N_("They will no longer appear on the leaderboard."),
    )
    return see_other(f"/customers/{customer.id}#loyalty")


# --------------------------------------------------------------------------- program settings


@router.get("/loyalty", response_class=HTMLResponse)
def loyalty_home(user: Manager) -> Response:
    return see_other("/loyalty/program")


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
        _context(
            request,
            settings,
            program=current,
            values=values or forms.program_values(current.rules, settings.currency),
            errors=errors or {},
            versions=views.version_history(session, settings=settings),
            rewards=rewards.list_rewards(session),
            rate=forms.rate_parts(current.rules.earning.rate_bp, settings.currency),
            now_utc=utcnow(),
        ),
        status_code=status_code,
    )


@router.get("/loyalty/program", response_class=HTMLResponse)
def program_page(
    request: Request, session: ReadSession, settings: AppSettings, user: Manager
) -> HTMLResponse:
    return _program_page(request, session, settings)


@router.post("/loyalty/program", response_class=HTMLResponse)
def save_program(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Manager,
    form: FormData,
) -> Response:
    current = service.get_program(session, settings=settings)
    try:
        rules = forms.read_program(form, current=current.rules, currency=settings.currency)
        service.update_program(
            session,
            settings=settings,
            rules=rules,
            by=staff_label(user),
            note=forms.FormReader(form).text("note", max_length=500),
        )
    except Invalid as exc:
        session.rollback()
        return _program_page(
            request,
            session,
            settings,
            values=form,
            errors=field_errors(request, exc, forms.program_field),
            status_code=422,
        )
    flash(request, N_("Program saved. The new rules apply from now on; nothing earned changes."))
    return see_other("/loyalty/program")


# --------------------------------------------------------------------------- tiers


def _tiers_page(
    request: Request,
    session: Session,
    settings: Settings,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    preview: Any = None,
    stale: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    overview = service.tiers_overview(session, settings=settings)
    current = service.get_program(session, settings=settings)
    return render(
        request,
        "loyalty/tiers.html",
        _context(
            request,
            settings,
            overview=overview,
            values=values or forms.tier_values(current.rules.tiers, settings.currency),
            errors=errors or {},
            preview=preview,
            stale=stale,
            rows=forms.tier_rows(
                values or forms.tier_values(current.rules.tiers, settings.currency)
            ),
            current_names=views.tier_names(current.rules),
        ),
        status_code=status_code,
    )


def _fingerprint(tiers: Tiers) -> str:
    """Identifies the previewed tiers: saving other tiers than those previewed previews again."""
    return hashlib.sha256(tiers.model_dump_json().encode()).hexdigest()[:20]


@router.get("/loyalty/tiers", response_class=HTMLResponse)
def tiers_page(
    request: Request, session: ReadSession, settings: AppSettings, user: Manager
) -> HTMLResponse:
    return _tiers_page(request, session, settings)


@router.post("/loyalty/tiers", response_class=HTMLResponse)
def tiers_post(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Manager,
    form: FormData,
) -> Response:
    try:
        proposed = forms.read_tiers(form, currency=settings.currency)
    except Invalid as exc:
        return _tiers_page(
            request,
            session,
            settings,
            values=form,
            errors=field_errors(request, exc, lambda loc: str(loc[0]) if loc else "__all__"),
            status_code=422,
        )
    fingerprint = _fingerprint(proposed)
    stale = form.get("action") == "save" and form.get("previewed") != fingerprint
    if form.get("action") != "save" or stale:
        preview = service.preview_tiers(session, settings=settings, proposed=proposed)
        return _tiers_page(
            request,
            session,
            settings,
            values=forms.tier_values(proposed, settings.currency)
            | {"previewed": fingerprint, "note": form.get("note", "")},
            preview={"result": preview, "names": {t.code: t.name for t in proposed.levels}},
            stale=stale,
        )
    current = service.get_program(session, settings=settings)
    rules = current.rules.model_copy(update={"tiers": proposed})
    service.update_program(
        session,
        settings=settings,
        rules=rules,
        by=staff_label(user),
        note=forms.FormReader(form).text("note", max_length=500) or None,
    )
    flash(request, N_("Tiers saved. Upgrades apply now; downgrades wait for each member's review."))
    return see_other("/loyalty/tiers")


# --------------------------------------------------------------------------- rewards


@router.get("/loyalty/rewards", response_class=HTMLResponse)
def rewards_page(
    request: Request, session: ReadSession, settings: AppSettings, user: Manager
) -> HTMLResponse:
    current = service.get_program(session, settings=settings)
    catalogue = rewards.list_rewards(session)
    return render(
        request,
        "loyalty/rewards.html",
        _context(
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
    reward: Any,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    current = service.get_program(session, settings=settings)
    return render(
        request,
        "loyalty/reward_form.html",
        _context(
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
    request: Request, session: ReadSession, settings: AppSettings, user: Manager
) -> HTMLResponse:
    return _reward_form(request, session, settings, reward=None, values={"kind": "discount_fixed"})


@router.post("/loyalty/rewards/new", response_class=HTMLResponse)
def create_reward(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Manager,
    form: FormData,
) -> Response:
    try:
        data = forms.read_reward_create(
            form,
            currency=settings.currency,
            calendar=display_calendar(request, settings),
            zone=settings.zone,
        )
        reward = rewards.create_reward(session, settings=settings, data=data)
    except Invalid as exc:
        session.rollback()
        return _reward_form(
            request,
            session,
            settings,
            reward=None,
            values=form,
            errors=field_errors(request, exc),
            status_code=422,
        )
    flash(request, N_("Reward “%(name)s” added to the catalogue."), name=reward.name)
    return see_other("/loyalty/rewards")


@router.get("/loyalty/rewards/{reward_id}", response_class=HTMLResponse)
def edit_reward(
    reward_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Manager,
) -> HTMLResponse:
    reward = rewards.get_reward(session, reward_id)
    values = forms.reward_values(
        reward, calendar=display_calendar(request, settings), zone=settings.zone
    )
    return _reward_form(request, session, settings, reward=reward, values=values)


@router.post("/loyalty/rewards/{reward_id}", response_class=HTMLResponse)
def update_reward(
    reward_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Manager,
    form: FormData,
) -> Response:
    reward = rewards.get_reward(session, reward_id)
    try:
        data = forms.read_reward_update(
            form, reward=reward, calendar=display_calendar(request, settings), zone=settings.zone
        )
        rewards.update_reward(session, settings=settings, reward_id=reward.id, data=data)
    except Invalid as exc:
        session.rollback()
        return _reward_form(
            request,
            session,
            settings,
            reward=rewards.get_reward(session, reward_id),
            values=form | {"kind": reward.kind},
            errors=field_errors(request, exc),
            status_code=422,
        )
    flash(request, N_("Changes saved. Coupons already issued keep what they promised."))
    return see_other("/loyalty/rewards")


@router.post("/loyalty/rewards/{reward_id}/active")
def reward_active(
    reward_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Manager,
    form: FormData,
) -> Response:
    active = forms.FormReader(form).flag("active")
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


# --------------------------------------------------------------------------- stamp cards


@router.get("/loyalty/stamp-cards", response_class=HTMLResponse)
def stamp_cards_page(
    request: Request, session: ReadSession, settings: AppSettings, user: Manager
) -> HTMLResponse:
    return render(
        request,
        "loyalty/stamp_cards.html",
        _context(
            request,
            settings,
            cards=stamps.list_cards(session),
            rewards_by_id=views.reward_index(session),
        ),
    )


def _card_form(
    request: Request,
    session: Session,
    settings: Settings,
    *,
    card: Any,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "loyalty/stamp_card_form.html",
        _context(
            request,
            settings,
            card=card,
            values=values,
            errors=errors or {},
            rewards=rewards.list_rewards(session),
        ),
        status_code=status_code,
    )


@router.get("/loyalty/stamp-cards/new", response_class=HTMLResponse)
def new_stamp_card(
    request: Request, session: ReadSession, settings: AppSettings, user: Manager
) -> HTMLResponse:
    return _card_form(
        request,
        session,
        settings,
        card=None,
        values={"stamps_required": "10", "per": "visit", "active": "yes"},
    )


@router.post("/loyalty/stamp-cards/new", response_class=HTMLResponse)
def create_stamp_card(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Manager,
    form: FormData,
) -> Response:
    try:
        card = stamps.create_card(session, data=forms.read_card_create(form))
    except Invalid as exc:
        session.rollback()
        return _card_form(
            request,
            session,
            settings,
            card=None,
            values=form,
            errors=field_errors(request, exc),
            status_code=422,
        )
    flash(request, N_("Stamp card “%(name)s” added."), name=card.name)
    return see_other("/loyalty/stamp-cards")


@router.get("/loyalty/stamp-cards/{card_id}", response_class=HTMLResponse)
def edit_stamp_card(
    card_id: uuid.UUID,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Manager,
) -> HTMLResponse:
    card = stamps.get_card(session, card_id)
    return _card_form(request, session, settings, card=card, values=forms.card_values(card))


@router.post("/loyalty/stamp-cards/{card_id}", response_class=HTMLResponse)
def update_stamp_card(
    card_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Manager,
    form: FormData,
) -> Response:
    card = stamps.get_card(session, card_id)
    try:
        stamps.update_card(session, card_id=card.id, data=forms.read_card_update(form))
    except Invalid as exc:
        session.rollback()
        return _card_form(
            request,
            session,
            settings,
            card=stamps.get_card(session, card_id),
            values=form,
            errors=field_errors(request, exc),
            status_code=422,
        )
    flash(request, N_("Changes saved. Stamps already collected stay."))
    return see_other("/loyalty/stamp-cards")


# --------------------------------------------------------------------------- coupons

COUPON_PAGE = 50


@router.get("/loyalty/coupons", response_class=HTMLResponse)
def coupons_page(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Manager,
    source: Annotated[str | None, Query(max_length=20)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    source = source if source in LABELS["coupon_source"] else None
    status = status if status in LABELS["coupon_status"] else None
    items, nxt = coupons.list_coupons(
        session, source=source, status=status, limit=COUPON_PAGE, cursor=cursor
    )
    return render(
        request,
        "loyalty/coupons.html",
        _context(
            request,
            settings,
            items=items,
            next_cursor=nxt,
            cursor=cursor or "",
            source=source or "",
            status=status or "",
            names=views.names_for(session, [c.customer_id for c in items]),
            products=queries.product_names(session, [c.product_sku for c in items]),
            now=utcnow(),
            display=coupons_display,
        ),
    )


def coupons_display(code: str) -> str:
    """A code grouped for reading aloud (``ABCD-EFGH``)."""
    return codes.display(code)


def _coupon_form(
    request: Request,
    settings: Settings,
    *,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "loyalty/coupon_form.html",
        _context(request, settings, values=values, errors=errors or {}),
        status_code=status_code,
    )


@router.get("/loyalty/coupons/new", response_class=HTMLResponse)
def new_coupon(request: Request, settings: AppSettings, user: Manager) -> HTMLResponse:
    return _coupon_form(request, settings, values={"kind": "discount_fixed", "max_uses": "100"})


@router.post("/loyalty/coupons/new", response_class=HTMLResponse)
def create_coupon(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Manager,
    form: FormData,
) -> Response:
    language = request_language(request)
    try:
        data = forms.read_coupon(
            form,
            currency=settings.currency,
            calendar=display_calendar(request, settings),
            zone=settings.zone,
        )
        coupon = coupons.create_campaign(
            session, settings=settings, data=data, by=staff_label(user)
        )
    except Invalid as exc:
        session.rollback()
        return _coupon_form(
            request, settings, values=form, errors=field_errors(request, exc), status_code=422
        )
    except Conflict:
        session.rollback()
        return _coupon_form(
            request,
            settings,
            values=form,
            errors={"code": i18n.gettext(language, N_("This code is taken. Choose another."))},
            status_code=409,
        )
    flash(request, N_("Coupon %(code)s created."), code=coupons_display(coupon.code))
    return see_other("/loyalty/coupons")


@router.post("/loyalty/coupons/{code}/void")
def void_coupon(
    code: str,
    request: Request,
    session: DbSession,
    user: Manager,
    form: FormData,
) -> Response:
    reason = forms.FormReader(form).text("reason", max_length=500)
    try:
        coupon = coupons.void(session, code=code, reason=reason, by=staff_label(user))
    except Conflict:
        session.rollback()
        flash(
            request,
            N_(
                "This coupon came from a redemption: cancel the redemption on the customer's "
                "page to give the points back."
            ),
            kind="error",
        )
        return see_other("/loyalty/coupons")
    flash(
        request,
        N_("Coupon %(code)s is void; it can no longer be used."),
        code=coupons_display(coupon.code),
    )
    return see_other(safe_next(form.get("next"), "/loyalty/coupons"))


# --------------------------------------------------------------------------- referrals


@router.get("/loyalty/referrals", response_class=HTMLResponse)
def referrals_page(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Manager,
    status: Annotated[str | None, Query(max_length=20)] = ReferralStatus.review.value,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    chosen = status if status in LABELS["referral"] else None
    rows, nxt = views.referral_rows(session, status=chosen, cursor=cursor)
    return render(
        request,
        "loyalty/referrals.html",
        _context(
            request,
            settings,
            rows=rows,
            next_cursor=nxt,
            status=chosen or "",
            cursor=cursor or "",
            waiting=queries.review_count(session),
        ),
    )


@router.post("/loyalty/referrals/{referral_id}/approve")
def approve_referral(
    referral_id: uuid.UUID,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    user: Manager,
    form: FormData,
) -> Response:
    note = forms.FormReader(form).text("note", max_length=500)
    try:
        referrals.approve(
            session, settings=settings, referral_id=referral_id, by=staff_label(user), note=note
        )
    except Conflict:
        session.rollback()
        flash(request, N_("This referral cannot be approved now."), kind="error")
        return see_other("/loyalty/referrals")
    flash(request, N_("Referral approved; both customers got their rewards."))
    return see_other("/loyalty/referrals")


@router.post("/loyalty/referrals/{referral_id}/reject")
def reject_referral(
    referral_id: uuid.UUID,
    request: Request,
    session: DbSession,
    user: Manager,
    form: FormData,
) -> Response:
    note = forms.FormReader(form).text("note", max_length=500)
    if not note:
        flash(request, N_("Say why the referral is rejected."), kind="error")
        return see_other(f"/loyalty/referrals#r-{referral_id}")
    try:
        referrals.reject(session, referral_id=referral_id, by=staff_label(user), note=note)
    except Conflict:
        session.rollback()
        flash(
            request, N_("This referral was rewarded already; it cannot be rejected."), kind="error"
        )
        return see_other("/loyalty/referrals")
    flash(request, N_("Referral rejected; nothing more will be paid for it."))
    return see_other("/loyalty/referrals")


# --------------------------------------------------------------------------- liability


@router.get("/loyalty/liability", response_class=HTMLResponse)
def liability_page(
    request: Request, session: ReadSession, settings: AppSettings, user: Manager
) -> HTMLResponse:
    data = service.liability(session, settings=settings)
    language = request_language(request)
    if data.point_value_bp % 10_000 == 0:
        value = i18n.format_amount(data.point_value_bp // 10_000, data.currency, language)
    else:
        value = i18n.native_digits(
            f"{forms.point_value_text(data.point_value_bp, data.currency)} {data.currency}",
            language,
        )
    return render(
        request,
        "loyalty/liability.html",
        _context(request, settings, data=data, point_value=value),
    )


@router.get("/loyalty/liability.csv")
def liability_csv(session: ReadSession, settings: AppSettings, user: Manager) -> Response:
    data = service.liability(session, settings=settings)
    digits = minor_digits(data.currency)

    def money(value: int) -> str:
        return forms.amount_text(value, data.currency) if digits else str(value)

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["as_of", data.as_of.isoformat()])
    writer.writerow(["currency", data.currency])
    writer.writerow(["point_value", forms.point_value_text(data.point_value_bp, data.currency)])
    writer.writerow(["members_with_points", data.members])
    writer.writerow(["available_points", data.available_points])
    writer.writerow(["available_value", money(data.available_value)])
    writer.writerow(["pending_points", data.pending_points])
    writer.writerow(["pending_value", money(data.pending_value)])
    writer.writerow(["outstanding_points", data.outstanding_points])
    writer.writerow(["outstanding_value", money(data.outstanding_value)])
    writer.writerow(["expiring_within_30_days_points", data.expiring_30_days])
    writer.writerow(["unused_reward_coupons", data.unused_reward_coupons])
    day = data.as_of.astimezone(settings.zone).date().isoformat()
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="points-liability-{day}.csv"',
            "Cache-Control": "no-store",
        },
    )


# --------------------------------------------------------------------------- leaderboard


@router.get("/loyalty/leaderboard", response_class=HTMLResponse)
def leaderboard_page(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    user: Manager,
    month: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    day = views.parse_month(month, settings.calendar)
    board = views.leaderboard_view(session, settings=settings, month=day)
    return render(request, "loyalty/leaderboard.html", _context(request, settings, view=board))
