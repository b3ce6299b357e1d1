"""Customer tables: the profile, consent history, external ids and the merge audit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow


class Gender(StrEnum):
    female = "female"
    male = "male"
    other = "other"


class MaritalStatus(StrEnum):
    single = "single"
    married = "married"
    other = "other"


class ConsentChannel(StrEnum):
    email = "email"
    sms = "sms"


@dataclass(frozen=True)
class BirthdayValue:
    day: int
    month: int
    year: int | None
    calendar: str


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str | None] = mapped_column(String(200))
    # Lower-cased, Arabic/Persian letters folded, for search (see identity.search_key).
    search_name: Mapped[str | None] = mapped_column(String(200), index=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    birth_day: Mapped[int | None] = mapped_column(Integer)
    birth_month: Mapped[int | None] = mapped_column(Integer)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    birth_calendar: Mapped[str | None] = mapped_column(String(16))
    birthday_set_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    city: Mapped[str | None] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(Text)
    gender: Mapped[str | None] = mapped_column(String(16))
    marital_status: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(8))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(64), default="manual")
    email_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    external_ids: Mapped[list[CustomerExternalId]] = relationship(
        back_populates="customer", lazy="raise", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint(
            "birth_month IS NULL OR (birth_month BETWEEN 1 AND 12)", name="birth_month"
        ),
        CheckConstraint("birth_day IS NULL OR (birth_day BETWEEN 1 AND 31)", name="birth_day"),
        CheckConstraint(
            "(birth_day IS NULL) = (birth_month IS NULL)", name="birth_day_and_month_together"
        ),
    )

    @property
    def birthday(self) -> BirthdayValue | None:
        """The birthday as day, month, optional year and the calendar it is written in."""
        if self.birth_day is None or self.birth_month is None:
            return None
        return BirthdayValue(
            self.birth_day, self.birth_month, self.birth_year, self.birth_calendar or "gregorian"
        )

    @property
    def is_active(self) -> bool:
        """Neither merged into another record nor erased."""
        return self.merged_into_id is None and self.erased_at is None


class CustomerExternalId(Base):
    """The customer's id in another system (a Shopify customer id, a POS card number)."""

    __tablename__ = "customer_external_ids"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="external_ids", lazy="raise")

    __table_args__ = (UniqueConstraint("source", "external_id"),)


class ConsentRecord(Base):
    """Append-only history of consent per channel: who said yes or no, when, where."""

    __tablename__ = "consent_records"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CustomerMerge(Base):
    """Audit of an explicit merge: what moved from ``loser`` into ``winner``, by whom."""

    __tablename__ = "customer_merges"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    winner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    loser_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    merged_by: Mapped[str] = mapped_column(String(200))
    merged_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_customer_merges_pair", "winner_id", "loser_id"),)


class DuplicateReason(StrEnum):
    contact_clash = "contact_clash"  # one order's email and phone named two customers
    same_email = "same_email"  # one mailbox written two ways (dots, +tags, case)
    same_name_phone = "same_name_phone"  # same name and the same phone number's last digits


class DuplicateStatus(StrEnum):
    open = "open"
    merged = "merged"
    dismissed = "dismissed"  # "not the same person": never proposed again


class PossibleDuplicate(Base):
    """Two customers who may be one person, waiting for the owner's decision.

    The pair is stored once, smaller id first (``customer_a_id < customer_b_id``).
    """

    __tablename__ = "possible_duplicates"
    __table_args__ = (
        UniqueConstraint("customer_a_id", "customer_b_id", name="uq_possible_duplicates_pair"),
        CheckConstraint("customer_a_id < customer_b_id", name="pair_order"),
        Index("ix_possible_duplicates_status", "status", "found_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    customer_a_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    customer_b_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=DuplicateStatus.open.value)
    found_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
