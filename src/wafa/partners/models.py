"""The partners' tables: the business, its codes, their uses at the partner, the customers
a partner brought, partner-page sessions and the misses that rate-limit code checks.

A partner's codes are loyalty coupons (``loyalty_coupons``); these tables only say which
partner a coupon belongs to and in which direction it works. Loyalty's tables are never
written here: a use at the partner goes through ``wafa.loyalty.coupons.use``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow


class Direction(StrEnum):
    """``offer``: our customers redeem it at the partner. ``reciprocal``: the partner hands
    it out and its customers redeem it here."""

    offer = "offer"
    reciprocal = "reciprocal"


class Partner(Base):
    """A neighbouring business: who to call, what it gives our customers, its link's state."""

    __tablename__ = "partners"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(320))
    offer: Mapped[str] = mapped_column(Text)
    # What one use of the offer is worth (minor units), for the monthly statement.
    offer_value_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    # The catalogue reward (kind partner_offer) whose coupons are this partner's codes.
    reward_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("loyalty_rewards.id", ondelete="SET NULL"), unique=True
    )
    # Links issued up to this instant no longer open; sessions opened before it end.
    links_revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint("offer_value_amount >= 0", name="offer_value_not_negative"),)


class PartnerCode(Base):
    """A coupon issued for a partner: in one direction, to one partner, ever."""

    __tablename__ = "partner_codes"

    coupon_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("loyalty_coupons.id", ondelete="CASCADE"), primary_key=True
    )
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(12))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_partner_codes_partner", "partner_id", "direction", "issued_at"),)


class PartnerRedemption(Base):
    """A code marked used at the partner's counter. The coupon is the key: once, ever."""

    __tablename__ = "partner_redemptions"

    coupon_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("loyalty_coupons.id", ondelete="CASCADE"), primary_key=True
    )
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    used_at: Mapped[datetime] = mapped_column(UtcDateTime)
    value_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))

    __table_args__ = (Index("ix_partner_redemptions_partner", "partner_id", "used_at"),)


class PartnerReferral(Base):
    """A customer a partner's reciprocal code brought in: one partner per customer, the first."""

    __tablename__ = "partner_referrals"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    coupon_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("loyalty_coupons.id", ondelete="SET NULL")
    )
    order_id: Mapped[uuid.UUID] = mapped_column()
    order_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_partner_referrals_partner", "partner_id", "at"),)


class PartnerSession(Base):
    """A partner's phone that opened its link: the cookie holds a secret, the table its hash."""

    __tablename__ = "partner_sessions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PartnerMiss(Base):
    """A code checked on a partner's page that was not theirs (or not a code at all):
    counted per partner and per address to stop guessing."""

    __tablename__ = "partner_misses"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_partner_misses_key_at", "key", "at"),)
