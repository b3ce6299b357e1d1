"""Loyalty in the dashboard, one module per screen.

=================  =============================================================
``pos``            the point of sale (the counter's screen and its fragments)
``profile``        the loyalty cards of the customer page, the ledger, staff actions
``program``        the program's settings
``tiers``          tiers, with a preview of who would move
``rewards``        the rewards catalogue
``stamp_cards``    stamp cards
``coupons``        campaign codes and issued coupons
``referrals``      the referral review queue
``liability``      the points liability (page and CSV)
``leaderboard``    the opt-in leaderboard
=================  =============================================================

Each route reads its form (``wafa.web.forms``), checks the role (``Staff`` for the
counter, ``Manager`` for the program), calls one service or view function, and
renders; a refused form is redrawn by ``forms.submit``, which rolls back first. The
rules live in the loyalty services and schemas, never only here. ``router`` gathers
the screens for the dashboard; this module also puts them in the sidebar and names
loyalty's events on the customer's timeline.
"""

from __future__ import annotations

from fastapi import APIRouter

from wafa.auth.models import Role
from wafa.loyalty import events
from wafa.loyalty.web import (
    coupons,
    leaderboard,
    liability,
    pos,
    profile,
    program,
    referrals,
    rewards,
    stamp_cards,
    tiers,
)
from wafa.web.i18n import N_
from wafa.web.nav import register_nav
from wafa.web.panels import register_timeline_event
from wafa.web.routing import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)
for _screen in (
    pos,
    profile,
    program,
    tiers,
    rewards,
    stamp_cards,
    coupons,
    referrals,
    liability,
    leaderboard,
):
    # The screens' own route objects (WebRoute, checked by the dashboard's mount).
    router.routes.extend(_screen.router.routes)

LOYALTY = N_("Loyalty")
register_nav(N_("Point of sale"), "/pos", min_role=Role.cashier, icon="tablet", order=15)
for _label, _path, _icon, _order in (
    (N_("Program"), "/loyalty/program", "sliders", 41),
    (N_("Tiers"), "/loyalty/tiers", "star", 42),
    (N_("Rewards"), "/loyalty/rewards", "gift", 43),
    (N_("Stamp cards"), "/loyalty/stamp-cards", "repeat", 44),
    (N_("Coupons"), "/loyalty/coupons", "tag", 45),
    (N_("Referrals"), "/loyalty/referrals", "link", 46),
    (N_("Points liability"), "/loyalty/liability", "coins", 47),
    (N_("Leaderboard"), "/loyalty/leaderboard", "trend", 48),
):
    register_nav(_label, _path, min_role=Role.manager, icon=_icon, order=_order, section=LOYALTY)

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

__all__ = ["router"]
