"""Input and output shapes of the loyalty API and services. Money is integer minor units.

Long (about 790 lines) because it holds only declarations: every request and response
shape of the loyalty API, a small pydantic class each, kept together so that the API's
shapes read in one place.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from wafa.core.validation import Instant, PersonName, Problem, refuse
from wafa.customers.schemas import Birthday
from wafa.loyalty import codes, texts
from wafa.loyalty.models import LimitPeriod, RewardKind, StampPer
from wafa.loyalty.schemas.program import ProgramRules, Tiers

Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Amount = Annotated[int, Field(ge=0, le=10**15, description="Minor units.")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- status, ledger


class ExpiringPoints(BaseModel):
    points: int
    on: date = Field(description="The local day the points are gone.")


class ReleasingPoints(BaseModel):
    points: int
    on: date = Field(description="The local day the pending points become available.")


class TierInfo(BaseModel):
    code: str
    name: str
    flags: list[str]
    earn_multiplier_bp: int
    since: datetime | None
    review_on: date | None
    override_until: date | None
    next_tier: str | None = None
    to_next: int | None = Field(default=None, description="Qualifying value still needed.")
    qualifying_value: int | None = None
    basis: str = Field(
        default="points",
        description="What qualifies: points earned, or spend (minor units of the currency).",
    )


class StampInfo(BaseModel):
    card_id: uuid.UUID
    name: str
    stamps: int
    required: int
    completed: int
    active: bool


class LoyaltyStatus(BaseModel):
    """A member's loyalty at a glance (``GET /customers/{id}/loyalty``)."""

    customer_id: uuid.UUID
    available: int
    pending: int
    releasing: list[ReleasingPoints] = Field(
        description="When the pending points become available, per local day, soonest first."
    )
    lifetime: int
    owed: int = Field(description="Points still to be taken from future earnings.")
    tier: str | None
    tier_info: TierInfo | None
    expiring: list[ExpiringPoints]
    stamps: list[StampInfo]
    streak: int
    best_streak: int
    visits: int
    badges: list[str]
    referral_code: str | None
    value: int = Field(description="What the available points are worth, minor units.")
    currency: str


class LedgerEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    points: int
    carried: int
    forgiven: int
    reason: str
    rule: str | None
    rule_version: int | None
    order_id: uuid.UUID | None
    refund_id: uuid.UUID | None
    redemption_id: uuid.UUID | None
    note: str | None
    created_by: str | None
    created_at: datetime
    details: dict[str, Any] | None


class LedgerPage(BaseModel):
    items: list[LedgerEntryRead]
    next_cursor: str | None


class AdjustmentCreate(_In):
    points: int = Field(description="Positive adds, negative removes (never below zero).")
    reason: Reason
    expires_at: Instant | None = Field(
        default=None, description="When added points lapse; the program's expiry by default."
    )

    @field_validator("points")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0 or abs(value) > 10**9:
            raise ValueError("points must be a non-zero number up to 1 000 000 000")
        return value


class TierChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    from_tier: str | None
    to_tier: str | None
    reason: str
    qualifying_value: int | None
    note: str | None
    created_by: str | None
    created_at: datetime


class TierOverrideIn(_In):
    tier: str | None = Field(description="Tier code kept as a floor; null removes the override.")
    until: date | None = Field(default=None, description="Last local day of the override.")
    reason: Reason


# --------------------------------------------------------------------------- program


class ProgramRead(BaseModel):
    version: int
    effective_from: datetime | None
    rules: ProgramRules


class ProgramUpdate(_In):
    rules: ProgramRules
    effective_from: Instant | None = Field(
        default=None, description="Now by default; never in the past."
    )
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class ProgramVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    effective_from: datetime
    note: str | None
    created_by: str | None
    created_at: datetime


class TierLevelRead(BaseModel):
    code: str
    name: str
    threshold: int
    earn_multiplier_bp: int
    flags: list[str]
    members: int


class TiersRead(BaseModel):
    enabled: bool
    basis: str
    window: str
    levels: list[TierLevelRead]
    untiered: int


class TierPreviewIn(_In):
    tiers: Tiers


class TierMove(BaseModel):
    customer_id: uuid.UUID
    name: str | None
    from_tier: str | None
    to_tier: str | None
    qualifying_value: int


class TierPreview(BaseModel):
    members: int
    unchanged: int
    upgrades: int
    downgrades: int
    by_tier: dict[str, int] = Field(description="Members per tier code under the proposal.")
    moves: list[TierMove] = Field(description="Up to 200 members who would change tier.")


# --------------------------------------------------------------------------- rewards


def benefit_problems(
    kind: str, *, amount: int | None, percent_bp: int | None, partner_name: str | None
) -> list[Problem]:
    """What a reward or a coupon of ``kind`` lacks to say what it gives.

    Money off needs its amount, a percentage its percentage, a partner's offer the
    partner. A free product may leave its SKU out (the cashier gives the item named on
    the coupon); a gift needs nothing more.
    """
    problems: list[Problem] = []
    if kind == RewardKind.discount_fixed and not amount:
        problems.append((("amount",), "needs_amount", texts.NEEDS_AMOUNT))
    if kind == RewardKind.discount_percent and not percent_bp:
        problems.append((("percent_bp",), "needs_percent", texts.NEEDS_PERCENT))
    if kind == RewardKind.partner_offer and not partner_name:
        problems.append((("partner_name",), "needs_partner", texts.NEEDS_PARTNER))
    return problems


def limit_problems(*, in_catalogue: bool, cost_points: int, limit: int | None) -> list[Problem]:
    """A free reward in the catalogue without a per-customer limit could be taken without end."""
    if in_catalogue and cost_points == 0 and limit is None:
        return [(("limit_per_customer",), "free_needs_limit", texts.FREE_NEEDS_LIMIT)]
    return []


def dates_problems(first: datetime | None, end: datetime | None, end_field: str) -> list[Problem]:
    """An end that does not come after the start."""
    if first is not None and end is not None and end <= first:
        return [((end_field,), "date_order", texts.DATE_ORDER)]
    return []


class RewardBase(BaseModel):
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    amount: Amount | None = Field(default=None, description="Fixed discount, minor units.")
    percent_bp: int | None = Field(default=None, gt=0, le=10_000, description="1000 = 10%.")
    product_sku: Annotated[str, StringConstraints(max_length=100)] | None = None
    partner_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    min_tier: Annotated[str, StringConstraints(max_length=32)] | None = None
    stock: int | None = Field(default=None, ge=0, description="Units left; null is unlimited.")
    min_order_amount: Amount = 0
    coupon_valid_days: int | None = Field(default=None, ge=1, le=3650)
    valid_from: Instant | None = None
    valid_until: Instant | None = None
    active: bool = True
    in_catalogue: bool = Field(
        default=True,
        description="Members may spend points on it; false: only the program gives it "
        "(birthday, a referral's welcome, a stamp card).",
    )
    limit_per_customer: int | None = Field(
        default=None, ge=1, le=10_000, description="Redemptions per customer per limit_period."
    )
    limit_period: LimitPeriod | None = Field(
        default=None, description="day, week, month, year (business calendar) or ever (default)."
    )


class RewardCreate(RewardBase):
    """A reward for the catalogue: ``name``, ``kind``, ``cost_points`` and what it gives
    when the kind needs it (``amount`` for money off, ``percent_bp`` for a percentage,
    ``partner_name`` for a partner's offer; see ``benefit_problems``). The usual other
    names are understood (``value``, ``percent``, ``sku``, ``partner``); fields this
    API does not know are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: Text200
    kind: RewardKind
    cost_points: int = Field(ge=0, le=10**9)
    amount: Amount | None = Field(
        default=None,
        validation_alias=AliasChoices("amount", "value", "discount"),
        description="Fixed discount, minor units.",
    )
    product_sku: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, validation_alias=AliasChoices("product_sku", "sku")
    )
    partner_name: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, validation_alias=AliasChoices("partner_name", "partner")
    )

    @model_validator(mode="before")
    @classmethod
    def _percent(cls, data: Any) -> Any:
        if isinstance(data, dict) and "percent" in data and "percent_bp" not in data:
            try:
                data = {**data, "percent_bp": round(float(data["percent"]) * 100)}
            except (TypeError, ValueError):
                raise ValueError("percent must be a number such as 10 for 10%") from None
        return data

    @model_validator(mode="after")
    def _coherent(self) -> RewardCreate:
        problems = benefit_problems(
            self.kind,
            amount=self.amount,
            percent_bp=self.percent_bp,
            partner_name=self.partner_name,
        )
        problems += limit_problems(
            in_catalogue=self.in_catalogue,
            cost_points=self.cost_points,
            limit=self.limit_per_customer,
        )
        problems += dates_problems(self.valid_from, self.valid_until, "valid_until")
        if problems:
            raise refuse("RewardCreate", problems)
        return self


class RewardUpdate(_In):
    name: Text200 | None = None
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    cost_points: int | None = Field(default=None, ge=0, le=10**9)
    amount: Amount | None = None
    percent_bp: int | None = Field(default=None, gt=0, le=10_000)
    product_sku: Annotated[str, StringConstraints(max_length=100)] | None = None
    partner_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    min_tier: Annotated[str, StringConstraints(max_length=32)] | None = None
    stock: int | None = Field(default=None, ge=0)
    min_order_amount: Amount | None = None
    coupon_valid_days: int | None = Field(default=None, ge=1, le=3650)
    valid_from: Instant | None = None
    valid_until: Instant | None = None
    active: bool | None = None
    in_catalogue: bool | None = None
    limit_per_customer: int | None = Field(default=None, ge=1, le=10_000)
    limit_period: LimitPeriod | None = None


class RewardRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    kind: str
    cost_points: int
    currency: str
    amount: int | None
    percent_bp: int | None
    product_sku: str | None
    partner_name: str | None
    min_tier: str | None
    stock: int | None
    redeemed_count: int
    min_order_amount: int
    coupon_valid_days: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    active: bool
    in_catalogue: bool
    limit_per_customer: int | None
    limit_period: str | None
    created_at: datetime


class RedemptionCreate(_In):
    reward_id: uuid.UUID


class RedemptionRead(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    reward_id: uuid.UUID
    reward_name: str
    points: int
    status: str
    coupon_code: str | None
    coupon_expires_at: datetime | None
    created_by: str | None
    created_at: datetime
    cancelled_at: datetime | None


# --------------------------------------------------------------------------- coupons


class CouponCreate(_In):
    name: Text200
    kind: RewardKind = RewardKind.discount_fixed
    code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = Field(
        default=None, description="Your own code (3-32 of A-Z, 0-9); generated when omitted."
    )
    customer_id: uuid.UUID | None = Field(
        default=None, description="For one customer only (a compensation, a gift)."
    )
    amount: Amount | None = None
    percent_bp: int | None = Field(default=None, gt=0, le=10_000)
    product_sku: Annotated[str, StringConstraints(max_length=100)] | None = None
    partner_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    max_uses: int | None = Field(default=1, ge=1, description="Null: unlimited.")
    per_customer_limit: int | None = Field(default=None, ge=1)
    min_order_amount: Amount = 0
    valid_from: Instant | None = None
    expires_at: Instant | None = Field(
        default=None, description="The first instant it no longer works (exclusive)."
    )
    valid_until: date | None = Field(
        default=None,
        description="The last local day it works, in the business's timezone: it ends at the "
        "end of that day (instead of expires_at).",
    )

    @model_validator(mode="after")
    def _coherent(self) -> CouponCreate:
        problems = benefit_problems(
            self.kind,
            amount=self.amount,
            percent_bp=self.percent_bp,
            partner_name=self.partner_name,
        ) + dates_problems(self.valid_from, self.expires_at, "expires_at")
        if self.valid_until is not None and self.expires_at is not None:
            problems.append((("valid_until",), "one_end", texts.ONE_END))
        if problems:
            raise refuse("CouponCreate", problems)
        return self


class CouponRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    display_code: str
    source: str
    name: str
    customer_id: uuid.UUID | None
    reward_id: uuid.UUID | None
    kind: str = Field(validation_alias="discount_kind")
    currency: str
    amount: int | None
    percent_bp: int | None
    product_sku: str | None
    partner_name: str | None
    max_uses: int | None
    uses: int
    per_customer_limit: int | None
    min_order_amount: int
    valid_from: datetime | None
    expires_at: datetime | None
    status: str
    created_by: str | None
    created_at: datetime
    voided_at: datetime | None

    @model_validator(mode="before")
    @classmethod
    def _display(cls, data: Any) -> Any:
        if not isinstance(data, dict) and hasattr(data, "code"):
            return {
                **{
                    k: getattr(data, k)
                    for k in cls.model_fields
                    if k not in ("display_code", "kind")
                },
                "discount_kind": data.discount_kind,
                "display_code": codes.display(data.code),
            }
        return data


class CouponPage(BaseModel):
    items: list[CouponRead]
    next_cursor: str | None


class CouponVoid(_In):
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class CartLine(_In):
    sku: Annotated[str, StringConstraints(max_length=100)] | None = None
    quantity: int = Field(default=1, gt=0)
    unit_price: Amount = 0


class CouponValidate(_In):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    customer_id: uuid.UUID | None = None
    subtotal: Amount
    lines: list[CartLine] = Field(default_factory=list)


class CouponValidation(BaseModel):
    valid: bool
    discount: int
    reason: str | None = None
    message: str | None = Field(default=None, description="The reason in words.")


class CouponRedeem(_In):
    order_ref: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ] = Field(
        description="The till's order or receipt number: a use is recorded once per reference."
    )
    customer_id: uuid.UUID | None = None
    subtotal: Amount
    lines: list[CartLine] = Field(default_factory=list)


class CouponUseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    coupon_id: uuid.UUID
    customer_id: uuid.UUID | None
    order_ref: str
    order_id: uuid.UUID | None
    accepted: bool
    reject_reason: str | None
    discount_amount: int
    used_at: datetime


# --------------------------------------------------------------------------- stamp cards


class StampCardCreate(_In):
    name: Text200
    stamps_required: int = Field(ge=1, le=1000)
    per: StampPer = StampPer.visit
    skus: list[Annotated[str, StringConstraints(max_length=100)]] = Field(default_factory=list)
    categories: list[Annotated[str, StringConstraints(max_length=120)]] = Field(
        default_factory=list
    )
    reward_id: uuid.UUID
    active: bool = True
    valid_from: Instant | None = None
    valid_until: Instant | None = None

    @model_validator(mode="after")
    def _something(self) -> StampCardCreate:
        problems = dates_problems(self.valid_from, self.valid_until, "valid_until")
        if not self.skus and not self.categories:
            problems.append((("skus",), "needs_products", texts.NEEDS_PRODUCTS))
        if problems:
            raise refuse("StampCardCreate", problems)
        return self


class StampCardUpdate(_In):
    name: Text200 | None = None
    stamps_required: int | None = Field(default=None, ge=1, le=1000)
    per: StampPer | None = None
    skus: list[str] | None = None
    categories: list[str] | None = None
    reward_id: uuid.UUID | None = None
    active: bool | None = None
    valid_from: Instant | None = None
    valid_until: Instant | None = None


class StampCardRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    stamps_required: int
    per: str
    skus: list[str]
    categories: list[str]
    reward_id: uuid.UUID
    active: bool
    valid_from: datetime | None
    valid_until: datetime | None
    created_at: datetime


# --------------------------------------------------------------------------- referrals


class ReferralApply(_In):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=40)]


class ReferralRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    referrer_id: uuid.UUID
    referee_id: uuid.UUID
    code: str
    status: str
    flags: list[str]
    first_order_id: uuid.UUID | None
    qualifies_at: datetime | None
    referee_rewarded_at: datetime | None
    referrer_rewarded_at: datetime | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_note: str | None
    created_at: datetime


class ReferralPage(BaseModel):
    items: list[ReferralRead]
    next_cursor: str | None


class ReferralReview(_In):
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class ReferralStats(BaseModel):
    invited: int
    pending: int
    qualified: int
    review: int
    rewarded: int
    rejected: int
    points_earned: int


class ReferralInfo(BaseModel):
    customer_id: uuid.UUID
    code: str
    link: str
    referred_by: uuid.UUID | None
    stats: ReferralStats


# --------------------------------------------------------------------------- engagement


class BadgeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    earned_at: datetime


class LeaderboardRow(BaseModel):
    rank: int
    name: str
    points: int
    customer_id: uuid.UUID | None = Field(default=None, description="Only for staff views.")


class Leaderboard(BaseModel):
    month: str = Field(description="YYYY-MM in the business calendar.")
    rows: list[LeaderboardRow]


class LeaderboardOptIn(_In):
    opt_in: bool


# --------------------------------------------------------------------------- point of sale


class PosCustomer(BaseModel):
    """One line of the POS search results."""

    id: uuid.UUID
    name: str | None
    phone: str | None
    email: str | None
    tier: str | None
    available: int


class FavouriteProduct(BaseModel):
    sku: str | None
    name: str
    times: int


class AvailableReward(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    cost_points: int
    affordable: bool


class PosSummary(BaseModel):
    """Everything the cashier sees about one customer, from one call."""

    id: uuid.UUID
    name: str | None
    greeting_name: str | None
    phone: str | None
    email: str | None
    status: LoyaltyStatus
    favourites: list[FavouriteProduct]
    rewards: list[AvailableReward]
    coupons: list[CouponRead]
    birthday_today: bool


class PosLine(_In):
    sku: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None
    ) = None
    name: Text200
    quantity: int = Field(default=1, gt=0, le=10_000)
    unit_price: Amount
    category: Annotated[str, StringConstraints(max_length=120)] | None = None


class PosPurchase(_In):
    customer_id: uuid.UUID
    reference: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ] = Field(
        description="The till's receipt number or a client-made id: the purchase is recorded once."
    )
    lines: list[PosLine] = Field(min_length=1, max_length=500)
    location: Annotated[str, StringConstraints(max_length=64)] | None = None
    coupon_codes: list[Annotated[str, StringConstraints(max_length=40)]] = Field(
        default_factory=list
    )
    discount: Amount = 0


class PosEnrol(_In):
    name: PersonName
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    sms_consent: bool = Field(default=False, description="The customer agreed to texts.")
    email_consent: bool = Field(default=False, description="The customer agreed to emails.")
    birthday: Birthday | None = None
    referral_code: Annotated[str, StringConstraints(max_length=40)] | None = None

    @model_validator(mode="after")
    def _reachable(self) -> PosEnrol:
        if not (self.phone or self.email):
            raise ValueError("a phone number or an email is needed to find the customer again")
        return self


class PosAttach(_In):
    customer_id: uuid.UUID
    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class PosResult(BaseModel):
    order_id: uuid.UUID
    created: bool
    points: int
    stamps: int
    coupons_issued: list[str]
    status: LoyaltyStatus


class Liability(BaseModel):
    """Outstanding points valued in money, for the accountant."""

    as_of: datetime
    currency: str
    point_value_bp: int
    members: int
    available_points: int
    pending_points: int
    outstanding_points: int
    available_value: int
    pending_value: int
    outstanding_value: int
    expiring_30_days: int
    unused_reward_coupons: int
