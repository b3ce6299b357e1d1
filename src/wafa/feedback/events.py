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


EVENTS: tuple[type[Event], ...] = (SurveyAnswered,)
