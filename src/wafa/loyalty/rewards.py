"""The rewards catalogue and redemptions.

Redeeming spends points with the ledger's guarded update (never overdraws), takes
one unit of stock with a guarded update (never below zero) and issues a
single-use coupon with an unambiguous code, all in one savepoint: when any step
fails, nothing of it remains. Cancelling an unused redemption voids its coupon
(only if still unused, again by a guarded update) and gives the points back with
the expiry dates they had.

Only catalogue rewards can be redeemed (``in_catalogue``; the program's own gifts —
birthday, a referral's welcome, a stamp card — are issued by the program). A reward
may be limited per customer per period (local day, week, month or year of the
business calendar, or ever): each redemption takes a numbered place in its period,
unique per (reward, customer, period), under the member's row lock; a free catalogue
reward must carry such a limit.

About 550 lines: the catalogue's rules and redemption share the limit checks, kept in
one module.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wafa.core.calendars import local_date, month_start, week_start, year_start
from wafa.core.db import rowcount
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.events import emit
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.loyalty import codes, coupons, events, ledger, tiers
from wafa.loyalty.ledger import LotSpec
from wafa.loyalty.models import (
    Coupon,
    CouponSource,
    CouponStatus,
    EntryKind,
    LimitPeriod,
    PointsAllocation,
    PointsEntry,
    PointsLot,
    Redemption,
    RedemptionStatus,
    Reward,
)
from wafa.loyalty.program import rules_at
from wafa.loyalty.schemas.io import (
    RedemptionRead,
    RewardCreate,
    RewardUpdate,
    benefit_problems,
    dates_problems,
    limit_problems,
)
from wafa.loyalty.schemas.program import ProgramRules


class RewardUnavailable(Conflict):
    code = "reward-unavailable"
    title = "Reward not available"


class OutOfStock(RewardUnavailable):
    code = "out-of-stock"
    title = "Reward out of stock"


class RedemptionUsed(Conflict):
    code = "redemption-used"
    title = "Redemption already used"


def create_reward(session: Session, *, settings: Settings, data: RewardCreate) -> Reward:
    """Add a reward to the catalogue."""
    if data.min_tier is not None:
        _check_tier(session, settings, data.min_tier)
    now = utcnow()
    reward = Reward(
        id=new_id(),
        name=data.name,
        description=data.description,
        kind=data.kind,
        cost_points=data.cost_points,
        currency=settings.currency,
        amount=data.amount,
        percent_bp=data.percent_bp,
        product_sku=data.product_sku,
        partner_name=data.partner_name,
        min_tier=data.min_tier,
        stock=data.stock,
        redeemed_count=0,
        min_order_amount=data.min_order_amount,
        coupon_valid_days=data.coupon_valid_days,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        active=data.active,
        in_catalogue=data.in_catalogue,
        limit_per_customer=data.limit_per_customer,
        limit_period=_period_of(data.limit_per_customer, data.limit_period),
        created_at=now,
        updated_at=now,
    )
    session.add(reward)
    session.flush()
    return reward


def _period_of(limit: int | None, period: str | None) -> str | None:
    """A limit's period (``ever`` when a limit names none); no limit, no period."""
    return (period or LimitPeriod.ever.value) if limit is not None else None


def _check_tier(session: Session, settings: Settings, code: str) -> None:
    rules = rules_at(session, settings).rules
    if rules.tier(code) is None:
        raise Invalid.field(
            ("min_tier",), f"no tier {code!r}; tiers are {[t.code for t in rules.tiers.levels]}"
        )


def get_reward(session: Session, reward_id: uuid.UUID) -> Reward:
    """The reward with ``reward_id``."""
    reward = session.get(Reward, reward_id)
    if reward is None:
        raise NotFound(f"reward {reward_id} not found", reward_id=reward_id)
    return reward


def update_reward(
    session: Session, *, settings: Settings, reward_id: uuid.UUID, data: RewardUpdate
) -> Reward:
    """Change the fields given; coupons already issued keep what they promised.

    The reward as changed must still say what it gives (``benefit_problems``) and
    end after it starts; otherwise nothing changes and ``Invalid`` names the field.
    """
    reward = get_reward(session, reward_id)
    nullable = {
        "description",
        "amount",
        "percent_bp",
        "product_sku",
        "partner_name",
        "min_tier",
        "stock",
        "coupon_valid_days",
        "valid_from",
        "valid_until",
        "limit_per_customer",
        "limit_period",
    }
    changes = {name: getattr(data, name) for name in data.model_fields_set}
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise Invalid.field((name,), "may not be null")
        if name == "min_tier" and value is not None:
            _check_tier(session, settings, value)
    after = {
        name: changes.get(name, getattr(reward, name))
        for name in (
            "amount",
            "percent_bp",
            "partner_name",
            "valid_from",
            "valid_until",
            "in_catalogue",
            "cost_points",
            "limit_per_customer",
            "limit_period",
        )
    }
    changes["limit_period"] = _period_of(after["limit_per_customer"], after["limit_period"])
    problems = benefit_problems(
        reward.kind,
        amount=after["amount"],
        percent_bp=after["percent_bp"],
        partner_name=after["partner_name"],
    )
    problems += limit_problems(
        in_catalogue=after["in_catalogue"],
        cost_points=after["cost_points"],
        limit=after["limit_per_customer"],
    )
    problems += dates_problems(after["valid_from"], after["valid_until"], "valid_until")
    if problems:
        raise Invalid(
            "; ".join(f"{loc[0]}: {msg}" for loc, _, msg in problems),
            [(loc, msg) for loc, _, msg in problems],
        )
    for name, value in changes.items():
        setattr(reward, name, value)
    reward.updated_at = utcnow()
    session.flush()
    return reward


def list_rewards(
    session: Session, *, active_only: bool = False, now: datetime | None = None
) -> list[Reward]:
    """The catalogue, cheapest first (only what can be redeemed now with ``active_only``)."""
    stmt = select(Reward)
    if active_only:
        now = now or utcnow()
        stmt = stmt.where(
            Reward.active.is_(True),
            or_(Reward.valid_from.is_(None), Reward.valid_from <= now),
            or_(Reward.valid_until.is_(None), Reward.valid_until > now),
            or_(Reward.stock.is_(None), Reward.stock > 0),
        )
    return list(session.scalars(stmt.order_by(Reward.cost_points, Reward.name)))


def unavailable_reason(
    reward: Reward, *, tier_rank: int, min_tier_rank: int, now: datetime
) -> str | None:
    """Why ``reward`` cannot be redeemed now (a slug), or ``None`` (its per-customer limit
    aside: see ``limit_left``)."""
    if not reward.in_catalogue:
        return "not_in_catalogue"
    if not reward.active:
        return "inactive"
    if reward.valid_from is not None and reward.valid_from > now:
        return "not_yet_valid"
    if reward.valid_until is not None and reward.valid_until <= now:
        return "expired"
    if reward.stock is not None and reward.stock <= 0:
        return "out_of_stock"
    if reward.min_tier is not None and tier_rank < max(min_tier_rank, 1):
        return "tier"
    return None


def period_key(reward: Reward, day: date, rules: ProgramRules, settings: Settings) -> str | None:
    """The limit period ``day`` (a local day) falls in, as stored (``month:2026-12-01``)."""
    if reward.limit_per_customer is None:
        return None
    period = LimitPeriod(reward.limit_period or LimitPeriod.ever)
    cal = settings.calendar
    start = {
        LimitPeriod.day: lambda: day,
        LimitPeriod.week: lambda: week_start(day, rules.streaks.week_starts_on),
        LimitPeriod.month: lambda: month_start(day, cal),
        LimitPeriod.year: lambda: year_start(day, cal),
    }.get(period)
    return f"{period.value}:{start().isoformat()}" if start else period.value


def _places_taken(
    session: Session, reward_id: uuid.UUID, customer_id: uuid.UUID, key: str
) -> set[int]:
    return set(
        session.scalars(
            select(Redemption.seq).where(
                Redemption.reward_id == reward_id,
                Redemption.customer_id == customer_id,
                Redemption.period == key,
                Redemption.seq.is_not(None),
            )
        )
    )


def limit_left(
    session: Session,
    reward: Reward,
    customer_id: uuid.UUID,
    *,
    rules: ProgramRules,
    settings: Settings,
    now: datetime,
) -> int | None:
    """How many more times the customer may take ``reward`` this period (``None``: no limit)."""
    key = period_key(reward, local_date(now, settings.zone), rules, settings)
    if key is None or reward.limit_per_customer is None:
        return None
    taken = _places_taken(session, reward.id, customer_id, key)
    return max(0, reward.limit_per_customer - len(taken))


def _take_place(
    session: Session, reward: Reward, customer_id: uuid.UUID, key: str | None
) -> int | None:
    """The lowest free place of the customer's period, or ``RewardUnavailable`` (``limit``)."""
    if key is None or reward.limit_per_customer is None:
        return None
    taken = _places_taken(session, reward.id, customer_id, key)
    free = [n for n in range(1, reward.limit_per_customer + 1) if n not in taken]
    if not free:
        raise RewardUnavailable(
            f"{reward.name} was taken as often as allowed for now",
            reward_id=reward.id,
            reason="limit",
        )
    return free[0]


def redeem(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    reward_id: uuid.UUID,
    by: str | None,
) -> Redemption:
    """Spend a member's points on a reward and issue its coupon; never overdraws.

    Raises ``InsufficientPoints`` (409, ``insufficient-points``) when the available
    balance is short, ``OutOfStock`` or ``RewardUnavailable`` otherwise; nothing is
    written then.
    """
    now = utcnow()
    customer = customers.get_live_customer(session, customer_id)
    reward = get_reward(session, reward_id)
    rules = rules_at(session, settings, now).rules
    with session.begin_nested():
        ledger.lock_account(session, customer.id, zone=settings.zone, now=now)
        ledger.release_due(session, customer.id, now=now)
        acct = ledger.account(session, customer.id)
        assert acct is not None
        held = tiers.effective_tier(rules, acct, today=now.astimezone(settings.zone).date())
        reason = unavailable_reason(
            reward,
            tier_rank=tiers.rank(rules.tiers, held),
            min_tier_rank=tiers.rank(rules.tiers, reward.min_tier),
            now=now,
        )
        if reason == "out_of_stock":
            raise OutOfStock(f"{reward.name} is out of stock", reward_id=reward.id)
        if reason is not None:
            raise RewardUnavailable(
                f"{reward.name} cannot be redeemed now ({reason})",
                reward_id=reward.id,
                reason=reason,
            )
        key = period_key(reward, local_date(now, settings.zone), rules, settings)
        place = _take_place(session, reward, customer.id, key)
        if reward.stock is not None:
            taken = rowcount(
                session.execute(
                    update(Reward)
                    .where(Reward.id == reward.id, Reward.stock > 0)
                    .values(stock=Reward.stock - 1)
                    .execution_options(synchronize_session=False)
                )
            )
            if taken != 1:
                raise OutOfStock(f"{reward.name} is out of stock", reward_id=reward.id)
        redemption_id = new_id()
        if reward.cost_points:
            ledger.spend(
                session,
                customer_id=customer.id,
                points=reward.cost_points,
                kind=EntryKind.spend,
                reason="redemption",
                occasion=str(redemption_id),
                now=now,
                redemption_id=redemption_id,
                note=reward.name,
                created_by=by,
            )
        coupon = coupons.issue_for_reward(
            session,
            settings=settings,
            reward=reward,
            customer_id=customer.id,
            source=CouponSource.reward,
            now=now,
            created_by=by,
        )
        redemption = Redemption(
            id=redemption_id,
            customer_id=customer.id,
            reward_id=reward.id,
            points=reward.cost_points,
            status=RedemptionStatus.issued,
            coupon_id=coupon.id,
            created_by=by,
            created_at=now,
            period=key if place is not None else None,
            seq=place,
        )
        session.add(redemption)
        try:
            session.flush()
        except IntegrityError:
            # Another till took this place of the period at the same moment (the
            # member's row lock makes that rare; the unique key makes it harmless).
            raise RewardUnavailable(
                f"{reward.name} was taken as often as allowed for now",
                reward_id=reward.id,
                reason="limit",
            ) from None
        session.execute(
            update(Reward)
            .where(Reward.id == reward.id)
            .values(redeemed_count=Reward.redeemed_count + 1)
            .execution_options(synchronize_session=False)
        )
        session.flush()
    emit(
        session,
        events.RewardRedeemed(
            redemption_id=redemption.id,
            customer_id=customer.id,
            reward_id=reward.id,
            reward_name=reward.name,
            points=reward.cost_points,
            coupon_code=codes.display(coupon.code),
            coupon_expires_at=coupon.expires_at,
        ),
    )
    return redemption


def get_redemption(session: Session, redemption_id: uuid.UUID) -> Redemption:
    """The redemption with ``redemption_id`` as stored now."""
    redemption = session.scalars(
        select(Redemption)
        .where(Redemption.id == redemption_id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if redemption is None:
        raise NotFound(f"redemption {redemption_id} not found", redemption_id=redemption_id)
    return redemption


def cancel(
    session: Session, *, settings: Settings, redemption_id: uuid.UUID, by: str | None
) -> Redemption:
    """Cancel an unused redemption: void its coupon and give the points back.

    The points come back with the expiry dates they had (never extended). A
    redemption whose coupon was used cannot be cancelled (``redemption-used``).
    """
    now = utcnow()
    redemption = get_redemption(session, redemption_id)
    if redemption.status == RedemptionStatus.cancelled:
        return redemption
    with session.begin_nested():
        ledger.lock_account(session, redemption.customer_id, zone=settings.zone, now=now)
        if redemption.coupon_id is not None:
            voided = rowcount(
                session.execute(
                    update(Coupon)
                    .where(
                        Coupon.id == redemption.coupon_id,
                        Coupon.uses == 0,
                        Coupon.status == CouponStatus.active,
                    )
                    .values(
                        status=CouponStatus.voided,
                        voided_at=now,
                        void_reason="redemption cancelled",
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            if voided != 1:
                raise RedemptionUsed(
                    "the coupon of this redemption was used; it cannot be cancelled",
                    redemption_id=redemption.id,
                )
        spent = session.execute(
            select(
                PointsAllocation.points,
                PointsLot.available_at,
                PointsLot.expires_at,
                PointsLot.origin_entry_id,
            )
            .join(PointsLot, PointsLot.id == PointsAllocation.lot_id)
            .join(PointsEntry, PointsEntry.id == PointsAllocation.entry_id)
            .where(PointsEntry.redemption_id == redemption.id, PointsEntry.kind == EntryKind.spend)
            .order_by(PointsLot.expires_at, PointsLot.available_at)
        ).all()
        lots = [LotSpec(int(p), min(a, now), e, o) for p, a, e, o in spent]
        if lots:
            ledger.credit(
                session,
                customer_id=redemption.customer_id,
                kind=EntryKind.reverse,
                reason="redemption_cancelled",
                occasion=str(redemption.id),
                lots=lots,
                now=now,
                redemption_id=redemption.id,
                created_by=by,
            )
        session.execute(
            update(Reward)
            .where(Reward.id == redemption.reward_id)
            .values(
                stock=Reward.stock + 1,
                redeemed_count=Reward.redeemed_count - 1,
            )
            .execution_options(synchronize_session=False)
        )
        moved = rowcount(
            session.execute(
                update(Redemption)
                .where(
                    Redemption.id == redemption.id, Redemption.status != RedemptionStatus.cancelled
                )
                .values(
                    status=RedemptionStatus.cancelled,
                    cancelled_at=now,
                    cancelled_by=by,
                    seq=None,  # its place in the limit's period is free again
                )
                .execution_options(synchronize_session=False)
            )
        )
        if moved != 1:  # pragma: no cover - the member's lock orders cancellations
            raise Conflict("this redemption is being cancelled by another request")
    return get_redemption(session, redemption.id)


def read(session: Session, redemption: Redemption) -> RedemptionRead:
    """The redemption with its reward's name and its coupon's code."""
    reward = session.get(Reward, redemption.reward_id)
    coupon = session.get(Coupon, redemption.coupon_id) if redemption.coupon_id else None
    return RedemptionRead(
        id=redemption.id,
        customer_id=redemption.customer_id,
        reward_id=redemption.reward_id,
        reward_name=reward.name if reward else "",
        points=redemption.points,
        status=redemption.status,
        coupon_code=codes.display(coupon.code) if coupon else None,
        coupon_expires_at=coupon.expires_at if coupon else None,
        created_by=redemption.created_by,
        created_at=redemption.created_at,
        cancelled_at=redemption.cancelled_at,
    )


def list_redemptions(
    session: Session, customer_id: uuid.UUID, *, limit: int = 100
) -> list[Redemption]:
    """The member's redemptions, newest first."""
    return list(
        session.scalars(
            select(Redemption)
            .where(Redemption.customer_id == customer_id)
            .order_by(Redemption.created_at.desc(), Redemption.id.desc())
            .limit(limit)
        )
    )
