"""Demo hook: ``wafa demo`` calls :func:`populate` after building the store's orders.

It sets up the café's program (points, tiers, a stamp card, birthdays, referrals,
badges), a rewards catalogue, and then runs the store's history through the same
accrual every real order goes through, so the demo opens with members who have
points, pending points, tiers, stamps, redemptions, a referral queue and a
leaderboard. The demo's history counts for points (the demo program says so;
a real shop importing its history decides for itself).
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wafa.core.calendars import local_date
from wafa.core.events import BATCH_MEMO
from wafa.core.money import minor_digits
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.loyalty import accrual, jobs, program, referrals, rewards, stamps, streaks
from wafa.loyalty.ledger import InsufficientPoints
from wafa.loyalty.models import LoyaltyAccount, Purchase, Reward
from wafa.loyalty.schemas.io import RewardCreate, StampCardCreate
from wafa.loyalty.schemas.program import ProgramRules
from wafa.orders.models import Order


def _money(settings: Settings, major: float) -> int:
    return int(Decimal(str(major)).scaleb(minor_digits(settings.currency)))


def demo_rules(
    settings: Settings, *, cake_reward: uuid.UUID, welcome_reward: uuid.UUID
) -> ProgramRules:
    """The café's program: a point per unit, tiers by spend, a birthday cake, referrals."""
    per_unit = max(1, 10_000 // 10 ** minor_digits(settings.currency))
    return ProgramRules.model_validate(
        {
            "name": "Wafa Café Rewards",
            "earning": {"rate_bp": per_unit, "excluded_categories": ["equipment"]},
            "multipliers": [
                {"name": "beans-double", "multiplier_bp": 20_000, "categories": ["beans"]},
            ],
            "bonuses": {"first_order": 25, "profile_completed": 20, "survey_answered": 10},
            "pending_days": 14,
            "expiry": {"policy": "fixed", "months": 12},
            "refund_policy": "negative_balance",
            "imported_history": {"award_points": True, "count_stamps": True},
            "tiers": {
                "enabled": True,
                "basis": "spend",
                "window": "rolling",
                "window_months": 12,
                "hold_months": 12,
                "grace_days": 30,
                "downgrade": "one_down",
                "levels": [
                    {"code": "bronze", "name": "Bronze", "threshold": 0},
                    {"code": "silver", "name": "Silver", "threshold": _money(settings, 150)},
                    {
                        "code": "gold",
                        "name": "Gold",
                        "threshold": _money(settings, 400),
                        "earn_multiplier_bp": 12_500,
                        "flags": ["free_delivery"],
                    },
                    {
                        "code": "platinum",
                        "name": "Platinum",
                        "threshold": _money(settings, 900),
                        "earn_multiplier_bp": 15_000,
                        "flags": ["free_delivery", "early_access"],
                    },
                ],
            },
            "birthday": {
                "enabled": True,
                "mode": "day",
                "points": 50,
                "reward_id": str(cake_reward),
                "cooloff_days": 30,
            },
            "referral": {
                "enabled": True,
                "referee_points": 30,
                "referee_reward_id": str(welcome_reward),
                "referrer_points": 100,
                "max_per_period": 5,
                "period_days": 30,
            },
            "streaks": {"enabled": True, "period": "week"},
            "badges": [
                {"code": "regular", "name": "10 visits", "kind": "visits", "threshold": 10},
                {
                    "code": "explorer",
                    "name": "3 categories tried",
                    "kind": "categories",
                    "threshold": 3,
                },
                {"code": "streak-4", "name": "4 weeks in a row", "kind": "streak", "threshold": 4},
                {
                    "code": "one-year",
                    "name": "1 year a member",
                    "kind": "member_days",
                    "threshold": 365,
                },
            ],
            "leaderboard": {"enabled": True, "size": 10},
            "point_value_bp": 10_000,
        }
    )


def _catalogue(session: Session, settings: Settings) -> dict[str, Reward]:
    items = [
        RewardCreate(
            name="Free espresso",
            kind="free_product",
            cost_points=60,
            product_sku="DRK-ESP",
            coupon_valid_days=30,
        ),
        RewardCreate(
            name="Free flat white",
            kind="free_product",
            cost_points=90,
            product_sku="DRK-FW",
            coupon_valid_days=30,
        ),
        RewardCreate(
            name="Birthday cake slice",
            kind="free_product",
            cost_points=0,
            in_catalogue=False,  # the program gives it; not bought with points
            product_sku="PAS-DATE",
            coupon_valid_days=14,
        ),
        RewardCreate(
            name="Welcome croissant",
            kind="free_product",
            cost_points=0,
            in_catalogue=False,  # the program gives it; not bought with points
            product_sku="PAS-CRO",
            coupon_valid_days=30,
        ),
        RewardCreate(
            name="5 off beans",
            kind="discount_fixed",
            cost_points=250,
            amount=_money(settings, 5),
            min_order_amount=_money(settings, 11),
        ),
        RewardCreate(name="Tote bag", kind="gift", cost_points=400, stock=25),
        RewardCreate(
            name="Pastry at Golden Bakery next door",
            kind="partner_offer",
            cost_points=150,
            partner_name="Golden Bakery",
        ),
    ]
    return {r.name: rewards.create_reward(session, settings=settings, data=r) for r in items}


def populate(session: Session, *, settings: Settings, seed: int) -> None:
    """Program, catalogue, stamp card, then the store's history accrued and a few redemptions.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        The demo build's write session (all of this joins its transaction).
    settings : Settings
        Business currency, timezone and calendar.
    seed : int
        Makes the redemptions, referrals and opt-ins the same on every build.
    """
    if session.scalar(select(func.count()).select_from(Reward)):
        return  # this store has its loyalty demo already
    rng = random.Random(seed)
    catalogue = _catalogue(session, settings)
    rules = demo_rules(
        settings,
        cake_reward=catalogue["Birthday cake slice"].id,
        welcome_reward=catalogue["Welcome croissant"].id,
    )
    program.save_rules(session, rules=rules, by="demo", note="the demo café's program")
    catalogue["15% off equipment"] = rewards.create_reward(
        session,
        settings=settings,
        data=RewardCreate(
            name="15% off equipment",
            kind="discount_percent",
            cost_points=600,
            percent_bp=1500,
            min_tier="gold",
        ),
    )
    stamps.create_card(
        session,
        data=StampCardCreate(
            name="Every 10th coffee free",
            stamps_required=10,
            per="item",
            categories=["coffee drinks"],
            reward_id=catalogue["Free flat white"].id,
        ),
    )
    pending = session.execute(
        select(Order.id)
        .outerjoin(Purchase, Purchase.order_id == Order.id)
        .where(Order.customer_id.is_not(None), Purchase.order_id.is_(None))
        .order_by(Order.placed_at, Order.id)
    ).scalars()
    # The program and the card are saved above and do not change while the history is
    # accrued: the orders share one read of them, as the worker's batches do.
    session.info[BATCH_MEMO] = {}
    try:
        for order_id in list(pending):
            accrual.accrue_order(session, settings=settings, order_id=order_id, imported=True)
    finally:
        session.info.pop(BATCH_MEMO, None)
    now = utcnow()
    while jobs.release_batch(session, settings=settings, now=now):
        pass
    while jobs.expire_batch(session, settings=settings, now=now):
        pass
    members = list(
        session.execute(
            select(LoyaltyAccount.customer_id, LoyaltyAccount.available)
            .join(Customer, Customer.id == LoyaltyAccount.customer_id)
            .where(Customer.merged_into_id.is_(None), Customer.erased_at.is_(None))
            .order_by(LoyaltyAccount.customer_id)
        )
    )
    spendable = [r for r in catalogue.values() if r.cost_points and r.min_tier is None]
    for cid, available in members:
        if available >= 60 and rng.random() < 0.3:
            reward = rng.choice([r for r in spendable if r.cost_points <= available] or spendable)
            try:
                with session.begin_nested():
                    done = rewards.redeem(
                        session, settings=settings, customer_id=cid, reward_id=reward.id, by="demo"
                    )
                if rng.random() < 0.1:
                    rewards.cancel(session, settings=settings, redemption_id=done.id, by="demo")
            except (InsufficientPoints, rewards.RewardUnavailable):
                pass
        if rng.random() < 0.2:
            streaks.set_opt_in(session, settings=settings, customer_id=cid, opt_in=True)
    _referrals(session, settings, rng, [cid for cid, _ in members])
    today = local_date(now, settings.zone)
    streaks.break_streaks(session, settings=settings, rules=rules, day=today)
    jobs.warn_batch(session, settings=settings, day=today, limit=100_000)
    session.flush()


def _referrals(
    session: Session, settings: Settings, rng: random.Random, ids: list[uuid.UUID]
) -> None:
    """A few referral codes handed out, and a couple of friends held for review."""
    if len(ids) < 4:
        return
    for cid in rng.sample(ids, k=min(len(ids), 40)):
        referrals.referral_code(session, settings=settings, customer_id=cid)
    late = [
        cid
        for cid in ids
        if session.scalar(
            select(func.count()).select_from(Purchase).where(Purchase.customer_id == cid)
        )
        == 1
    ][:6]
    sharers = [cid for cid in ids if cid not in late][:3]
    for i, friend in enumerate(late):
        code = referrals.referral_code(
            session, settings=settings, customer_id=sharers[i % len(sharers)]
        )
        try:
            with session.begin_nested():
                ref = referrals.apply_code(
                    session,
                    settings=settings,
                    referee_id=friend,
                    code=code,
                    now=utcnow() - timedelta(days=400),
                )
        except Exception:
            continue
        ref.flags = ["not_new"] if i % 2 else []
        ref.status = "review" if i % 2 else "pending"
    session.flush()
