"""Orders in, points out: accrual exactly once per order, refunds and cancellations taken back.

``accrue_order`` is the one function that turns an order into points, stamps,
coupon uses, referral progress, streaks, badges and tier upgrades. The outbox
handler (``order.placed``) and the point of sale (synchronously, so the cashier sees
the points at once) both call it; whichever comes first claims the order by
inserting its ``loyalty_purchases`` row under the order id's primary key, and the
other finds the claim and does nothing. The earn entries' unique
``(customer, reason, occasion)`` key is a second lock on the same door.

``reconcile_order`` brings what an order has earned in line with what is left of
it: the same rules (the version the order was judged by) computed on the lines not
refunded, and the difference taken back. It is therefore idempotent and order-
independent: two refund events handled in any order, or twice, take back exactly
what the refunds remove.

Imported history (``order.placed`` with ``imported: true``) earns points and stamps
only if the program says so (off by default: a shop switching to Wafa does not hand
out points for years of past sales); it always counts for tiers, streaks and badges.

About 550 lines: accrual and its reversal (refunds, cancellations) must read the same
rules, so they live together.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from wafa.core.calendars import local_date
from wafa.core.db import insert_new
from wafa.core.events import BATCH_MEMO, emit
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.loyalty import coupons, events, ledger, program, referrals, stamps, streaks, tiers
from wafa.loyalty.bounceback import service as bounceback
from wafa.loyalty.models import EntryKind, LoyaltyAccount, PointsEntry, Purchase
from wafa.loyalty.orderfacts import OrderFacts, order_facts
from wafa.loyalty.program import expiry_for, rules_at, rules_version
from wafa.loyalty.rules import FIRST_ORDER, LineView, OrderView, order_points
from wafa.loyalty.schemas.program import ProgramRules, TierBasis
from wafa.loyalty.surprise import service as surprise
from wafa.orders.models import OrderStatus


@dataclass
class Accrual:
    """What accruing one order did."""

    order_id: uuid.UUID
    customer_id: uuid.UUID
    points: dict[str, int] = field(default_factory=dict)
    stamps: int = 0
    coupons_issued: list[str] = field(default_factory=list)
    tier: str | None = None
    surprises: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """All points the order earned."""
        return sum(self.points.values())


def order_view(order: OrderFacts, settings: Settings) -> OrderView:
    """The order as the rules see it."""
    return OrderView(
        id=order.id,
        channel=order.channel,
        placed_on=local_date(order.placed_at, settings.zone),
        subtotal=order.subtotal_amount,
        discount=order.discount_amount,
        shipping=order.shipping_amount,
        tax=order.tax_amount,
        total=order.total_amount,
        lines=tuple(
            LineView(
                line_no=ln.line_no,
                sku=ln.sku,
                category=ln.category,
                quantity=ln.quantity,
                unit_price=ln.unit_price_amount,
                total=ln.total_amount,
            )
            for ln in order.lines
        ),
    )


def remaining_quantities(order: OrderFacts) -> dict[int, int]:
    """What is left of each line after refunds."""
    return {ln.line_no: ln.quantity - ln.refunded_quantity for ln in order.lines}


def amount_scale(order: OrderFacts) -> tuple[int, int]:
    """The share of the order not refunded by amount-only refunds (refunds without lines)."""
    unexplained = sum(max(0, r.amount - r.lines_amount) for r in order.refunds)
    if not unexplained or not order.total_amount:
        return (1, 1)
    return (max(0, order.total_amount - unexplained), order.total_amount)


def is_void(order: OrderFacts) -> bool:
    """Cancelled or fully refunded: the purchase no longer counts."""
    return order.void


_CUSTOMERS = cast(Table, Customer.__table__)
_LIVE = select(_CUSTOMERS.c.merged_into_id, _CUSTOMERS.c.erased_at).where(
    _CUSTOMERS.c.id == bindparam("b_id")
)


def live_customer_id(session: Session, customer_id: uuid.UUID | None) -> uuid.UUID | None:
    """The surviving record for ``customer_id`` (following merges); ``None`` if erased or absent."""
    seen: set[uuid.UUID] = set()
    while customer_id is not None and customer_id not in seen:
        seen.add(customer_id)
        row = session.execute(_LIVE, {"b_id": customer_id}).first()
        if row is None:
            return None
        if row[0] is None:
            return customer_id if row[1] is None else None
        customer_id = row[0]
    return None


def _claim(
    session: Session,
    order: OrderFacts,
    customer_id: uuid.UUID,
    settings: Settings,
    *,
    imported: bool,
    version: int,
    points: int,
    now: datetime,
) -> bool:
    void = is_void(order)
    return insert_new(
        session,
        Purchase,
        index_elements=["order_id"],
        values={
            "order_id": order.id,
            "customer_id": customer_id,
            "placed_at": order.placed_at,
            "placed_on": local_date(order.placed_at, settings.zone),
            "spend": 0 if void else order.total_amount - order.refunded_amount,
            "points": points,
            "categories": sorted({ln.category for ln in order.lines if ln.category}),
            "channel": order.channel,
            "imported": imported,
            "cancelled": void,
            "rule_version": version,
            "created_at": now,
        },
    )


def _context(
    session: Session, settings: Settings, now: datetime
) -> tuple[program.Versions, list[Any]]:
    """The program's versions and the active stamp cards.

    Read per call; but when the worker handles a batch of events in one transaction
    it leaves a dict under ``session.info[BATCH_MEMO]``, and then they are read
    once for the whole batch (nothing can change them inside that transaction).
    """
    memo = session.info.get(BATCH_MEMO)
    if memo is not None and "loyalty" in memo:
        found: tuple[program.Versions, list[Any]] = memo["loyalty"]
        return found
    context = (program.versions(session, settings), stamps.active_cards(session, now))
    if memo is not None:
        memo["loyalty"] = context
    return context


def current_rules(session: Session, settings: Settings) -> ProgramRules:
    """The rules in force now (memoized for a batch, like ``_context``)."""
    now = utcnow()
    return _context(session, settings, now)[0].at(session, now).rules


def _may_move_up(rules: ProgramRules, acct: Any, spend: int, lifetime: int) -> bool:
    """Whether a purchase can lift the member to a higher tier at all.

    The qualifying value (spend or purchase points within the window) is never
    more than everything the member ever spent or earned, so when even that is
    below the next tier's threshold the window need not be read.
    """
    levels = rules.tiers.levels
    held = tiers.rank(rules.tiers, acct.tier_code)
    if held >= len(levels):
        return False  # at the top already
    bound = spend if rules.tiers.basis is TierBasis.spend else lifetime
    return bound >= levels[held].threshold


def accrue_order(
    session: Session, *, settings: Settings, order_id: uuid.UUID, imported: bool = False
) -> Accrual | None:
    """Award what an order earns, exactly once; ``None`` when there is nothing (more) to do.

    Guest orders wait: if a customer is attached later, accruing again awards them.
    The member's row is locked and read in one statement, the order is claimed, its
    entries and lots are written in one statement each, and every count the account
    keeps (balance, visits, streak, spend, categories) moves in one final ``UPDATE``.
    """
    now = utcnow()
    order = order_facts(session, order_id)
    if order.customer_id is None or order.customer_erased:
        return None
    customer_id: uuid.UUID | None = order.customer_id
    if order.customer_merged_into is not None:
        customer_id = live_customer_id(session, order.customer_merged_into)
        if customer_id is None:
            return None
    assert customer_id is not None
    history, cards = _context(session, settings, now)
    judged = history.at(session, order.placed_at)
    rules = judged.rules
    current = history.at(session, now).rules
    joined = (
        local_date(order.customer_created_at, settings.zone)
        if order.customer_created_at is not None and order.customer_merged_into is None
        else None
    )
    acct = ledger.lock_and_read(session, customer_id, zone=settings.zone, now=now, joined_on=joined)
    view = order_view(order, settings)
    void = is_void(order)
    today = local_date(now, settings.zone)
    result = Accrual(order_id=order.id, customer_id=customer_id)
    earns = rules.enabled and not void and (not imported or rules.imported_history.award_points)
    if earns:
        tier_code = tiers.effective_tier(rules, acct, today=today)  # type: ignore[arg-type]
        result.points = order_points(
            rules, view, tier=rules.tier(tier_code), first_order=acct.visits == 0
        )
    if not _claim(
        session,
        order,
        customer_id,
        settings,
        imported=imported,
        version=judged.version,
        points=result.total,
        now=now,
    ):
        return None
    delta = ledger.Delta()
    available_at = order.placed_at + timedelta(days=rules.pending_days)
    if result.points:
        expires_at = expiry_for(rules, order.placed_at, settings)
        ledger.credit_awards(
            session,
            customer_id=customer_id,
            awards=[
                ledger.Award(rule, points, available_at, expires_at)
                for rule, points in result.points.items()
            ],
            reason="order",
            occasion=f"order:{order.id}",
            now=now,
            delta=delta,
            rule_version=judged.version,
            order_id=order.id,
            details={"number": order.number or order.external_id},
            # Imported history reads as it happened: its lines dated at their orders.
            booked_at=min(order.placed_at, now) if imported else None,
        )
    visits, spend, last_on = acct.visits, acct.spend, acct.last_purchase_on
    categories = list(acct.categories or [])
    streak: tuple[int, int, int | None] = (
        acct.streak_current,
        acct.streak_best,
        acct.streak_period,
    )
    rebuild_streak = False
    if not void:
        visits += 1
        spend += order.total_amount - order.refunded_amount
        if last_on is None or last_on < view.placed_on:
            last_on = view.placed_on
        categories = sorted({*categories, *(ln.category for ln in view.lines if ln.category)})
        if current.streaks.enabled:
            step = streaks.advance(
                current,
                settings,
                current=acct.streak_current,
                best=acct.streak_best,
                last=acct.streak_period,
                placed_on=view.placed_on,
            )
            if step is None:
                rebuild_streak = True
            else:
                streak = step
    ledger.finish_purchase(
        session,
        customer_id,
        delta,
        visits=visits,
        spend=spend,
        last_purchase_on=last_on,
        categories=categories,
        streak=streak,
    )
    if delta.available and (acct.debt or acct.carried):
        ledger.settle_debts(session, customer_id, now=now)
    stamped = rules.enabled and (not imported or rules.imported_history.count_stamps)
    if not void and stamped and cards:
        result.stamps, issued = stamps.add_for_order(
            session,
            settings=settings,
            customer_id=customer_id,
            order=view,
            now=now,
            cards=cards,
        )
        result.coupons_issued += issued
    for code in order.coupon_codes or []:
        coupons.record_order_use(
            session,
            settings=settings,
            code=code,
            customer_id=customer_id,
            order_id=order.id,
            subtotal=order.subtotal_amount,
            now=now,
        )
    # The next visit's coupon (bounce-back offers): judged once per order, under its own key.
    bounceback.issue_for_order(
        session, settings=settings, order=order, customer_id=customer_id, imported=imported, now=now
    )
    if not void and not imported and current.referral.enabled and acct.visits == 0:
        referral_code = (order.attributes or {}).get("referral_code")
        if isinstance(referral_code, str) and referral_code.strip():
            referrals.apply_code_quietly(
                session,
                settings=settings,
                referee_id=customer_id,
                code=referral_code,
                now=now,
                with_order=order.id,
            )
        referrals.on_purchase(
            session, settings=settings, rules=rules, referee_id=customer_id, order=order, now=now
        )
    if not void:
        if rebuild_streak:
            streaks.recompute(
                session, settings=settings, rules=current, customer_id=customer_id, now=now
            )
        have = list(acct.badge_codes or [])
        due = streaks.due_badges(
            current,
            have=have,
            visits=visits,
            best_streak=streak[1],
            member_days=(today - acct.joined_on).days,
            categories=len(categories),
            spend=spend,
        )
        if due:
            streaks.award_badges(session, customer_id=customer_id, badges=due, have=have, now=now)
        if current.tiers.enabled and _may_move_up(
            current, acct, spend, acct.lifetime + delta.lifetime
        ):
            result.tier = tiers.upgrade_if_qualified(
                session,
                settings=settings,
                rules=current,
                customer_id=customer_id,
                now=now,
                acct=acct,
            )
    if not void and not imported:
        # Surprises are for live purchases only: imported history surprises nobody.
        result.surprises = surprise.on_purchase(
            session, settings=settings, customer_id=customer_id, order=order, visits=visits, now=now
        )
    if result.total:
        emit(
            session,
            events.PointsEarned(
                customer_id=customer_id,
                points=result.total,
                reason="order",
                order_id=order.id,
                order_number=order.number or order.external_id,
                rules=result.points,
                available_at=available_at,
            ),
        )
    if order.refunds or void:
        reconcile_order(
            session, settings=settings, order_id=order.id, occasion=f"at-accrual:{order.id}"
        )
    return result


def reconcile_order(
    session: Session,
    *,
    settings: Settings,
    order_id: uuid.UUID,
    occasion: str,
    refund_id: uuid.UUID | None = None,
) -> int:
    """Take back what an order earned beyond what is left of it; returns the points taken.

    Per rule: earned − already taken back − what the remaining lines earn now (under
    the version and tier the order was judged by). Stamps and the purchase's counts
    follow; a cancelled or fully refunded purchase stops counting as a visit.
    """
    now = utcnow()
    purchase = session.get(Purchase, order_id, populate_existing=True)
    if purchase is None:
        return 0  # never accrued: accrual will reconcile when it runs
    order = order_facts(session, order_id)
    customer_id = purchase.customer_id
    ledger.lock_account(session, customer_id, zone=settings.zone, now=now)
    ledger.release_due(session, customer_id, now=now)
    session.refresh(purchase)
    void = is_void(order)
    if void:  # no purchase left: its next-visit coupon goes too, unless already used
        bounceback.void_for_order(session, order_id=order_id)
    earned: dict[str, int] = {}
    taken: dict[str, int] = {}
    earn_ids: dict[str, list[uuid.UUID]] = {}
    version: int | None = None
    for (
        entry_id,
        kind,
        rule,
        points,
        carried,
        forgiven,
        rule_version,
        _,
    ) in ledger.entries_for_order(session, order_id):
        key = rule or ""
        if kind == EntryKind.earn:
            earned[key] = earned.get(key, 0) + points
            earn_ids.setdefault(key, []).append(entry_id)
            version = rule_version
        elif kind == EntryKind.reverse:
            taken[key] = taken.get(key, 0) - points + carried + forgiven
    rules_then = rules_version(session, settings, version)
    policy = rules_at(session, settings, now).rules.refund_policy
    if void:
        target: dict[str, int] = {}
    else:
        tier_code = next((r.split(":", 1)[1] for r in earned if r.startswith("tier:")), None)
        target = order_points(
            rules_then,
            order_view(order, settings),
            quantities=remaining_quantities(order),
            tier=rules_then.tier(tier_code),
            first_order=FIRST_ORDER in earned,
            scale=amount_scale(order),
        )
    total_taken = 0
    reason = "cancel" if order.status == OrderStatus.cancelled else "refund"
    for rule, points in earned.items():
        delta = points - taken.get(rule, 0) - target.get(rule, 0)
        if delta <= 0:
            continue
        booked = ledger.take_back(
            session,
            customer_id=customer_id,
            points=delta,
            kind=EntryKind.reverse,
            reason=reason,
            occasion=f"{occasion}:{rule}",
            policy=policy,
            now=now,
            own_origins=ledger.lot_origins(session, earn_ids[rule]),
            rule=rule,
            rule_version=version,
            order_id=order_id,
            refund_id=refund_id,
            details={"number": order.number or order.external_id},
        )
        if booked.entry_id is not None:
            total_taken += delta
    net_points = sum(earned.values()) - sum(taken.values()) - total_taken
    was_void = purchase.cancelled
    new_spend = 0 if void else order.total_amount - order.refunded_amount
    if new_spend != purchase.spend:
        session.execute(
            update(LoyaltyAccount)
            .where(LoyaltyAccount.customer_id == customer_id)
            .values(spend=LoyaltyAccount.spend + (new_spend - purchase.spend))
            .execution_options(synchronize_session=False)
        )
    session.execute(
        update(Purchase)
        .where(Purchase.order_id == order_id)
        .values(
            points=max(0, net_points),
            spend=new_spend,
            cancelled=void,
        )
        .execution_options(synchronize_session=False)
    )
    stamps.reconcile_order(
        session,
        settings=settings,
        customer_id=customer_id,
        order=order_view(order, settings),
        quantities={} if void else remaining_quantities(order),
        void=void,
        occasion=occasion,
        now=now,
    )
    if void and not was_void:
        session.execute(
            update(LoyaltyAccount)
            .where(LoyaltyAccount.customer_id == customer_id, LoyaltyAccount.visits > 0)
            .values(visits=LoyaltyAccount.visits - 1)
            .execution_options(synchronize_session=False)
        )
        coupons.release_order_uses(session, order_id=order_id, now=now)
        kept = sorted(
            {
                c
                for row in session.scalars(
                    select(Purchase.categories).where(
                        Purchase.customer_id == customer_id, Purchase.cancelled.is_(False)
                    )
                )
                for c in (row or [])
            }
        )
        session.execute(
            update(LoyaltyAccount)
            .where(LoyaltyAccount.customer_id == customer_id)
            .values(categories=kept)
            .execution_options(synchronize_session=False)
        )
        current = rules_at(session, settings, now).rules
        streaks.recompute(
            session, settings=settings, rules=current, customer_id=customer_id, now=now
        )
        referrals.on_void_purchase(session, referee_id=customer_id, order_id=order_id)
    return total_taken


def earned_by_order(session: Session, order_id: uuid.UUID) -> int:
    """Net points an order has earned so far (for display and tests)."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
                PointsEntry.order_id == order_id
            )
        )
        or 0
    )
