"""What the loyalty engine announces, for messages, flows, webhooks and the timeline.

Each event is about one member (``subject_id`` = ``customer_id``) and carries what a
message needs to say it (points, codes, dates) without reading loyalty's tables.
``label`` and ``icon`` are how the customer's timeline shows it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import ClassVar

from pydantic import ConfigDict, Field

from wafa.core.events import Event
from wafa.core.i18n import N_


class PointsEarned(Event):
    """Points were credited: for an order (``order_id``), a bonus, or another rule.

    ``rules`` splits the points by the rule that gave them; ``available_at`` is when
    pending points become spendable (``None``: at once).
    """

    topic: ClassVar[str] = "points.earned"
    label: ClassVar[str | None] = N_("Points earned")
    icon: ClassVar[str] = "star"

    customer_id: uuid.UUID
    points: int
    reason: str
    rules: dict[str, int] = Field(default_factory=dict)
    order_id: uuid.UUID | None = None
    order_number: str | None = None
    available_at: datetime | None = None


class PointsExpiring(Event):
    """``points`` of a member expire on ``expires_on`` (local date), ``days_ahead`` from now."""

    topic: ClassVar[str] = "points.expiring"
    label: ClassVar[str | None] = N_("Points expiring soon")
    icon: ClassVar[str] = "clock"

    customer_id: uuid.UUID
    points: int
    expires_on: date
    days_ahead: int


class TierChanged(Event):
    """A member moved from one tier to another (``None``: no tier)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)
    topic: ClassVar[str] = "tier.changed"
    label: ClassVar[str | None] = N_("Tier changed")
    icon: ClassVar[str] = "trend"

    customer_id: uuid.UUID
    from_tier: str | None = Field(alias="from")
    to_tier: str | None = Field(alias="to")
    reason: str
    qualifying_value: int | None = None


class RewardRedeemed(Event):
    """A member spent points on a reward; the coupon carries it to the till."""

    topic: ClassVar[str] = "reward.redeemed"
    label: ClassVar[str | None] = N_("Reward redeemed")
    icon: ClassVar[str] = "gift"

    redemption_id: uuid.UUID
    customer_id: uuid.UUID
    reward_id: uuid.UUID
    reward_name: str
    points: int
    coupon_code: str
    coupon_expires_at: datetime | None = None


class CouponIssued(Event):
    """A coupon was issued (to a member, or to anyone holding the code)."""

    topic: ClassVar[str] = "coupon.issued"
    label: ClassVar[str | None] = N_("Coupon issued")
    icon: ClassVar[str] = "tag"

    coupon_id: uuid.UUID
    code: str
    customer_id: uuid.UUID | None
    source: str
    name: str | None = None
    kind: str
    amount: int | None = None
    percent_bp: int | None = None
    expires_at: datetime | None = None


class ReferralRewarded(Event):
    """One side of a referral was rewarded (``side``: ``referrer`` or ``referee``)."""

    topic: ClassVar[str] = "referral.rewarded"
    label: ClassVar[str | None] = N_("Referral rewarded")
    icon: ClassVar[str] = "link"

    referral_id: uuid.UUID
    customer_id: uuid.UUID
    side: str
    points: int
    reward_id: uuid.UUID | None = None
    friend_id: uuid.UUID | None = None


class BadgeEarned(Event):
    """A member earned a badge (``badge``: its code, ``name``: as shown)."""

    topic: ClassVar[str] = "badge.earned"
    label: ClassVar[str | None] = N_("Badge earned")
    icon: ClassVar[str] = "star"

    customer_id: uuid.UUID
    badge: str
    name: str


class BirthdayRewardGranted(Event):
    """A member's birthday reward for ``year`` of their birthday's ``calendar``."""

    topic: ClassVar[str] = "birthday.reward_granted"
    label: ClassVar[str | None] = N_("Birthday reward")
    icon: ClassVar[str] = "cake"

    customer_id: uuid.UUID
    calendar: str
    year: int
    on: date
    points: int
    coupon_code: str | None = None


class SurpriseGranted(Event):
    """A surprise rule gave a member something (``points`` or a coupon), once per occasion.

    ``gift`` is the reward's name as the owner wrote it ("A free pastry"); ``coupon_code``
    is the code the customer shows (``None`` for points).
    """

    topic: ClassVar[str] = "loyalty.surprise_granted"
    label: ClassVar[str | None] = N_("Surprise reward")
    icon: ClassVar[str] = "gift"

    customer_id: uuid.UUID
    grant_id: uuid.UUID
    rule_id: uuid.UUID
    rule: str
    trigger: str
    points: int | None = None
    gift: str | None = None
    coupon_code: str | None = None
    coupon_expires_at: datetime | None = None


EVENTS = (
    PointsEarned,
    PointsExpiring,
    TierChanged,
    RewardRedeemed,
    CouponIssued,
    ReferralRewarded,
    BadgeEarned,
    BirthdayRewardGranted,
    SurpriseGranted,
)
