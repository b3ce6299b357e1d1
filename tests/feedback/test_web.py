"""The feedback screens through the app: the inbox, filing, a complaint's page and its
actions, the surveys, a staff member's own feedback (criticism without the customer)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import create_customer
from tests.feedback.helpers import make_survey
from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.settings import Settings
from wafa.feedback import complaints, service
from wafa.feedback.models import ComplaintChannel
from wafa.feedback.schemas import ComplaintCreate
from wafa.loyalty import service as loyalty

PASSWORD = "correct horse battery staple"


def login(client: TestClient, session: Session, role: Role, email: str) -> str:
    user = auth.create_user(
        session, email=email, password=PASSWORD, role=role, name=email.split("@")[0]
    )
    session.flush()
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)})
    return str(user.id)


def csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


class TestComplaintScreens:
    def test_file_answer_compensate_resolve(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        login(client, session, Role.manager, "manager@example.com")
        customer = create_customer(session, name="Sara Karimi", phone="+12025550101")
        session.flush()
        token = csrf(client, "/feedback/complaints/new")
        filed = client.post(
            "/feedback/complaints/new",
            data={
                "csrf_token": token,
                "contact": "(202) 555-0101",
                "category": "quality",
                "text": "Cold coffee",
            },
            follow_redirects=False,
        )
        assert filed.status_code == 303, filed.text
        path = filed.headers["location"]
        page = client.get(path)
        assert page.status_code == 200 and "Cold coffee" in page.text and "Sara Karimi" in page.text
        key = re.search(r'name="key" value="([^"]+)"', page.text)
        assert key is not None
        token = csrf(client, path)
        for _ in range(2):  # a double click gives once
            client.post(
                path + "/compensate",
                data={"csrf_token": token, "key": key.group(1), "gift": "points", "points": "30"},
            )
        assert loyalty.status(session, settings=settings, customer_id=customer.id).available == 30
        client.post(
            path + "/reply", data={"csrf_token": token, "text": "So sorry, a fresh one is on us"}
        )
        client.post(path + "/status", data={"csrf_token": token, "status": "resolved"})
        page = client.get(path)
        assert "So sorry" in page.text and "Resolved" in page.text
        inbox = client.get("/feedback/complaints?status=resolved")
        assert "Sara Karimi" in inbox.text
        profile = client.get(f"/customers/{customer.id}")
        assert profile.status_code == 200 and 'id="fb-panel-title"' in profile.text
        reports = client.get("/feedback/reports")
        assert reports.status_code == 200 and "Compensation per category" in reports.text

    def test_criticism_is_anonymous_to_the_cashier_named(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        cashier_id = login(client, session, Role.cashier, "cashier@example.com")
        customer = create_customer(session, name="Reza Tehrani")
        for kind in ("complaint", "praise"):
            complaints.file_complaint(
                session,
                settings=settings,
                channel=ComplaintChannel.dashboard,
                by="m",
                data=ComplaintCreate.model_validate(
                    {
                        "customer_id": customer.id,
                        "category": "staff",
                        "text": f"{kind} text",
                        "kind": kind,
                        "staff_id": cashier_id,
                    }
                ),
            )
        session.flush()
        mine = client.get("/feedback/mine")
        assert "complaint text" in mine.text and "praise text" in mine.text
        assert "Reza" in mine.text and "Tehrani" not in mine.text  # first name on praise only
        inbox = client.get("/feedback/complaints")
        assert "Reza Tehrani" not in inbox.text
        criticism = complaints.list_complaints(session, kind="complaint")[0]
        page = client.get(f"/feedback/complaints/{criticism.id}")
        assert "Reza" not in page.text and 'action="/feedback/complaints' not in page.text


class TestSurveyScreens:
    @pytest.mark.parametrize("language", ["en", "fa"])
    def test_surveys_and_results(
        self, client: TestClient, session: Session, settings: Settings, language: str
    ) -> None:
        login(client, session, Role.owner, f"owner-{language}@example.com")
        if language != "en":
            client.post(
                "/locale",
                data={
                    "csrf_token": csrf(client, "/feedback/surveys"),
                    "locale": language,
                    "next": "/",
                },
            )
        survey = make_survey(session)
        customer = create_customer(session)
        service.answer(
            session,
            settings=settings,
            survey_id=survey.id,
            customer_id=customer.id,
            occasion="o",
            score=10,
            comment="قهوه عالی بود",
        )
        session.flush()
        listing = client.get("/feedback/surveys")
        assert listing.status_code == 200 and survey.name in listing.text
        page = client.get(f"/feedback/surveys/{survey.id}?q=قهوه")
        assert page.status_code == 200 and "قهوه عالی بود" in page.text
        if language == "fa":
            assert 'dir="rtl"' in page.text and "۱۰۰" in page.text

    def test_qr_code_for_the_counter(self, client: TestClient, session: Session) -> None:
        login(client, session, Role.cashier, "cashier2@example.com")
        make_survey(session, touchpoint="visit")
        customer = create_customer(session)
        session.flush()
        page = client.get(f"/feedback/qr?customer={customer.id}")
        assert page.status_code == 200 and "<svg" in page.text and "/s/" in page.text
