"""Surveys and complaints on the portal, through feedback's services, scoped to the customer."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import create_order
from tests.portal.helpers import member, sign_in
from wafa.core.settings import Settings
from wafa.feedback import complaints
from wafa.feedback import service as surveys
from wafa.feedback.models import Complaint, ComplaintChannel
from wafa.feedback.schemas import ComplaintCreate, SurveyCreate


def _form(client: TestClient) -> dict[str, str]:
    page = client.get("/portal/feedback").text
    return {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
        "nonce": re.search(r'name="nonce" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
    }


def test_a_complaint_is_filed_once_and_its_reply_shows(
    client: TestClient, session: Session, settings: Settings
) -> None:
    customer = member(session, settings, name="Reza Mine")
    sign_in(client, session, settings, customer)
    form = {**_form(client), "category": "quality", "text": "The bread was stale."}
    first = client.post("/portal/feedback", data=form, follow_redirects=False)
    again = client.post("/portal/feedback", data=form, follow_redirects=False)
    assert first.headers["location"] == again.headers["location"]
    [filed] = session.scalars(select(Complaint).where(Complaint.customer_id == customer.id)).all()
    assert filed.channel == "portal" and filed.text == "The bread was stale."
    complaints.reply(
        session, settings=settings, complaint_id=filed.id, text="Sorry! Fresh bread on us.", by="t"
    )
    session.flush()
    page = client.get("/portal/feedback").text
    assert "Sorry! Fresh bread on us." in page


def test_another_customers_complaint_and_order_stay_out_of_reach(
    client: TestClient, session: Session, settings: Settings
) -> None:
    mine = member(session, settings)
    other = member(session, settings, email="someone@example.com")
    complaints.file_complaint(
        session,
        settings=settings,
        data=ComplaintCreate(customer_id=other.id, category="staff", text="Their secret text"),
        channel=ComplaintChannel.dashboard,
        by="t",
    )
    their_order = create_order(session, customer={"email": "someone@example.com"})
    session.flush()
    assert their_order.customer_id == other.id
    sign_in(client, session, settings, mine)
    assert "Their secret text" not in client.get("/portal/feedback").text
    form = {**_form(client), "category": "quality", "text": "x", "order_id": str(their_order.id)}
    refused = client.post("/portal/feedback", data=form)
    assert refused.status_code == 422
    assert session.scalars(select(Complaint).where(Complaint.customer_id == mine.id)).all() == []


def test_an_open_survey_is_offered(
    client: TestClient, session: Session, settings: Settings
) -> None:
    surveys.create_survey(
        session,
        data=SurveyCreate(
            kind="nps",
            name="How likely",
            question={"en": "Would you recommend us?"},
            touchpoint="relationship",
        ),
    )
    customer = member(session, settings)
    session.flush()
    sign_in(client, session, settings, customer)
    page = client.get("/portal/feedback").text
    assert "/s/" in page and "Answer the survey" in page
