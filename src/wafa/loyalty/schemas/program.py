"""The program's rules: one validated document, saved as a new version on every change.

Amounts are integer minor units of the business currency; rates and multipliers are
basis points (10 000 = 1, so 20 000 is "double points"). Points are computed by
``wafa.core.money.apply_rate_bp``, which rounds toward zero, once per rule and order.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from wafa.core.validation import Problem, refuse
from wafa.loyalty import texts

Slug = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$"),
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Points = Annotated[int, Field(ge=0, le=10**9)]
Bp = Annotated[int, Field(ge=0, le=10**7)]


class ExpiryPolicy(StrEnum):
    never = "never"
    fixed = "fixed"  # points expire N months after the day they were earned
    inactivity = "inactivity"  # all points expire after N months without a purchase


class RefundPolicy(StrEnum):
    negative_balance = "negative_balance"
    future_earnings = "future_earnings"
    forfeit = "forfeit"


class TierBasis(StrEnum):
    points = "points"  # points earned from purchases, net of refunds
    spend = "spend"  # money paid, net of refunds, minor units


class TierWindow(StrEnum):
    rolling = "rolling"  # the last ``window_months`` months
    calendar_year = "calendar_year"  # this calendar year, or all of last year


class DowngradePolicy(StrEnum):
    one_down = "one_down"
    recalculate = "recalculate"


class BirthdayMode(StrEnum):
    day = "day"
    month = "month"


class StreakPeriod(StrEnum):
    week = "week"
    month = "month"


class BadgeKind(StrEnum):
    visits = "visits"  # number of purchases
    categories = "categories"  # distinct categories bought
    member_days = "member_days"  # days since joining
    streak = "streak"  # best streak length
    spend = "spend"  # money paid, minor units


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Earning(_Strict):
    rate_bp: Bp = Field(
        default=100,
        description=(
            "Points per minor unit, in basis points: 100 gives 1 point per 100 minor units "
            "(1 point per dollar); rounded toward zero per rule and order."
        ),
    )
    include_shipping: bool = Field(default=False, description="Shipping earns points.")
    include_tax: bool = Field(default=False, description="Tax earns points.")
    after_discounts: bool = Field(
        default=True, description="Points on what was paid after discounts (the usual choice)."
    )
    excluded_categories: list[Annotated[str, StringConstraints(max_length=120)]] = Field(
        default_factory=list, description="Lines in these categories earn nothing."
    )
    excluded_skus: list[Annotated[str, StringConstraints(max_length=100)]] = Field(
        default_factory=list
    )
    min_order_amount: int = Field(
        default=0, ge=0, description="Orders below this (qualifying) amount earn nothing."
    )


class Multiplier(_Strict):
    """Extra points on matching lines: by category, product, channel and/or date range."""

    name: Slug
    multiplier_bp: Bp = Field(description="20000 doubles the base points on matching lines.")
    categories: list[str] = Field(default_factory=list)
    skus: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    starts_on: date | None = Field(default=None, description="First local day (inclusive).")
    ends_on: date | None = Field(default=None, description="Last local day (inclusive).")

    @model_validator(mode="after")
    def _range(self) -> Multiplier:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise refuse("Multiplier", [(("ends_on",), "date_order", texts.DATE_ORDER)])
        return self


class Bonuses(_Strict):
    signup: Points = Field(default=0, description="On joining (a new customer record).")
    first_order: Points = Field(default=0, description="On the first purchase.")
    profile_completed: Points = Field(
        default=0, description="When name, email, phone and birthday are all on file."
    )
    survey_answered: Points = Field(default=0, description="For each survey answered.")


class Expiry(_Strict):
    policy: ExpiryPolicy = ExpiryPolicy.never
    months: int = Field(default=12, ge=1, le=120)
    warn_days: list[int] = Field(
        default_factory=lambda: [30, 7],
        description="points.expiring is sent this many days ahead, once each.",
    )


class Tier(_Strict):
    code: Slug
    name: Name
    threshold: int = Field(ge=0, description="Qualifying value (points or minor units).")
    earn_multiplier_bp: Bp = Field(default=10_000, description="10000 = no extra points.")
    flags: list[Slug] = Field(default_factory=list, description="Benefits, e.g. free_delivery.")


class Tiers(_Strict):
    enabled: bool = False
    basis: TierBasis = TierBasis.points
    window: TierWindow = TierWindow.rolling
    window_months: int = Field(default=12, ge=1, le=60)
    hold_months: int = Field(
        default=12, ge=1, le=60, description="A tier is kept at least this long before review."
    )
    grace_days: int = Field(
        default=30, ge=0, le=365, description="After a failed review, time to requalify."
    )
    downgrade: DowngradePolicy = DowngradePolicy.one_down
    levels: list[Tier] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> Tiers:
        problems: list[Problem] = []
        codes = [t.code for t in self.levels]
        for i, level in enumerate(self.levels):
            if level.code in codes[:i]:
                problems.append((("levels", i, "code"), "tier_unique", texts.TIER_UNIQUE))
            if i and level.threshold <= self.levels[i - 1].threshold:
                problems.append((("levels", i, "threshold"), "tier_order", texts.TIER_ORDER))
        if problems:
            raise refuse("Tiers", problems)
        return self


class BirthdayRule(_Strict):
    enabled: bool = False
    mode: BirthdayMode = BirthdayMode.day
    points: Points = 0
    reward_id: uuid.UUID | None = Field(default=None, description="A reward given as a coupon.")
    cooloff_days: int = Field(
        default=30, ge=0, le=366, description="No reward this soon after a birthday is set."
    )


class ReferralRule(_Strict):
    enabled: bool = False
    referee_points: Points = 0
    referee_reward_id: uuid.UUID | None = None
    referrer_points: Points = 0
    referrer_reward_id: uuid.UUID | None = None
    max_per_period: int = Field(default=10, ge=1, description="More referrals are reviewed.")
    period_days: int = Field(default=30, ge=1, le=366)
    new_customer_days: int = Field(
        default=1,
        ge=0,
        description="A friend whose record is older than this when referred is not new.",
    )
    link_base: str | None = Field(
        default=None, max_length=300, description="The referral link is link_base + code."
    )


class Streaks(_Strict):
    enabled: bool = True
    period: StreakPeriod = StreakPeriod.week
    week_starts_on: int = Field(
        default=0, ge=0, le=6, description="0 Monday … 5 Saturday, 6 Sunday."
    )


class BadgeRule(_Strict):
    code: Slug
    name: Name
    kind: BadgeKind
    threshold: int = Field(ge=1)


class ImportedHistory(_Strict):
    award_points: bool = Field(default=False, description="Imported (historic) orders earn points.")
    count_stamps: bool = Field(default=False, description="Imported orders earn stamps.")


class Leaderboard(_Strict):
    enabled: bool = True
    size: int = Field(default=10, ge=1, le=100)


def default_badges() -> list[BadgeRule]:
    return [
        BadgeRule(code="regular", name="10 visits", kind=BadgeKind.visits, threshold=10),
        BadgeRule(
            code="explorer", name="5 categories tried", kind=BadgeKind.categories, threshold=5
        ),
        BadgeRule(
            code="one-year", name="1 year a member", kind=BadgeKind.member_days, threshold=365
        ),
    ]


class ProgramRules(_Strict):
    """Everything the owner configures about the program (one program per business)."""

    enabled: bool = Field(default=True, description="When off, purchases earn nothing.")
    name: Name = "Rewards"
    earning: Earning = Field(default_factory=Earning)
    multipliers: list[Multiplier] = Field(default_factory=list)
    bonuses: Bonuses = Field(default_factory=Bonuses)
    pending_days: int = Field(
        default=14, ge=0, le=365, description="Days before purchase points can be spent."
    )
    expiry: Expiry = Field(default_factory=Expiry)
    refund_policy: RefundPolicy = Field(
        default=RefundPolicy.negative_balance,
        description="When refunded points were already spent.",
    )
    imported_history: ImportedHistory = Field(default_factory=ImportedHistory)
    tiers: Tiers = Field(default_factory=Tiers)
    birthday: BirthdayRule = Field(default_factory=BirthdayRule)
    referral: ReferralRule = Field(default_factory=ReferralRule)
    streaks: Streaks = Field(default_factory=Streaks)
    badges: list[BadgeRule] = Field(default_factory=default_badges)
    leaderboard: Leaderboard = Field(default_factory=Leaderboard)
    point_value_bp: Bp = Field(
        default=10_000,
        description="What one point is worth, in basis points of a minor unit (liability).",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> ProgramRules:
        names = [m.name for m in self.multipliers]
        if len(set(names)) != len(names):
            raise ValueError("multiplier names must be unique")
        codes = [b.code for b in self.badges]
        if len(set(codes)) != len(codes):
            raise ValueError("badge codes must be unique")
        return self

    def tier(self, code: str | None) -> Tier | None:
        """The tier definition with ``code``."""
        return next((t for t in self.tiers.levels if t.code == code), None)

    def tier_rank(self, code: str | None) -> int:
        """0 for no tier, 1 for the lowest tier, …; an unknown code ranks 0."""
        for i, t in enumerate(self.tiers.levels):
            if t.code == code:
                return i + 1
        return 0
