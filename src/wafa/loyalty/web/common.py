"""What every loyalty screen shares: the words for the engine's values, and the page context."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from fastapi import Request

from wafa.core.money import minor_digits
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty.models import (
    CouponSource,
    CouponStatus,
    LimitPeriod,
    ReferralStatus,
    RewardKind,
)
from wafa.loyalty.schemas.program import (
    BirthdayMode,
    DowngradePolicy,
    ExpiryPolicy,
    RefundPolicy,
    StreakPeriod,
    TierBasis,
    TierWindow,
)
from wafa.web import forms, i18n
from wafa.web.i18n import N_
from wafa.web.templating import request_language

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
        CouponSource.bounce_back: N_("Next visit"),
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
    "limit_period": {
        LimitPeriod.day: N_("per day"),
        LimitPeriod.week: N_("per week"),
        LimitPeriod.month: N_("per month"),
        LimitPeriod.year: N_("per year"),
        LimitPeriod.ever: N_("in all"),
    },
}


def label(kind: str, value: object, language: str) -> str:
    """The words for an engine value of ``kind`` (the value itself when it has none)."""
    msgid = LABELS.get(kind, {}).get(str(value))
    return i18n.gettext(language, msgid) if msgid else str(value)


def context(request: Request, settings: Settings, **values: Any) -> dict[str, Any]:
    """A loyalty page's template values: ``values`` and what every loyalty page uses."""
    language = request_language(request)
    calendar = forms.form_calendar(request, settings)
    base: dict[str, Any] = {
        "L": partial(label, language=language),
        "choices_of": lambda kind: [
            (str(k), i18n.gettext(language, v)) for k, v in LABELS[kind].items()
        ],
        "currency": settings.currency,
        "minor_digits": minor_digits(settings.currency),
        "form_calendar": str(calendar),
        "date_example": i18n.native_digits(
            forms.day_text(utcnow(), calendar=calendar, zone=settings.zone), language
        ),
    }
    base.update(values)
    return base


def rate_parts(rate_bp: int, currency: str) -> tuple[int, int]:
    """A rate in basis points as "``points`` for every ``amount``" (minor units), in whole numbers.

    ``100`` bp in USD is 1 point for every 100 cents ($1.00); ``150`` is 15 for every $10.
    """
    unit = 10 ** minor_digits(currency)
    per = unit
    for _ in range(8):
        if rate_bp * per % 10_000 == 0:
            return rate_bp * per // 10_000, per
        per *= 10
    return rate_bp, 10_000


def point_value_text(point_value_bp: int, currency: str) -> str:
    """What one point is worth, in major units (``10000`` bp of a cent → ``0.01``)."""
    return forms.plain(Decimal(point_value_bp).scaleb(-4 - minor_digits(currency)))
