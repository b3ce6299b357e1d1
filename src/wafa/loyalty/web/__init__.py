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
``surprises``      a surprise given at the counter (the rules' page is messaging's)
``bounceback``     next-visit (bounce-back) offers and their report; the POS receipt view
=================  =============================================================

Each route reads its form (``wafa.web.forms``), checks the role (``Staff`` for the
counter, ``MayEditProgram`` and its kin for the program: ``wafa.auth.permissions``), calls one service or view function, and
renders; a refused form is redrawn by ``forms.submit``, which rolls back first. The
rules live in the loyalty services and schemas, never only here. ``router`` gathers
the screens for the dashboard; ``PAGES`` declares them with their sidebar entries and
the profile's cards (loyalty's events name themselves on the timeline: ``events.py``).
"""

from __future__ import annotations

from fastapi import APIRouter

from wafa.auth.models import Role
from wafa.loyalty.web import (
    bounceback,
    coupons,
    leaderboard,
    liability,
    pos,
    profile,
    program,
    referrals,
    rewards,
    stamp_cards,
    surprises,
    tiers,
)
from wafa.web.i18n import N_
from wafa.web.nav import NavItem
from wafa.web.pages import Pages
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
    surprises,
    bounceback,
):
    # The screens' own route objects (WebRoute, checked by the dashboard's mount).
    router.routes.extend(_screen.router.routes)

LOYALTY = N_("Loyalty")
NAV = (
    NavItem(N_("Point of sale"), "/pos", min_role=Role.cashier, icon="tablet", order=15),
    *(
        NavItem(label, path, min_role=Role.manager, icon=icon, order=order, section=LOYALTY)
        for label, path, icon, order in (
            (N_("Program"), "/loyalty/program", "sliders", 41),
            (N_("Tiers"), "/loyalty/tiers", "star", 42),
            (N_("Rewards"), "/loyalty/rewards", "gift", 43),
            (N_("Stamp cards"), "/loyalty/stamp-cards", "repeat", 44),
            (N_("Coupons"), "/loyalty/coupons", "tag", 45),
            (N_("Next-visit offers"), "/loyalty/bounce-back", "gift", 45),
            (N_("Referrals"), "/loyalty/referrals", "link", 46),
            (N_("Points liability"), "/loyalty/liability", "coins", 47),
            (N_("Leaderboard"), "/loyalty/leaderboard", "trend", 48),
        )
    ),
)

PAGES = Pages(routers=(router,), nav=NAV, panels=profile.PANELS)

__all__ = ["PAGES", "router"]
