"""The rewards catalogue, redemptions, coupons and coupon uses."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow


class RewardKind(StrEnum):
    discount_fixed = "discount_fixed"
    discount_percent = "discount_percent"
    free_product = "free_product"
    gift = "gift"
    partner_offer = "partner_offer"


class LimitPeriod(StrEnum):
    """How often a customer may take a limited reward: per local day, week, month, year, or ever."""

    day = "day"
    week = "week"
    month = "month"
    year = "year"
    ever = "ever"


class RedemptionStatus(StrEnum):
    issued = "issued"
    used = "used"
    cancelled = "cancelled"


class CouponSource(StrEnum):
    reward = "reward"
    campaign = "campaign"
    stamp_card = "stamp_card"
    birthday = "birthday"
    referral = "referral"
    compensation = "compensation"
    bounce_back = "bounce_back"
    surprise = "surprise"


class CouponStatus(StrEnum):
    active = "active"
    voided = "voided"


class Reward(Base):
    """An item of the catalogue: what it gives, what it costs, who may take it, how many."""

    __tablename__ = "loyalty_rewards"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(24))
    cost_points: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    percent_bp: Mapped[int | None] = mapped_column(Integer)
    product_sku: Mapped[str | None] = mapped_column(String(100))
    partner_name: Mapped[str | None] = mapped_column(String(200))
    min_tier: Mapped[str | None] = mapped_column(String(32))
    # Units left; NULL means unlimited. Decremented by a guarded UPDATE on redemption.
    stock: Mapped[int | None] = mapped_column(Integer)
    redeemed_count: Mapped[int] = mapped_column(Integer, default=0)
    min_order_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    coupon_valid_days: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # False: only the program gives it (a birthday, a referral's welcome, a stamp card);
    # members cannot spend points on it.
    in_catalogue: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # At most this many redemptions per customer per ``limit_period`` (NULL: no limit),
    # enforced by Redemption's unique (reward, customer, period, seq).
    limit_per_customer: Mapped[int | None] = mapped_column(Integer)
    limit_period: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("cost_points >= 0", name="cost_not_negative"),
        CheckConstraint(
            "limit_per_customer IS NULL OR limit_per_customer > 0", name="limit_positive"
        ),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount_not_negative"),
        CheckConstraint(
            "percent_bp IS NULL OR (percent_bp > 0 AND percent_bp <= 10000)", name="percent_range"
        ),
    )


class Coupon(Base):
    """A code that gives a discount or an item once (or ``max_uses`` times).

    ``uses`` moves only by a guarded ``UPDATE … WHERE uses < max_uses``, so a
    single-use code cannot be used twice whatever the concurrency. ``occasion``
    makes issuing idempotent (a stamp card's n-th completion, a birthday year).
    """

    __tablename__ = "loyalty_coupons"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    reward_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("loyalty_rewards.id", ondelete="SET NULL"), index=True
    )
    discount_kind: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    percent_bp: Mapped[int | None] = mapped_column(Integer)
    product_sku: Mapped[str | None] = mapped_column(String(100))
    partner_name: Mapped[str | None] = mapped_column(String(200))
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    per_customer_limit: Mapped[int | None] = mapped_column(Integer)
    min_order_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(12), default=CouponStatus.active)
    occasion: Mapped[str | None] = mapped_column(String(160), unique=True)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    void_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("uses >= 0", name="uses_not_negative"),
        CheckConstraint("max_uses IS NULL OR uses <= max_uses", name="uses_within_max"),
        CheckConstraint("max_uses IS NULL OR max_uses > 0", name="max_uses_positive"),
        CheckConstraint(
            "per_customer_limit IS NULL OR per_customer_limit > 0", name="per_customer_positive"
        ),
    )


class CouponUse(Base):
    """One use of a coupon on one order (``order_ref``): recorded once, whatever the retries.

    ``seq`` numbers a customer's uses of the coupon; ``(coupon, customer, seq)`` is
    unique, which enforces the per-customer limit under concurrency.
    """

    __tablename__ = "loyalty_coupon_uses"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    coupon_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("loyalty_coupons.id", ondelete="CASCADE")
    )
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    order_ref: Mapped[str] = mapped_column(String(200))
    order_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    seq: Mapped[int | None] = mapped_column(Integer)
    accepted: Mapped[bool] = mapped_column(Boolean, default=True)
    reject_reason: Mapped[str | None] = mapped_column(String(40))
    discount_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    used_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        UniqueConstraint("coupon_id", "order_ref"),
        UniqueConstraint("coupon_id", "customer_id", "seq"),
        Index("ix_loyalty_coupon_uses_coupon", "coupon_id"),
    )


class Redemption(Base):
    """Points spent on a reward; the coupon it issued carries the benefit."""

    __tablename__ = "loyalty_redemptions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    reward_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("loyalty_rewards.id", ondelete="RESTRICT"), index=True
    )
    points: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12), default=RedemptionStatus.issued)
    coupon_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("loyalty_coupons.id", ondelete="SET NULL"), index=True
    )
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(200))
    # For a reward with a per-customer limit: the limit's period (``month:2026-12-01``)
    # and this redemption's number in it. Unique per (reward, customer, period), so two
    # tills cannot both take the last one; a cancellation gives its number back (NULL).
    period: Mapped[str | None] = mapped_column(String(24))
    seq: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("points >= 0", name="points_not_negative"),
        UniqueConstraint("reward_id", "customer_id", "period", "seq"),
    )
