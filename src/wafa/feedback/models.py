"""Feedback tables: surveys, the invitations sent for them (the fatigue record) and answers.

One answer per ``(survey, customer, occasion)`` is a unique key, not a hope: a second
submission for the same occasion updates the first (within the survey's edit window) and
never counts twice. An invitation (``survey_asks``) is recorded when a link is made, once
per ``(survey, customer, occasion)``; the fatigue rules read it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from wafa.core.db import Base, UtcDateTime
from wafa.core.ids import new_id
from wafa.core.time import utcnow


class SurveyKind(StrEnum):
    """NPS (0–10), CSAT (1–5), CES (1–7, "how easy was it")."""

    nps = "nps"
    csat = "csat"
    ces = "ces"


class Touchpoint(StrEnum):
    """When a survey is asked."""

    delivery = "delivery"
    visit = "visit"
    complaint = "complaint"
    relationship = "relationship"
    other = "other"


class AnswerChannel(StrEnum):
    """How an answer arrived."""

    link = "link"
    api = "api"
    portal = "portal"
    pos = "pos"


class Survey(Base):
    """A question asked at a touchpoint, written per locale (``{"en": ..., "fa": ...}``)."""

    __tablename__ = "surveys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    touchpoint: Mapped[str] = mapped_column(String(16), default=Touchpoint.other.value)
    question: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    why: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Fatigue: a customer is asked this survey at most once per this many days.
    ask_every_days: Mapped[int] = mapped_column(Integer, default=90)
    # A second submission for the same occasion updates the first for this long.
    edit_hours: Mapped[int] = mapped_column(Integer, default=72)
    # How long an invitation link stays valid.
    link_days: Mapped[int] = mapped_column(Integer, default=14)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SurveyAsk(Base):
    """An invitation: this customer was asked this survey for this occasion (the link)."""

    __tablename__ = "survey_asks"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    occasion: Mapped[str] = mapped_column(String(200))
    asked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # What the answer will be about: the order (its location, channel and products) and
    # the staff member who served (the cashier showing the QR code), when known.
    order_id: Mapped[uuid.UUID | None] = mapped_column()
    staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )

    __table_args__ = (
        UniqueConstraint("survey_id", "customer_id", "occasion"),
        Index("ix_survey_asks_customer_asked", "customer_id", "asked_at"),
    )


class SurveyResponse(Base):
    """One customer's answer to one survey for one occasion."""

    __tablename__ = "survey_responses"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    survey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    occasion: Mapped[str] = mapped_column(String(200))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16), default=AnswerChannel.link.value)
    # The order the answer is about and the staff member who served (from the invitation,
    # or given by the integrator); the breakdowns by location, channel, product and staff
    # read them.
    order_id: Mapped[uuid.UUID | None] = mapped_column()
    staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("survey_id", "customer_id", "occasion"),
        Index("ix_survey_responses_survey_created", "survey_id", "created_at"),
        Index("ix_survey_responses_order", "order_id"),
        Index("ix_survey_responses_customer", "customer_id"),
    )


# --------------------------------------------------------------------------- complaints


#: PostgreSQL's trigram index on ``complaints.search_text`` (see ``Complaint``).
SEARCH_TRIGRAM_INDEX = "ix_complaints_search_trgm"


class ComplaintKind(StrEnum):
    """A complaint, or praise (which is routed to the staff member it names)."""

    complaint = "complaint"
    praise = "praise"


class Severity(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class ComplaintStatus(StrEnum):
    """new → acknowledged → in_progress → resolved → closed; ``waiting`` (on the customer)
    pauses the SLA clocks; a resolved or closed complaint can be reopened."""

    new = "new"
    acknowledged = "acknowledged"
    in_progress = "in_progress"
    waiting = "waiting"
    resolved = "resolved"
    closed = "closed"


class ComplaintChannel(StrEnum):
    """Where the complaint was filed."""

    dashboard = "dashboard"
    pos = "pos"
    portal = "portal"
    api = "api"
    survey = "survey"
    phone = "phone"
    email = "email"


class Complaint(Base):
    """One complaint (or praise) with its SLA clocks.

    ``first_response_due_at`` and ``resolution_due_at`` are instants computed from the
    business hours (weekly schedule, weekend, public holidays) and moved later by the
    business time spent waiting on the customer (``paused_seconds``).
    """

    __tablename__ = "complaints"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(16), default=ComplaintKind.complaint.value)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(16), default=Severity.normal.value)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ComplaintStatus.new.value)
    text: Mapped[str] = mapped_column(Text)
    order_id: Mapped[uuid.UUID | None] = mapped_column()
    product: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(120))
    staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    survey_response_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("survey_responses.id", ondelete="SET NULL"), unique=True
    )
    language: Mapped[str | None] = mapped_column(String(8))
    # The text, product and location folded for search (``wafa.core.text.search_key``:
    # case, Arabic/Persian yeh and kaf, diacritics, zero-width non-joiner, digits).
    search_text: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    first_response_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    waiting_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    first_response_due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolution_due_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_complaints_customer", "customer_id", "created_at"),
        Index("ix_complaints_status", "status", "created_at"),
        # On PostgreSQL only, the inbox's text search (``LIKE '%word%'`` on ``search_text``)
        # reads a trigram index (pg_trgm, GIN) made by its migration; SQLite has no such
        # index and reads the rows. Named here so ``alembic check`` expects it on neither.
        {"info": {"dialect_indexes": (SEARCH_TRIGRAM_INDEX,)}},
    )


class ComplaintEntryKind(StrEnum):
    """A line of a complaint's history: a reply (sent to the customer), an internal note,
    a status change, an assignment, a compensation."""

    reply = "reply"
    note = "note"
    status = "status"
    assign = "assign"
    compensation = "compensation"
    alert = "alert"


class ComplaintEntry(Base):
    """The complaint's history, oldest first; replies are also queued as messages."""

    __tablename__ = "complaint_entries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    complaint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(16))
    staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    by: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class FeedbackPolicy(Base):
    """The complaint log's settings in one row (JSON, see ``wafa.feedback.policy``)."""

    __tablename__ = "feedback_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(200))


class CompensationKind(StrEnum):
    points = "points"
    coupon = "coupon"


class Compensation(Base):
    """A gift made for a complaint: points on the ledger or a single-use coupon.

    ``(complaint_id, key)`` is unique: the same request (its ``Idempotency-Key``, or the
    dashboard form's key) is recorded once, however often it is sent or clicked.
    """

    __tablename__ = "compensations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    complaint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int | None] = mapped_column(Integer)
    points_entry_id: Mapped[uuid.UUID | None] = mapped_column()
    coupon_id: Mapped[uuid.UUID | None] = mapped_column()
    coupon_code: Mapped[str | None] = mapped_column(String(40))
    discount_kind: Mapped[str | None] = mapped_column(String(24))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    percent: Mapped[int | None] = mapped_column(Integer)
    product_sku: Mapped[str | None] = mapped_column(String(120))
    currency: Mapped[str | None] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)

    __table_args__ = (UniqueConstraint("complaint_id", "key"),)


class ComplaintAlert(Base):
    """An SLA warning or breach, recorded once per (complaint, kind) so the worker's sweep
    never warns or escalates twice (``first_response_warning``, ``resolution_breach``, …)."""

    __tablename__ = "complaint_alerts"

    complaint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AlertMailStatus(StrEnum):
    """``queued`` → ``sending`` (claimed, committed before the SMTP exchange) → ``sent``, or
    ``failed`` (refused, or five temporary failures); an email whose fate is unknown (no
    answer to DATA) is ``unknown`` and never sent again."""

    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    unknown = "unknown"


class ComplaintAlertMail(Base):
    """An SLA breach told by email to a staff member (the assignee, the owner), once:
    ``(complaint_id, kind, to_address)`` is unique and the row is claimed before it is sent."""

    __tablename__ = "complaint_alert_mails"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    complaint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    to_address: Mapped[str] = mapped_column(String(320))
    locale: Mapped[str] = mapped_column(String(8), default="en")
    subject: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=AlertMailStatus.queued.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        UniqueConstraint("complaint_id", "kind", "to_address"),
        Index("ix_complaint_alert_mails_status", "status", "created_at"),
    )


class ComplaintAttachment(Base):
    """A photo or PDF attached to a complaint, by the customer or by staff.

    The bytes live in the database, not on disk (``wafa.feedback.attachments`` says why):
    a failed upload rolls back with its complaint, erasure and export reach them in the
    person's own transaction. ``data`` is deferred, so lists never read it. ``sha256`` is the
    stored bytes' digest (after a photo's metadata is stripped); ``(complaint_id, sha256)`` is
    unique, so the same file sent twice is kept once.
    """

    __tablename__ = "complaint_attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    complaint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(160))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    # Whether the customer sees it on their portal: always for their own; for a staff
    # member's, when they chose to show it (otherwise it is internal, like a note).
    shared: Mapped[bool] = mapped_column(Boolean, default=True)
    from_customer: Mapped[bool] = mapped_column(Boolean, default=False)
    staff_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL")
    )
    by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))

    __table_args__ = (UniqueConstraint("complaint_id", "sha256"),)
