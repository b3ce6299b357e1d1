"""Campaign tables: the campaign, and its recipients (the segment's snapshot)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow

#: The message reason of every campaign message; the occasion is the campaign's id.
REASON = "campaign"


class CampaignStatus(StrEnum):
    """``draft`` until sent; ``scheduled`` when sent for a later time (the segment is
    taken then); ``queuing`` while recipients are queued; ``sending`` once all are queued
    (``finished`` is reported when no message is left to send)."""

    draft = "draft"
    scheduled = "scheduled"
    queuing = "queuing"
    sending = "sending"
    paused = "paused"
    cancelled = "cancelled"


class Schedule(StrEnum):
    """``now``; ``at`` one instant; ``local``: a date and time in each customer's timezone."""

    now = "now"
    at = "at"
    local = "local"


class Campaign(Base):
    __tablename__ = "messaging_campaigns"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    segment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messaging_segments.id"))
    channel: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(16))
    subject: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    text: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    html: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    holdout_percent: Mapped[int] = mapped_column(Integer, default=10)
    holdout_seed: Mapped[str] = mapped_column(String(32))
    schedule: Mapped[str] = mapped_column(String(8), default=Schedule.now.value)
    send_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    local_date: Mapped[date | None] = mapped_column(Date)
    local_time: Mapped[str | None] = mapped_column(String(5))
    #: ``{"kind": "discount_percent"|"discount_fixed", "percent_bp"|"amount", "valid_days"}``
    coupon: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    report_days: Mapped[int] = mapped_column(Integer, default=14)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.draft.value)
    recipients: Mapped[int | None] = mapped_column(Integer)
    queued_through: Mapped[uuid.UUID | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (Index("ix_messaging_campaigns_status", "status"),)


class CampaignRecipient(Base):
    """A customer of the segment when the campaign was sent. ``holdout`` is drawn when the
    recipient is queued (``None`` before): held-out customers receive nothing."""

    __tablename__ = "messaging_campaign_recipients"

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("messaging_campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    holdout: Mapped[bool | None] = mapped_column(Boolean)

    __table_args__ = (Index("ix_messaging_campaign_recipients_holdout", "campaign_id", "holdout"),)
