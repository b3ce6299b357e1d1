"""The points ledger: accounts (the cached balance), entries, lots and allocations.

Entries are append-only: a correction is a new entry. Every credit opens a lot
with the instant its points become spendable (``available_at``) and the instant
they lapse (``expires_at``); every debit is allocated to lots, oldest to expire
first, in ``points_allocations``. ``loyalty_accounts`` caches the balance that the
entries add up to and is changed in the same transaction as the entries.
"""

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow


class EntryKind(StrEnum):
    earn = "earn"
    spend = "spend"
    expire = "expire"
    adjust = "adjust"
    reverse = "reverse"


class LoyaltyAccount(Base):
    """One row per member: the cached balance plus the member's tier, streak and codes.

    ``available + pending`` always equals the sum of the member's entries; ``pending``
    is what sits in lots not yet released; ``carried`` is what the refund policy
    "take from future earnings" still has to recover; ``debt`` is the part of
    debits that no lot covered (``available`` is negative by that much at most).
    ``lifetime`` is every point ever earned (merges bring the other record's).
    """

    __tablename__ = "loyalty_accounts"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    available: Mapped[int] = mapped_column(BigInteger, default=0)
    pending: Mapped[int] = mapped_column(BigInteger, default=0)
    lifetime: Mapped[int] = mapped_column(BigInteger, default=0)
    carried: Mapped[int] = mapped_column(BigInteger, default=0)
    # Debits no lot covered yet (refund policy "negative balance"); released lots pay it first.
    debt: Mapped[int] = mapped_column(BigInteger, default=0)
    # Kept for existing rows; never read. The row lock itself serialises a member's writes.
    lock_version: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Raised by the database on every change of this row or of the member's loyalty rows
    #: (entries, lots, coupons, stamps, badges, purchases, redemptions): triggers made by
    #: migration ``c7d1e2f3a4b5``, so no writer can forget it. What a page built from
    #: ``status`` may be cached on (``wafa.loyalty.versions``).
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    referral_code: Mapped[str | None] = mapped_column(String(16))
    tier_code: Mapped[str | None] = mapped_column(String(32))
    tier_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    tier_review_on: Mapped[date | None] = mapped_column(Date)
    tier_grace_until: Mapped[date | None] = mapped_column(Date)
    tier_override: Mapped[str | None] = mapped_column(String(32))
    tier_override_until: Mapped[date | None] = mapped_column(Date)
    joined_on: Mapped[date] = mapped_column(Date, index=True)
    last_purchase_on: Mapped[date | None] = mapped_column(Date, index=True)
    visits: Mapped[int] = mapped_column(Integer, default=0)
    streak_current: Mapped[int] = mapped_column(Integer, default=0)
    streak_best: Mapped[int] = mapped_column(Integer, default=0)
    streak_period: Mapped[int | None] = mapped_column(Integer)
    leaderboard_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    # What badges are judged on, kept with the row so a purchase needs no extra query:
    # money paid net of refunds, the categories bought, the badges earned.
    spend: Mapped[int] = mapped_column(BigInteger, default=0)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    badge_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("pending >= 0", name="pending_not_negative"),
        CheckConstraint("carried >= 0", name="carried_not_negative"),
        CheckConstraint("lifetime >= 0", name="lifetime_not_negative"),
        CheckConstraint("debt >= 0", name="debt_not_negative"),
        # Partial indexes: most members have no code, review or override, and a
        # member's row is rewritten on every purchase, so empty entries cost writes.
        Index(
            "uq_loyalty_accounts_referral_code",
            "referral_code",
            unique=True,
            postgresql_where=text("referral_code IS NOT NULL"),
            sqlite_where=text("referral_code IS NOT NULL"),
        ),
        Index(
            "ix_loyalty_accounts_review",
            "tier_review_on",
            postgresql_where=text("tier_review_on IS NOT NULL"),
            sqlite_where=text("tier_review_on IS NOT NULL"),
        ),
        Index(
            "ix_loyalty_accounts_override",
            "tier_override_until",
            postgresql_where=text("tier_override_until IS NOT NULL"),
            sqlite_where=text("tier_override_until IS NOT NULL"),
        ),
        Index(
            "ix_loyalty_accounts_streaks",
            "streak_period",
            postgresql_where=text("streak_current > 0"),
            sqlite_where=text("streak_current > 0"),
        ),
    )


class PointsEntry(Base):
    """One append-only ledger line. ``points`` is signed: credits positive, debits negative.

    ``(customer_id, reason, occasion)`` is unique, so the same occasion (an order's
    base points, a birthday in a given year, a refund) can never be booked twice.
    ``rule`` names the program rule that produced an award. On a reversal that the
    balance could not fully cover, ``carried`` is what "take from future earnings"
    will recover later and ``forgiven`` what the "forfeit" policy wrote off.
    """

    __tablename__ = "points_entries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    points: Mapped[int] = mapped_column(BigInteger)
    carried: Mapped[int] = mapped_column(BigInteger, default=0)
    forgiven: Mapped[int] = mapped_column(BigInteger, default=0)
    reason: Mapped[str] = mapped_column(String(32))
    occasion: Mapped[str] = mapped_column(String(160))
    rule: Mapped[str | None] = mapped_column(String(80))
    rule_version: Mapped[int | None] = mapped_column(Integer)
    order_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    refund_id: Mapped[uuid.UUID | None] = mapped_column()
    redemption_id: Mapped[uuid.UUID | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("customer_id", "reason", "occasion"),
        Index("ix_points_entries_customer_created", "customer_id", "created_at"),
        Index(
            "ix_points_entries_redemption",
            "redemption_id",
            postgresql_where=text("redemption_id IS NOT NULL"),
            sqlite_where=text("redemption_id IS NOT NULL"),
        ),
        CheckConstraint(
            "carried >= 0 OR reason IN ('carried_recovery', 'merge_out', 'erased')",
            name="carried_sign",
        ),
        CheckConstraint("forgiven >= 0", name="forgiven_not_negative"),
        CheckConstraint(
            "(kind = 'earn' AND points > 0) OR (kind IN ('spend', 'expire') AND points < 0)"
            " OR kind IN ('adjust', 'reverse')",
            name="sign_matches_kind",
        ),
    )


class PointsLot(Base):
    """Points from one credit: spendable from ``available_at``, gone at ``expires_at``.

    ``remaining`` is ``points`` minus this lot's allocations (a cache checked by the
    tests); ``released`` says the lot's points moved from pending to available.
    ``origin_entry_id`` is the earn entry the points first came from (a lot moved by
    a merge or returned by a cancelled redemption keeps it), so that a refund takes
    back the order's own points first.
    """

    __tablename__ = "points_lots"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    entry_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("points_entries.id", ondelete="CASCADE"), index=True
    )
    origin_entry_id: Mapped[uuid.UUID] = mapped_column()
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_in_range"),
        # Every lot of a member (statement, checks, merges), open ones first in spend order.
        Index("ix_points_lots_customer", "customer_id", "expires_at"),
        Index(
            "ix_points_lots_unreleased",
            "available_at",
            postgresql_where=text("NOT released"),
            sqlite_where=text("NOT released"),
        ),
        Index(
            "ix_points_lots_expiring",
            "expires_at",
            postgresql_where=text("remaining > 0"),
            sqlite_where=text("remaining > 0"),
        ),
    )


class PointsAllocation(Base):
    """``points`` of debit entry ``entry_id`` taken from lot ``lot_id``."""

    __tablename__ = "points_allocations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    entry_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("points_entries.id", ondelete="CASCADE"), index=True
    )
    lot_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("points_lots.id", ondelete="CASCADE"), index=True
    )
    points: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (CheckConstraint("points > 0", name="points_positive"),)


class CatalogueVersion(Base):
    """One row: raised by the database on every change of the rewards, the stamp cards or
    the program's versions (what every member's offers and status are judged on)."""

    __tablename__ = "loyalty_catalogue_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class ProgramVersion(Base):
    """One saved version of the program's rules; the version in force at an instant applies.

    Versions are never edited: a change is a new version effective from now (or a
    later instant), so nothing already awarded is recomputed.
    """

    __tablename__ = "loyalty_program_versions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    effective_from: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
