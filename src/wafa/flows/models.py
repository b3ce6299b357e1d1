"""Flow tables: the flows, each customer's progress through one (an enrolment), and
what each step did for them (one row per enrolment and step, the unique key that keeps
a step from running twice)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
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


class Flow(Base):
    """A flow: its key, switch, kind, holdout share and definition (``spec.Definition``)."""

    __tablename__ = "flows"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``transactional`` (order news: no consent needed, never held out) or ``marketing``.
    kind: Mapped[str] = mapped_column(String(16), default="marketing")
    #: Percent of entrants kept as a holdout: tracked, never messaged (lift).
    holdout_percent: Mapped[int] = mapped_column(Integer, default=0)
    #: Days after entering within which an order counts as converted.
    conversion_days: Mapped[int] = mapped_column(Integer, default=14)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    preset: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(200))


class EnrolmentStatus(StrEnum):
    active = "active"  # waiting for its due time, or due
    done = "done"  # went through every step
    exited = "exited"  # left early: the exit condition, a filter, the flow switched off


class Enrolment(Base):
    """One customer's way through one flow, entered for one ``occasion`` (an event's id,
    a birthday's year, a day). ``step`` is the key of the next step to run, due at
    ``due_at``; the worker runs it and moves on in one transaction."""

    __tablename__ = "flow_enrolments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    flow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    occasion: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=EnrolmentStatus.active)
    step: Mapped[str | None] = mapped_column(String(40))
    #: Where ``step`` stood when it was reached: if an edit removes that step, the
    #: customer goes on with the step now at this place.
    position: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    #: What the trigger knew (``order_id``, ``points``, ...) and what steps added (``coupon``).
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    exit_reason: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        UniqueConstraint("flow_id", "customer_id", "occasion"),
        Index("ix_flow_enrolments_due", "status", "due_at"),
        Index("ix_flow_enrolments_flow_entered", "flow_id", "entered_at"),
    )


class StepOutcome(StrEnum):
    sent = "sent"  # a message was queued (the pipeline decides the rest)
    held_out = "held_out"  # the customer is in the holdout: nothing sent or given
    filtered = "filtered"  # the flow's filters no longer select the customer: they left
    unreachable = "unreachable"  # queued on the channel anyway: the pipeline records why
    waited = "waited"
    branched = "branched"
    issued = "issued"  # a coupon or points were given
    late = "late"  # not sent: the trigger's ``not_after`` had passed (an event had started)


class StepRun(Base):
    """What step ``step`` did for an enrolment: once, by the unique key."""

    __tablename__ = "flow_step_runs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    enrolment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("flow_enrolments.id", ondelete="CASCADE")
    )
    flow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(200))
    message_id: Mapped[uuid.UUID | None] = mapped_column()
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("enrolment_id", "step"),
        Index("ix_flow_step_runs_flow_step", "flow_id", "step"),
    )


class Skip(Base):
    """An event that would start a flow for a customer and did not, with the reason
    (the flow switched off, filtered out, within its cooldown, entered before, ...):
    for the events whose news must never be lost silently (``points.expiring``), the
    customer is either in the flow (where each step records what it did) or here."""

    __tablename__ = "flow_skips"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    flow_key: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    topic: Mapped[str] = mapped_column(String(64))
    occasion: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("flow_key", "customer_id", "occasion"),)


class DailyRun(Base):
    """A local day whose calendar entries (birthdays, daily conditions) have run."""

    __tablename__ = "flow_daily_runs"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
