"""Surprise rules and their grants: once per occasion, never past a month's budget.

Rules, each in one place:

* **Once per occasion.** A grant is a row of ``loyalty_surprise_grants`` under the
  unique ``(rule, customer, occasion)``: ``orders:10`` (the 10th purchase),
  ``anniversary:1``, ``visit:<location>:100``, ``order:<order id>`` (a purchase drawn at
  random), ``segment:<segment>:<quarter>``. A second attempt, a replayed event, two
  workers: nothing is granted twice.
* **The monthly budget.** In the grant's savepoint, after the grant row, one guarded
  ``UPDATE loyalty_surprise_budgets SET spent = spent + cost WHERE spent + cost <=
  budget``: when it touches no row the savepoint is rolled back and nothing is granted.
  PostgreSQL re-checks the condition on the row a concurrent grant just committed;
  SQLite writes one transaction at a time. The month is the business calendar's
  (Gregorian or Jalali) in its timezone.
* **What triggers.** ``on_purchase`` is called by accrual, once per order (after the
  order's claim), for live purchases only: an imported order (history brought in from
  another system) or a cancelled one gives no surprise. Anniversaries come from the
  daily job; segments from the owner's hand (``grant_to_customers``).
* **The reward** goes through the loyalty engine's services: points are a ledger credit
  (``reason='surprise'``, ``rule='surprise:<rule id>'``, the rule's name in ``details``),
  a coupon or free product a single-use coupon of the catalogue reward
  (``source='surprise'``). ``SurpriseGranted`` is written in the same transaction; the
  flows preset ``surprise`` turns it into a message.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import exists, func, select, true, update
from sqlalchemy.orm import Session, aliased

from wafa.core.calendars import add_months, anniversary, from_ymd, local_date, month_start, ymd
from wafa.core.db import insert_new, rowcount
from wafa.core.errors import Invalid, NotFound
from wafa.core.events import emit
from wafa.core.ids import new_id
from wafa.core.money import apply_rate_bp
from wafa.core.settings import CalendarKind, Settings
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.loyalty import codes, coupons, events, ledger
from wafa.loyalty.ledger import LotSpec
from wafa.loyalty.models import (
    Coupon,
    CouponSource,
    EntryKind,
    LoyaltyAccount,
    Reward,
    RewardKind,
    SurpriseBudget,
    SurpriseGrant,
    SurpriseRule,
    SurpriseStatus,
    SurpriseTrigger,
)
from wafa.loyalty.orderfacts import OrderFacts
from wafa.loyalty.program import expiry_for, rules_at
from wafa.loyalty.surprise.schemas import SurpriseRuleCreate, SurpriseRuleUpdate
from wafa.orders.models import Location, Order, Product
from wafa.orders.sales import sold

ON_PURCHASE = (SurpriseTrigger.nth_order, SurpriseTrigger.location_visit, SurpriseTrigger.random)


class SurpriseRuleNotFound(NotFound):
    code = "surprise-rule-not-found"


# --------------------------------------------------------------------------- rules


def get_rule(session: Session, rule_id: uuid.UUID) -> SurpriseRule:
    rule = session.get(SurpriseRule, rule_id)
    if rule is None:
        raise SurpriseRuleNotFound("no such surprise rule", rule_id=str(rule_id))
    return rule


def list_rules(session: Session) -> list[SurpriseRule]:
    """Every rule, active first, then by name."""
    return list(
        session.scalars(select(SurpriseRule).order_by(SurpriseRule.status, SurpriseRule.name))
    )


def _unit_cost(
    session: Session, settings: Settings, *, points: int | None, reward: Reward | None
) -> int | None:
    """What one grant costs by default; ``None`` when only the owner can say."""
    if points is not None:
        return apply_rate_bp(points, rules_at(session, settings).rules.point_value_bp)
    assert reward is not None
    if reward.kind == RewardKind.discount_fixed:
        return reward.amount or 0
    if reward.kind == RewardKind.free_product and reward.product_sku:
        price = session.scalar(
            select(Product.price_amount).where(Product.sku == reward.product_sku)
        )
        return price or None
    return None


def _checked(
    session: Session,
    settings: Settings,
    *,
    trigger: SurpriseTrigger,
    count: int | None,
    location_id: uuid.UUID | None,
    points: int | None,
    reward_id: uuid.UUID | None,
    cost_amount: int | None,
) -> tuple[int | None, int]:
    """Refuse an incoherent rule with the field at fault; the count and the unit cost."""
    if trigger in (SurpriseTrigger.nth_order, SurpriseTrigger.location_visit) and not count:
        raise Invalid.field(("count",), "say which order or visit: a number from 1")
    if trigger is SurpriseTrigger.random and (count is None or count < 2):
        raise Invalid.field(("count",), "give N of '1 in N purchases': a number from 2")
    if trigger is SurpriseTrigger.anniversary:
        count = count or 1
    if trigger in (SurpriseTrigger.segment,):
        count = None
    if trigger is SurpriseTrigger.location_visit:
        if location_id is None:
            raise Invalid.field(("location_id",), "choose the location")
        if session.get(Location, location_id) is None:
            raise Invalid.field(("location_id",), "no such location")
    if (points is None) == (reward_id is None):
        raise Invalid.field(("points",), "give either points or a reward, not both")
    reward = None
    if reward_id is not None:
        reward = session.get(Reward, reward_id)
        if reward is None:
            raise Invalid.field(("reward_id",), "no such reward")
    cost = cost_amount
    if cost is None:
        cost = _unit_cost(session, settings, points=points, reward=reward)
    if cost is None:
        raise Invalid.field(
            ("cost_amount",), "say what one of these rewards costs you (it counts for the budget)"
        )
    return count, cost


def create_rule(
    session: Session, *, settings: Settings, data: SurpriseRuleCreate, by: str | None
) -> SurpriseRule:
    """A new surprise rule (active unless ``data.status`` says paused)."""
    count, cost = _checked(
        session,
        settings,
        trigger=data.trigger,
        count=data.count,
        location_id=data.location_id,
        points=data.points,
        reward_id=data.reward_id,
        cost_amount=data.cost_amount,
    )
    now = utcnow()
    rule = SurpriseRule(
        id=new_id(),
        name=data.name,
        trigger=data.trigger.value,
        count=count,
        location_id=data.location_id if data.trigger is SurpriseTrigger.location_visit else None,
        min_order_amount=data.min_order_amount,
        points=data.points,
        reward_id=data.reward_id,
        currency=settings.currency,
        unit_cost_amount=cost,
        monthly_budget_amount=data.monthly_budget_amount,
        status=data.status.value,
        created_by=by,
        created_at=now,
        updated_at=now,
    )
    session.add(rule)
    session.flush()
    return rule


def update_rule(
    session: Session, *, settings: Settings, rule_id: uuid.UUID, data: SurpriseRuleUpdate
) -> SurpriseRule:
    """Change a rule. Grants already made stay as they were; the budget of the current month
    counts what was spent before the change."""
    rule = get_rule(session, rule_id)
    given = data.model_dump(exclude_unset=True)
    points, reward_id = rule.points, rule.reward_id
    if "points" in given or "reward_id" in given:
        points, reward_id = given.get("points"), given.get("reward_id")
    reward_changed = (points, reward_id) != (rule.points, rule.reward_id)
    cost = given.get("cost_amount")
    if cost is None and not reward_changed:
        cost = rule.unit_cost_amount
    count, cost = _checked(
        session,
        settings,
        trigger=SurpriseTrigger(rule.trigger),
        count=given.get("count", rule.count),
        location_id=given.get("location_id", rule.location_id),
        points=points,
        reward_id=reward_id,
        cost_amount=cost,
    )
    for key in ("name", "location_id", "min_order_amount", "monthly_budget_amount"):
        if key in given and not (key in ("name", "min_order_amount") and given[key] is None):
            setattr(rule, key, given[key])
    if given.get("status") is not None:
        rule.status = given["status"].value
    rule.count, rule.points, rule.reward_id, rule.unit_cost_amount = count, points, reward_id, cost
    rule.updated_at = utcnow()
    session.flush()
    return rule


# --------------------------------------------------------------------------- granting


def month_of(when: datetime | date, settings: Settings) -> str:
    """``YYYY-MM`` of the business calendar for an instant (or a local date)."""
    day = local_date(when, settings.zone) if isinstance(when, datetime) else when
    y, m, _ = ymd(day, settings.calendar)
    return f"{y:04d}-{m:02d}"


class _OverBudget(Exception):
    pass


@dataclass
class GrantRun:
    """What granting to many customers did."""

    occasion: str
    granted: int = 0
    already: int = 0
    over_budget: int = 0
    grants: list[SurpriseGrant] = field(default_factory=list)


def grant(
    session: Session,
    *,
    settings: Settings,
    rule: SurpriseRule,
    customer_id: uuid.UUID,
    occasion: str,
    now: datetime,
    order_id: uuid.UUID | None = None,
    by: str | None = None,
) -> str:
    """Give ``rule``'s reward to a customer for ``occasion``: ``granted``, ``already`` (this
    occasion was granted before) or ``over_budget`` (the month's budget has no room; nothing
    is written)."""
    month = month_of(now, settings)
    grant_id = new_id()
    cost = rule.unit_cost_amount
    try:
        with session.begin_nested():
            if not insert_new(
                session,
                SurpriseGrant,
                index_elements=["rule_id", "customer_id", "occasion"],
                values={
                    "id": grant_id,
                    "rule_id": rule.id,
                    "customer_id": customer_id,
                    "occasion": occasion,
                    "month": month,
                    "cost_amount": cost,
                    "currency": rule.currency,
                    "points": rule.points,
                    "order_id": order_id,
                    "granted_by": by,
                    "granted_at": now,
                },
            ):
                return "already"
            insert_new(
                session,
                SurpriseBudget,
                index_elements=["rule_id", "month"],
                values={"rule_id": rule.id, "month": month, "spent_amount": 0, "grants": 0},
            )
            room = (
                true()
                if rule.monthly_budget_amount is None
                else SurpriseBudget.spent_amount + cost <= rule.monthly_budget_amount
            )
            taken = session.execute(
                update(SurpriseBudget)
                .where(SurpriseBudget.rule_id == rule.id, SurpriseBudget.month == month, room)
                .values(
                    spent_amount=SurpriseBudget.spent_amount + cost,
                    grants=SurpriseBudget.grants + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if rowcount(taken) != 1:
                raise _OverBudget
    except _OverBudget:
        return "over_budget"
    _deliver(session, settings, rule, customer_id, grant_id, occasion, now)
    return "granted"


def _deliver(
    session: Session,
    settings: Settings,
    rule: SurpriseRule,
    customer_id: uuid.UUID,
    grant_id: uuid.UUID,
    occasion: str,
    now: datetime,
) -> None:
    gift = code = None
    expires_at = None
    if rule.points:
        program = rules_at(session, settings, now).rules
        ledger.lock_account(session, customer_id, zone=settings.zone, now=now)
        ledger.credit(
            session,
            customer_id=customer_id,
            kind=EntryKind.earn,
            reason="surprise",
            occasion=f"surprise:{rule.id}:{occasion}",
            lots=[LotSpec(rule.points, now, expiry_for(program, now, settings))],
            now=now,
            rule=f"surprise:{rule.id}",
            details={"surprise_rule": rule.name, "grant_id": str(grant_id)},
        )
    else:
        reward = session.get(Reward, rule.reward_id)
        assert reward is not None  # RESTRICT keeps a rule's reward
        coupon = coupons.issue_for_reward(
            session,
            settings=settings,
            reward=reward,
            customer_id=customer_id,
            source=CouponSource.surprise,
            occasion=f"surprise:{grant_id}",
            now=now,
            created_by=f"surprise:{rule.name}"[:200],
        )
        session.execute(
            update(SurpriseGrant)
            .where(SurpriseGrant.id == grant_id)
            .values(coupon_id=coupon.id)
            .execution_options(synchronize_session=False)
        )
        gift, code, expires_at = reward.name, coupon.code, coupon.expires_at
    emit(
        session,
        events.SurpriseGranted(
            customer_id=customer_id,
            grant_id=grant_id,
            rule_id=rule.id,
            rule=rule.name,
            trigger=rule.trigger,
            points=rule.points,
            gift=gift,
            coupon_code=codes.display(code) if code else None,
            coupon_expires_at=expires_at,
        ),
    )


def _drawn(rule_id: uuid.UUID, order_id: uuid.UUID, n: int) -> bool:
    """1 in ``n``: the same answer for the same order every time (a replay draws nothing new)."""
    digest = hashlib.sha256(f"{rule_id}:{order_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % n == 0


def _active(session: Session, triggers: tuple[SurpriseTrigger, ...]) -> list[SurpriseRule]:
    # In id order: a purchase that meets two budgeted rules locks their rows in one order.
    return list(
        session.scalars(
            select(SurpriseRule)
            .where(
                SurpriseRule.status == SurpriseStatus.active,
                SurpriseRule.trigger.in_([t.value for t in triggers]),
            )
            .order_by(SurpriseRule.id)
        )
    )


def on_purchase(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    order: OrderFacts,
    visits: int,
    now: datetime,
) -> list[str]:
    """The surprises a live purchase triggers (accrual calls this once per order, never for
    an imported or cancelled one); ``visits`` counts the member's purchases with this one.
    Returns the outcome per rule that applied."""
    outcomes: list[str] = []
    rules = _active(session, ON_PURCHASE)
    location: uuid.UUID | None = None
    if any(r.trigger == SurpriseTrigger.location_visit for r in rules):
        location = session.scalar(select(Order.location_id).where(Order.id == order.id))
    for rule in rules:
        if order.total_amount - order.refunded_amount < rule.min_order_amount:
            continue
        occasion = None
        if rule.trigger == SurpriseTrigger.nth_order and visits == rule.count:
            occasion = f"orders:{rule.count}"
        elif rule.trigger == SurpriseTrigger.random and _drawn(rule.id, order.id, rule.count or 1):
            occasion = f"order:{order.id}"
        elif (
            rule.trigger == SurpriseTrigger.location_visit
            and location is not None
            and location == rule.location_id
        ):
            at_location = session.scalar(
                select(func.count())
                .select_from(Order)
                .where(
                    Order.customer_id == customer_id,
                    Order.location_id == location,
                    Order.placed_at <= order.placed_at,
                    sold(),
                )
            )
            if at_location == rule.count:
                occasion = f"visit:{location}:{rule.count}"
        if occasion is None:
            continue
        outcomes.append(
            grant(
                session,
                settings=settings,
                rule=rule,
                customer_id=customer_id,
                occasion=occasion,
                now=now,
                order_id=order.id,
            )
        )
    return outcomes


def anniversary_batch(
    session: Session, *, settings: Settings, day: date, after: uuid.UUID | None, limit: int = 500
) -> tuple[int, uuid.UUID | None]:
    """Grant the anniversary surprises due on local ``day`` (a daily job; one batch in id order).

    A member who joined on 29 February (or 30 Esfand) is celebrated on the month's last day
    in years without it. Returns (members looked at, last id); (0, None) when done.
    """
    now = utcnow()
    kind: CalendarKind = settings.calendar
    y, m, _ = ymd(day, kind)
    looked = 0
    last: uuid.UUID | None = None
    for rule in _active(session, (SurpriseTrigger.anniversary,)):
        years = rule.count or 1
        first = from_ymd(y - years, m, 1, kind)
        stmt = (
            select(LoyaltyAccount.customer_id, LoyaltyAccount.joined_on)
            .join(Customer, Customer.id == LoyaltyAccount.customer_id)
            .where(
                LoyaltyAccount.joined_on >= first,
                LoyaltyAccount.joined_on < add_months(first, 1, kind),
                LoyaltyAccount.closed_at.is_(None),
                Customer.merged_into_id.is_(None),
                Customer.erased_at.is_(None),
            )
            .order_by(LoyaltyAccount.customer_id)
            .limit(limit)
        )
        if after is not None:
            stmt = stmt.where(LoyaltyAccount.customer_id > after)
        rows = session.execute(stmt).all()
        for customer_id, joined in rows:
            if _anniversary_on(joined, years, kind) == day:
                grant(
                    session,
                    settings=settings,
                    rule=rule,
                    customer_id=customer_id,
                    occasion=f"anniversary:{years}",
                    now=now,
                )
        looked += len(rows)
        if rows and (last is None or rows[-1][0] > last):
            last = rows[-1][0]
    return (looked, last) if looked else (0, None)


def _anniversary_on(joined: date, years: int, kind: CalendarKind) -> date:
    y, m, d = ymd(joined, kind)
    return anniversary(m, d, y + years, kind)


def grant_to_customers(
    session: Session,
    *,
    settings: Settings,
    rule_id: uuid.UUID,
    customer_ids: list[uuid.UUID],
    occasion: str,
    by: str | None,
) -> GrantRun:
    """Grant a segment rule to ``customer_ids`` for ``occasion`` (the segment and the quarter:
    a second run in the same quarter gives nobody a second one)."""
    rule = get_rule(session, rule_id)
    if rule.trigger != SurpriseTrigger.segment:
        raise Invalid.field(("rule_id",), "only a rule for a chosen segment is granted by hand")
    if rule.status != SurpriseStatus.active:
        raise Invalid.field(("rule_id",), "this rule is paused")
    now = utcnow()
    run = GrantRun(occasion=occasion)
    for customer_id in sorted(set(customer_ids)):
        outcome = grant(
            session,
            settings=settings,
            rule=rule,
            customer_id=customer_id,
            occasion=occasion,
            now=now,
            by=by,
        )
        setattr(run, outcome, getattr(run, outcome) + 1)
    return run


def quarter_of(now: datetime, settings: Settings) -> str:
    """``2026-Q4`` in the business calendar: a segment's surprise is given once a quarter."""
    y, m, _ = ymd(local_date(now, settings.zone), settings.calendar)
    return f"{y:04d}-Q{(m - 1) // 3 + 1}"


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class PendingSurprise:
    """A surprise the counter should hand over or mention."""

    grant_id: uuid.UUID
    rule: str
    points: int | None
    gift: str | None
    coupon_code: str | None
    granted_at: datetime


def pending_for(
    session: Session, customer_id: uuid.UUID, *, days: int = 60
) -> list[PendingSurprise]:
    """Surprises of the last ``days`` not yet marked given at the counter, newest first."""
    since = utcnow() - timedelta(days=days)
    rows = session.execute(
        select(SurpriseGrant, SurpriseRule.name, Reward.name, Coupon.code)
        .join(SurpriseRule, SurpriseRule.id == SurpriseGrant.rule_id)
        .outerjoin(Coupon, Coupon.id == SurpriseGrant.coupon_id)
        .outerjoin(Reward, Reward.id == Coupon.reward_id)
        .where(
            SurpriseGrant.customer_id == customer_id,
            SurpriseGrant.handed_at.is_(None),
            SurpriseGrant.granted_at >= since,
        )
        .order_by(SurpriseGrant.granted_at.desc())
        .limit(5)
    ).all()
    return [
        PendingSurprise(
            grant_id=g.id,
            rule=rule_name,
            points=g.points,
            gift=gift,
            coupon_code=codes.display(code) if code else None,
            granted_at=g.granted_at,
        )
        for g, rule_name, gift, code in rows
    ]


def mark_handed(
    session: Session, *, customer_id: uuid.UUID, grant_id: uuid.UUID, by: str | None
) -> bool:
    """The cashier gave (or told) the surprise; ``False`` if it was marked before."""
    done = session.execute(
        update(SurpriseGrant)
        .where(
            SurpriseGrant.id == grant_id,
            SurpriseGrant.customer_id == customer_id,
            SurpriseGrant.handed_at.is_(None),
        )
        .values(handed_at=utcnow(), handed_by=by)
        .execution_options(synchronize_session=False)
    )
    if rowcount(done) == 1:
        return True
    if session.get(SurpriseGrant, grant_id) is None:
        raise NotFound("no such surprise", grant_id=str(grant_id))
    return False


def list_grants(
    session: Session, *, rule_id: uuid.UUID | None = None, limit: int = 50
) -> list[SurpriseGrant]:
    """The latest grants (of one rule), newest first."""
    stmt = select(SurpriseGrant).order_by(SurpriseGrant.granted_at.desc(), SurpriseGrant.id)
    if rule_id is not None:
        stmt = stmt.where(SurpriseGrant.rule_id == rule_id)
    return list(session.scalars(stmt.limit(limit)))


@dataclass(frozen=True)
class MonthCost:
    month: str
    grants: int
    cost_amount: int
    currency: str
    by_rule: dict[str, int]


def monthly_costs(session: Session, *, settings: Settings, months: int = 12) -> list[MonthCost]:
    """What surprises cost per month of the business calendar, the latest ``months``, newest
    first (from the grants themselves, at the cost each was counted at)."""
    start = add_months(
        month_start(local_date(utcnow(), settings.zone), settings.calendar),
        1 - months,
        settings.calendar,
    )
    oldest = month_of(start, settings)
    rows = session.execute(
        select(
            SurpriseGrant.month,
            SurpriseGrant.rule_id,
            func.count(),
            func.coalesce(func.sum(SurpriseGrant.cost_amount), 0),
        )
        .where(SurpriseGrant.month >= oldest)
        .group_by(SurpriseGrant.month, SurpriseGrant.rule_id)
    ).all()
    table: dict[str, MonthCost] = {}
    for month, rule_id, n, cost in rows:
        found = table.get(month) or MonthCost(month, 0, 0, settings.currency, {})
        by_rule = {**found.by_rule, str(rule_id): int(cost)}
        table[month] = MonthCost(
            month, found.grants + int(n), found.cost_amount + int(cost), settings.currency, by_rule
        )
    return [table[k] for k in sorted(table, reverse=True)]


def spent_this_month(session: Session, *, settings: Settings) -> dict[uuid.UUID, int]:
    """What each rule has spent of its budget in the current month."""
    month = month_of(utcnow(), settings)
    return {
        rule_id: int(spent)
        for rule_id, spent in session.execute(
            select(SurpriseBudget.rule_id, SurpriseBudget.spent_amount).where(
                SurpriseBudget.month == month
            )
        )
    }


def personal_data(session: Session, customer_id: uuid.UUID) -> list[dict[str, object]]:
    """The surprises a person was given (for their data export)."""
    rows = session.execute(
        select(SurpriseGrant, SurpriseRule.name)
        .join(SurpriseRule, SurpriseRule.id == SurpriseGrant.rule_id)
        .where(SurpriseGrant.customer_id == customer_id)
        .order_by(SurpriseGrant.granted_at)
    ).all()
    return [
        {
            "rule": name,
            "occasion": g.occasion,
            "points": g.points,
            "coupon_id": str(g.coupon_id) if g.coupon_id else None,
            "granted_at": g.granted_at.isoformat(),
            "handed_at": g.handed_at.isoformat() if g.handed_at else None,
        }
        for g, name in rows
    ]


def move_to(session: Session, *, loser_id: uuid.UUID, winner_id: uuid.UUID) -> None:
    """A merge: the duplicate's surprises become the kept record's (so the counter shows what
    is still to hand over), except an occasion both records were given, which stays on the
    duplicate as history (the kept record already has that occasion)."""
    mine = aliased(SurpriseGrant)
    session.execute(
        update(SurpriseGrant)
        .where(
            SurpriseGrant.customer_id == loser_id,
            ~exists().where(
                mine.customer_id == winner_id,
                mine.rule_id == SurpriseGrant.rule_id,
                mine.occasion == SurpriseGrant.occasion,
            ),
        )
        .values(customer_id=winner_id)
        .execution_options(synchronize_session=False)
    )
