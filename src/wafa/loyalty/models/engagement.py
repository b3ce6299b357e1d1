"""Purchases as loyalty sees them, stamp cards, tiers, referrals, badges, birthdays, jobs."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow


class Purchase(Base):
    """Loyalty's record of one order: the claim that makes accrual exactly-once.

    Inserted first, under the order id's primary key, by whichever path (the outbox
    handler or the point of sale) accrues the order; a second path finds it and does
    nothing. It also carries what tiers, streaks and badges count: net spend, net
    points from the order, the categories bought, the local day.
    """

    __tablename__ = "loyalty_purchases"

    order_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    placed_on: Mapped[date] = mapped_column(Date)
    spend: Mapped[int] = mapped_column(BigInteger, default=0)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    channel: Mapped[str | None] = mapped_column(String(16))
    imported: Mapped[bool] = mapped_column(Boolean, default=False)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    rule_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (Index("ix_loyalty_purchases_customer_placed", "customer_id", "placed_at"),)


class StampPer(StrEnum):
    visit = "visit"
    item = "item"


class StampCard(Base):
    """ "Buy N, get one": qualifying purchases of some products or categories earn stamps."""

    __tablename__ = "loyalty_stamp_cards"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    stamps_required: Mapped[int] = mapped_column(Integer)
    per: Mapped[str] = mapped_column(String(8), default=StampPer.visit)
    skus: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    reward_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("loyalty_rewards.id", ondelete="RESTRICT")
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("stamps_required >= 1", name="required_positive"),)


class StampProgress(Base):
    """A member's stamps toward the next completion of a card (carried across cards)."""

    __tablename__ = "loyalty_stamp_progress"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    card_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("loyalty_stamp_cards.id", ondelete="CASCADE"), primary_key=True
    )
    stamps: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class StampEntry(Base):
    """Append-only stamp movements; ``(customer, card, occasion)`` is unique."""

    __tablename__ = "loyalty_stamp_entries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    card_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("loyalty_stamp_cards.id", ondelete="CASCADE")
    )
    stamps: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(24))
    occasion: Mapped[str] = mapped_column(String(160))
    order_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    coupon_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("customer_id", "card_id", "occasion"),)


class TierChange(Base):
    """Tier history: every change, why, on what qualifying value, by whom."""

    __tablename__ = "loyalty_tier_changes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    from_tier: Mapped[str | None] = mapped_column(String(32))
    to_tier: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(24))
    qualifying_value: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ReferralStatus(StrEnum):
    pending = "pending"  # the friend has not ordered yet
    qualified = "qualified"  # first order placed; referrer waits for its pending period
    review = "review"  # a fraud check fired: held for a person to decide
    rewarded = "rewarded"
    rejected = "rejected"


class Referral(Base):
    """A friend (``referee``) brought by a member (``referrer``) with their code."""

    __tablename__ = "loyalty_referrals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    referrer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    referee_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), unique=True
    )
    code: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12), default=ReferralStatus.pending, index=True)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_order_id: Mapped[uuid.UUID | None] = mapped_column()
    qualifies_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    referee_rewarded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    referrer_rewarded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    referrer_points: Mapped[int] = mapped_column(BigInteger, default=0)
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    review_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("referrer_id <> referee_id", name="not_self"),)


class Badge(Base):
    """A badge a member earned; one per (member, badge code)."""

    __tablename__ = "loyalty_badges"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    earned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class BirthdayGrant(Base):
    """A birthday reward given for one year of the birthday's own calendar: never twice."""

    __tablename__ = "loyalty_birthday_grants"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    calendar: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    granted_on: Mapped[date] = mapped_column(Date)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    coupon_id: Mapped[uuid.UUID | None] = mapped_column()
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ExpiryWarning(Base):
    """``points.expiring`` announced for points lapsing on ``expires_on``, ``days_ahead``
    before: once, by this key. It records the announcement, not that the member was told
    (``warned_at`` is when it was announced): the flows domain owns the message, and for
    each announcement the member is either in the ``points_expiring`` flow, whose steps
    record what was queued or why not, or has a ``flow_skips`` row with the reason (the
    flow switched off, filtered out, ...)."""

    __tablename__ = "loyalty_expiry_warnings"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    expires_on: Mapped[date] = mapped_column(Date, primary_key=True)
    days_ahead: Mapped[int] = mapped_column(Integer, primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger)
    warned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class JobRun(Base):
    """A daily job's run for one local date: claimed once, resumable from ``cursor``."""

    __tablename__ = "loyalty_job_runs"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_on: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(12), default="running")
    processed: Mapped[int] = mapped_column(BigInteger, default=0)
    cursor: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
