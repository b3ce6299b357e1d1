"""Bounce-back offers: rules that hand a coupon for the next visit with a purchase.

``BounceBackGrant`` is the claim that makes an order qualify once: its primary key is
the order's id, so however many times an order is accrued (a retried POST, the point of
sale and the worker both), and however many rules match it, it is judged once and
issues at most one coupon. A held-out purchase has a grant with ``holdout`` set and no
coupon: the report compares those customers with the others.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow


class BounceBackRule(Base):
    """When a purchase earns a coupon for the next visit, what the coupon gives, how long."""

    __tablename__ = "loyalty_bounceback_rules"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Rules are tried in this order (then by creation); the first that matches wins.
    priority: Mapped[int] = mapped_column(Integer, default=100)
    # What qualifies: the order's total (minor units, business currency) at least this,
    # a line in ``category`` / of ``product_sku``, the customer's first sale, a channel,
    # a location. NULL: any.
    min_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    category: Mapped[str | None] = mapped_column(String(100))
    product_sku: Mapped[str | None] = mapped_column(String(100))
    first_purchase_only: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str | None] = mapped_column(String(16))
    location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("locations.id", ondelete="SET NULL")
    )
    # What the coupon gives (as a reward's benefit).
    kind: Mapped[str] = mapped_column(String(24))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    percent_bp: Mapped[int | None] = mapped_column(Integer)
    reward_sku: Mapped[str | None] = mapped_column(String(100))
    coupon_min_order: Mapped[int] = mapped_column(BigInteger, default=0)
    # Valid from the next local day, for this many local days.
    valid_days: Mapped[int] = mapped_column(Integer)
    # Percent of qualifying purchases that get nothing (the comparison group).
    holdout_percent: Mapped[int] = mapped_column(Integer, default=10)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("min_amount >= 0", name="min_amount_not_negative"),
        CheckConstraint("valid_days > 0 AND valid_days <= 366", name="valid_days_range"),
        CheckConstraint("holdout_percent >= 0 AND holdout_percent <= 50", name="holdout_range"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount_not_negative"),
        CheckConstraint(
            "percent_bp IS NULL OR (percent_bp > 0 AND percent_bp <= 10000)", name="percent_range"
        ),
    )


class BounceBackGrant(Base):
    """One qualifying purchase: judged once (the order id is the key), a coupon or the holdout."""

    __tablename__ = "loyalty_bounceback_grants"

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    rule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("loyalty_bounceback_rules.id", ondelete="CASCADE")
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    holdout: Mapped[bool] = mapped_column(Boolean)
    coupon_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("loyalty_coupons.id", ondelete="SET NULL")
    )
    # The coupon's window (the same for the holdout, who would have had it): the first
    # instant of the next local day, and the exclusive end after ``valid_days`` days.
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_loyalty_bounceback_grants_rule", "rule_id", "placed_at"),
        Index("ix_loyalty_bounceback_grants_customer", "customer_id"),
    )
