"""Feedback test helpers: a survey made through the real service."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from wafa.feedback import service
from wafa.feedback.models import Survey
from wafa.feedback.schemas import SurveyCreate


def make_survey(session: Session, kind: str = "nps", **overrides: Any) -> Survey:
    values: dict[str, Any] = {
        "kind": kind,
        "name": f"{kind} survey",
        "question": {
            "en": "How likely are you to recommend us to a friend?",
            "fa": "چقدر احتمال دارد ما را به دوستتان پیشنهاد کنید؟",
            "ar": "ما مدى احتمال أن توصي بنا لصديق؟",
        },
        "touchpoint": "delivery",
    }
    values.update(overrides)
    return service.create_survey(session, data=SurveyCreate.model_validate(values))
