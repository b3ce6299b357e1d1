"""Topics loyalty writes to the outbox, for the messaging that comes next."""

from __future__ import annotations

POINTS_EARNED = "points.earned"
POINTS_EXPIRING = "points.expiring"
TIER_CHANGED = "tier.changed"
REWARD_REDEEMED = "reward.redeemed"
COUPON_ISSUED = "coupon.issued"
REFERRAL_REWARDED = "referral.rewarded"
BADGE_EARNED = "badge.earned"
BIRTHDAY_REWARD_GRANTED = "birthday.reward_granted"

ALL = (
    POINTS_EARNED,
    POINTS_EXPIRING,
    TIER_CHANGED,
    REWARD_REDEEMED,
    COUPON_ISSUED,
    REFERRAL_REWARDED,
    BADGE_EARNED,
    BIRTHDAY_REWARD_GRANTED,
)
