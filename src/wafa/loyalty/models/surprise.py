"""Surprise rewards: the owner's rules, each grant (once per occasion), the monthly budgets.

``loyalty_surprise_grants`` has one row per ``(rule, customer, occasion)``: the same
occasion (the 10th order, the first anniversary, a purchase drawn at random, a
segment's quarter) can never be granted twice. ``loyalty_surprise_budgets`` keeps what
a rule has spent in a month of the business calendar; it moves only by a guarded
``UPDATE … WHERE spent_amount + cost <= budget`` in the grant's own savepoint, so no
concurrency can take a month past its budget.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow


class SurpriseTrigger(StrEnum):
    """What makes a rule give: a milestone, chance, or the owner's hand on a segment."""

    nth_order = "nth_order"  # the customer's Nth purchase (any channel)
    anniversary = "anniversary"  # the Nth anniversary of joining, on its local day
    location_visit = "location_visit"  # the Nth purchase at one location
    random = "random"  # 1 in N qualifying purchases
    segment = "segment"  # granted on demand to the members of a segment


class SurpriseStatus(StrEnum):
    active = "active"
    paused = "paused"


class SurpriseRule(Base):
    """A surprise the owner set: when it is given, what it gives, what it may cost a month.

    The reward is ``points`` or a catalogue reward (``reward_id``: a coupon or a free
    product, issued as a single-use coupon). ``unit_cost_amount`` is what one grant
    costs the business (minor units), counted against ``monthly_budget_amount``.
    """

    __tablename__ = "loyalty_surprise_rules"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    trigger: Mapped[str] = mapped_column(String(16))
    # N: the Nth order, the Nth anniversary, the Nth visit, or 1 in N purchases.
    count: Mapped[int | None] = mapped_column(Integer)
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("locations.id", ondelete="SET NULL")
    )
    min_order_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    points: Mapped[int | None] = mapped_column(BigInteger)
    reward_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("loyalty_rewards.id", ondelete="RESTRICT")
    )
    currency: Mapped[str] = mapped_column(String(3))
    unit_cost_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    monthly_budget_amount: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(8), default=SurpriseStatus.active)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("count IS NULL OR count > 0", name="count_positive"),
        CheckConstraint("points IS NULL OR points > 0", name="points_positive"),
        CheckConstraint("(points IS NULL) <> (reward_id IS NULL)", name="points_or_reward"),
        CheckConstraint("unit_cost_amount >= 0", name="cost_not_negative"),
        CheckConstraint(
            "monthly_budget_amount IS NULL OR monthly_budget_amount >= 0",
            name="budget_not_negative",
        ),
        CheckConstraint("min_order_amount >= 0", name="min_order_not_negative"),
    )


class SurpriseBudget(Base):
    """What one rule spent in one month of the business calendar (``month``: ``2026-12``)."""

    __tablename__ = "loyalty_surprise_budgets"

    rule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("loyalty_surprise_rules.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    spent_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    grants: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (CheckConstraint("spent_amount >= 0", name="spent_not_negative"),)


class SurpriseGrant(Base):
    """One surprise given: to whom, by which rule, for which occasion, at what cost.

    ``handed_at`` is when a cashier marked it given at the counter (``None``: the point
    of sale still shows it on the customer's card).
    """

    __tablename__ = "loyalty_surprise_grants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    rule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("loyalty_surprise_rules.id", ondelete="CASCADE")
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    occasion: Mapped[str] = mapped_column(String(120))
    month: Mapped[str] = mapped_column(String(7))
    cost_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    points: Mapped[int | None] = mapped_column(BigInteger)
    coupon_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("loyalty_coupons.id", ondelete="SET NULL")
    )
    order_id: Mapped[uuid.UUID | None] = mapped_column()
    granted_by: Mapped[str | None] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    handed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    handed_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint("rule_id", "customer_id", "occasion"),
        Index("ix_loyalty_surprise_grants_rule_month", "rule_id", "month"),
    )
