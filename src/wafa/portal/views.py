"""What the portal's pages show, composed from the other domains' services.

Nothing here writes or holds a rule of its own: the balance, the tier, what a reward
costs and whether the customer may take it are the loyalty engine's answers
(``loyalty.pos.summary``); consent is messaging's; the export is people's. Every function
takes the signed-in customer's id and reads only that customer's data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from wafa.core.settings import Settings
from wafa.loyalty import pos, program
from wafa.loyalty.schemas.io import AvailableReward, CouponRead, LoyaltyStatus
from wafa.messaging.personalize import first_name

JUST_OUT_OF_REACH = 3


@dataclass(frozen=True)
class Home:
    """The home page: greeting, points, tier, cards, badges, rewards now and next."""

    first_name: str
    status: LoyaltyStatus
    tier_name: str | None
    next_tier_name: str | None
    tier_progress: int | None  # percent of the way to the next tier
    badges: list[str]
    rewards_now: list[AvailableReward]
    rewards_next: list[AvailableReward]
    coupons: list[CouponRead]


def home(session: Session, *, settings: Settings, customer_id: uuid.UUID) -> Home:
    """The signed-in customer's home page."""
    summary = pos.summary(session, settings=settings, customer_id=customer_id)
    rules = program.rules_at(session, settings).rules
    status = summary.status
    info = status.tier_info
    names = {t.code: t.name for t in rules.tiers.levels}
    progress = None
    if info is not None and info.to_next is not None and info.qualifying_value is not None:
        goal = info.qualifying_value + info.to_next
        progress = 100 if goal == 0 else min(100, info.qualifying_value * 100 // goal)
    badge_names = {b.code: b.name for b in rules.badges}
    out_of_reach = sorted(
        (r for r in summary.rewards if not r.affordable), key=lambda r: r.cost_points
    )
    return Home(
        first_name=first_name(summary.name),
        status=status,
        tier_name=info.name if info else None,
        next_tier_name=names.get(info.next_tier) if info and info.next_tier else None,
        tier_progress=progress,
        badges=[badge_names.get(code, code) for code in status.badges],
        rewards_now=[r for r in summary.rewards if r.affordable],
        rewards_next=out_of_reach[:JUST_OUT_OF_REACH],
        coupons=summary.coupons,
    )
