"""What feedback announces, for flows (a promoter's referral invitation), webhooks and the
customer's timeline. Each event is about one customer (``customer_id``)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from wafa.core.events import Event
from wafa.core.i18n import N_


class SurveyAnswered(Event):
    """A customer answered a survey for an occasion (``first``: not an edit of an answer).

    ``group`` is the NPS group (``promoter``, ``passive``, ``detractor``) for NPS surveys;
    ``unhappy`` marks the answers that open a complaint (NPS 0–6, CSAT 1–2, CES 1–3).
    """

    topic: ClassVar[str] = "survey.answered"
    label: ClassVar[str | None] = N_("Answered a survey")
    icon: ClassVar[str] = "message"

    customer_id: uuid.UUID
    survey_id: uuid.UUID
    response_id: uuid.UUID
    kind: str
    occasion: str
    score: int
    group: str | None = None
    unhappy: bool = False
    first: bool = True


class ComplaintFiled(Event):
    """A complaint (or praise, ``kind``) was logged; ``staff_id`` is the staff member it names."""

    topic: ClassVar[str] = "complaint.filed"
    label: ClassVar[str | None] = N_("Complaint filed")
    icon: ClassVar[str] = "alert"

    customer_id: uuid.UUID
    complaint_id: uuid.UUID
    kind: str
    category: str
    severity: str
    channel: str
    staff_id: uuid.UUID | None = None


class ComplaintResolved(Event):
    """A complaint was resolved; ``survey_url`` asks the customer how it was handled."""

    topic: ClassVar[str] = "complaint.resolved"
    label: ClassVar[str | None] = N_("Complaint resolved")
    icon: ClassVar[str] = "check"

    customer_id: uuid.UUID
    complaint_id: uuid.UUID
    category: str
    survey_url: str | None = None


class CompensationGiven(Event):
    """Points or a coupon were given to make up for a complaint."""

    topic: ClassVar[str] = "compensation.given"
    label: ClassVar[str | None] = N_("Compensation given")
    icon: ClassVar[str] = "gift"

    customer_id: uuid.UUID
    complaint_id: uuid.UUID
    compensation_id: uuid.UUID
    kind: str
    points: int | None = None
    coupon_code: str | None = None


class ComplaintSlaAlert(Event):
    """A complaint's clock is about to run out (``warning``) or has (``breach``: the
    complaint is escalated to the owner). ``clock`` is ``first_response`` or ``resolution``."""

    topic: ClassVar[str] = "complaint.sla_alert"

    customer_id: uuid.UUID
    complaint_id: uuid.UUID
    clock: str
    level: str
    escalated_to: uuid.UUID | None = None


EVENTS: tuple[type[Event], ...] = (
    SurveyAnswered,
    ComplaintFiled,
    ComplaintResolved,
    CompensationGiven,
    ComplaintSlaAlert,
)
