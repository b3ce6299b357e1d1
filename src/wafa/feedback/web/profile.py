"""The customer profile's feedback card: their complaints (with status) and survey answers,
and buttons to file a complaint or show a survey QR code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from wafa.customers.models import Customer
from wafa.feedback import complaints, service
from wafa.feedback.web.common import labels
from wafa.web.pages import CustomerPanel


def _panel(session: Session, customer: Customer) -> Mapping[str, Any] | None:
    return {
        "complaints": complaints.list_complaints(session, customer_id=customer.id, limit=5),
        "answers": [
            (r, service.get_survey(session, r.survey_id))
            for r in service.customer_responses(session, customer.id)[:5]
        ],
        **labels(),
    }


PANEL = CustomerPanel(
    "feedback", template="feedback/_profile_panel.html", load=_panel, column="side", order=40
)
