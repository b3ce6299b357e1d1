"""The gatherings' tables: a members-only event and each invited customer's answer.

Invariants, kept by guarded ``UPDATE`` statements in ``service`` (never by reading first):

- ``gatherings.accepted`` is the number of RSVPs with status ``yes`` and never exceeds
  ``capacity`` (a CHECK constraint backs the guard);
- a customer has at most one RSVP per gathering (unique key), so an invitation is sent
  once however often the inviting job runs;
- the waiting list is ordered by ``waiting_seq``, drawn from the gathering's own counter
  (``waitlist_seq``) in the transaction that put the customer on it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow


class GatheringStatus(StrEnum):
    """``draft``: being prepared, nobody invited. ``inviting``: the worker is inviting the
    segment. ``open``: everyone in the segment was invited; answers are taken.
    ``cancelled``: called off (those who said yes or wait are told)."""

    draft = "draft"
    inviting = "inviting"
    open = "open"
    cancelled = "cancelled"


class RsvpStatus(StrEnum):
    """``invited``: no answer yet. ``yes``: has a seat. ``waiting``: said yes when it was
    full, on the waiting list. ``no``: will not come."""

    invited = "invited"
    yes = "yes"
    waiting = "waiting"
    no = "no"


class Gathering(Base):
    """A members-only event: when and where, for whom, how many seats, points for coming."""

    __tablename__ = "gatherings"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name_en: Mapped[str] = mapped_column(String(200))
    name_ar: Mapped[str | None] = mapped_column(String(200))
    name_fa: Mapped[str | None] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    place: Mapped[str] = mapped_column(String(300))
    capacity: Mapped[int] = mapped_column(Integer)
    # Who is invited: a messaging segment (e.g. the Gold tier); none: nobody yet.
    segment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messaging_segments.id", ondelete="SET NULL")
    )
    points: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=GatheringStatus.draft.value)
    # Seats taken (RSVPs ``yes``), moved only by guarded updates.
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    # The last waiting-list number handed out.
    waitlist_seq: Mapped[int] = mapped_column(Integer, default=0)
    invite_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    invited_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("accepted >= 0 AND accepted <= capacity", name="accepted_within_capacity"),
        CheckConstraint("points >= 0", name="points_not_negative"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_gatherings_starts_at", "starts_at"),
    )

    def name_in(self, language: str) -> str:
        """The name in ``language`` (en, ar, fa), else the English one."""
        found: str | None = getattr(self, f"name_{language}", None)
        return found or self.name_en

    @property
    def seats_left(self) -> int:
        return max(0, self.capacity - self.accepted)


class Rsvp(Base):
    """One invited customer's answer to one gathering, and whether they came."""

    __tablename__ = "gathering_rsvps"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    gathering_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gatherings.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12), default=RsvpStatus.invited.value)
    # The place on the waiting list (lower first); kept after promotion, for the record.
    waiting_seq: Mapped[int | None] = mapped_column(Integer)
    invited_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Moved from the waiting list to a seat (and told so).
    promoted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    checked_in_by: Mapped[str | None] = mapped_column(String(200))
    points_awarded: Mapped[int] = mapped_column(Integer, default=0)
    # Where the last answer came from: link, portal, staff, api.
    source: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        UniqueConstraint("gathering_id", "customer_id"),
        Index("ix_gathering_rsvps_waiting", "gathering_id", "status", "waiting_seq"),
        Index("ix_gathering_rsvps_customer", "customer_id"),
    )
