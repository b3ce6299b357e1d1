from __future__ import annotations

import threading
from collections import Counter

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import create_customer
from wafa.core.db import session_factory, session_scope
from wafa.core.settings import Settings
from wafa.feedback import service
from wafa.feedback.models import AnswerChannel, SurveyResponse
from wafa.feedback.schemas import SurveyCreate

QUESTION = {"en": "How likely are you to recommend us?", "fa": "چقدر ما را پیشنهاد می‌کنید؟"}


class TestSurveysApi:
    def test_contract(self, api: TestClient, session: Session) -> None:
        created = api.post(
            "/api/v1/surveys", json={"kind": "nps", "name": "After delivery", "question": QUESTION}
        )
        assert created.status_code == 201, created.text
        survey_id = created.json()["id"]
        customers = [create_customer(session) for _ in range(3)]
        session.flush()
        url = f"/api/v1/surveys/{survey_id}/responses"
        first = api.post(
            url, json={"customer_id": str(customers[0].id), "occasion": "order:1", "score": 10}
        )
        assert first.status_code == 201, first.text
        again = api.post(
            url, json={"customer_id": str(customers[0].id), "occasion": "order:1", "score": 10}
        )
        assert again.status_code == 200
        assert again.json()["id"] == first.json()["id"]
        for customer, score in ((customers[1], 8), (customers[2], 3)):
            answered = api.post(
                url,
                json={
                    "customer_id": str(customer.id),
                    "occasion": "o",
                    "score": score,
                    "comment": "late",
                },
            )
            assert answered.status_code == 201
        results = api.get(f"/api/v1/surveys/{survey_id}/results").json()
        assert {
            k: results[k] for k in ("responses", "promoters", "passives", "detractors", "nps")
        } == {
            "responses": 3,
            "promoters": 1,
            "passives": 1,
            "detractors": 1,
            "nps": 0,
        }

    def test_bad_input_names_the_field(self, api: TestClient, session: Session) -> None:
        refused = api.post(
            "/api/v1/surveys", json={"kind": "nps", "name": "x", "question": {"de": "Wie?"}}
        )
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["loc"][-1] == "question"
        survey_id = api.post(
            "/api/v1/surveys", json={"kind": "csat", "name": "x", "question": QUESTION}
        ).json()["id"]
        customer = create_customer(session)
        session.flush()
        out = api.post(
            f"/api/v1/surveys/{survey_id}/responses",
            json={"customer_id": str(customer.id), "occasion": "o", "score": 6},
        )
        assert out.status_code == 422
        assert out.json()["errors"][0]["loc"][-1] == "score"

    def test_link_then_fatigue(self, api: TestClient, session: Session) -> None:
        survey_id = api.post(
            "/api/v1/surveys", json={"kind": "nps", "name": "x", "question": QUESTION}
        ).json()["id"]
        customer = create_customer(session)
        session.flush()
        url = f"/api/v1/surveys/{survey_id}/links"
        made = api.post(url, json={"customer_id": str(customer.id), "occasion": "a"}).json()
        assert made["url"] and made["skipped"] is None
        refused = api.post(url, json={"customer_id": str(customer.id), "occasion": "b"}).json()
        assert refused == {"url": None, "expires_at": None, "skipped": "asked_this_survey_recently"}


class TestConcurrentAnswers:
    def test_twenty_submissions_make_one_answer(self, committed_db: Settings) -> None:
        settings = committed_db
        with session_scope(settings) as s:
            survey = service.create_survey(
                s,
                data=SurveyCreate.model_validate(
                    {"kind": "nps", "name": "x", "question": QUESTION}
                ),
            )
            customer = create_customer(s)
            sid, cid = survey.id, customer.id
        factory = session_factory(settings)
        barrier = threading.Barrier(20)
        outcomes: Counter[str] = Counter()
        lock = threading.Lock()

        def submit(i: int) -> None:
            barrier.wait()
            with factory() as session, session.begin():
                made = service.answer(
                    session,
                    settings=settings,
                    survey_id=sid,
                    customer_id=cid,
                    occasion="visit:1",
                    score=i % 11,
                    channel=AnswerChannel.link,
                )
            with lock:
                outcomes["created" if made.created else "again"] += 1

        threads = [threading.Thread(target=submit, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert outcomes == Counter({"created": 1, "again": 19})
        with factory() as s:
            rows = s.scalar(
                select(func.count())
                .select_from(SurveyResponse)
                .where(SurveyResponse.survey_id == sid)
            )
            assert rows == 1
            assert service.results(s, survey_id=sid)["responses"] == 1


class TestComplaintsApi:
    def test_detractor_answer_is_listed_by_customer(
        self, api: TestClient, session: Session
    ) -> None:
        survey_id = api.post(
            "/api/v1/surveys", json={"kind": "nps", "name": "x", "question": QUESTION}
        ).json()["id"]
        customer = create_customer(session)
        session.flush()
        api.post(
            f"/api/v1/surveys/{survey_id}/responses",
            json={"customer_id": str(customer.id), "occasion": "o", "score": 2, "comment": "cold"},
        )
        listed = api.get(f"/api/v1/complaints?customer_id={customer.id}").json()
        assert len(listed["items"]) == 1
        item = listed["items"][0]
        assert {"id", "status", "category"} <= set(item) and item["status"] == "new"

    def test_file_reply_resolve(self, api: TestClient, session: Session) -> None:
        customer = create_customer(session)
        session.flush()
        filed = api.post(
            "/api/v1/complaints",
            json={
                "customer_id": str(customer.id),
                "category": "damaged",
                "text": "Broken mug",
                "severity": "high",
            },
        )
        assert filed.status_code == 201, filed.text
        cid = filed.json()["id"]
        replied = api.post(
            f"/api/v1/complaints/{cid}/replies", json={"text": "A new mug is on its way"}
        )
        assert replied.status_code == 201
        assert api.get(f"/api/v1/complaints/{cid}").json()["status"] == "in_progress"
        assert api.post(f"/api/v1/complaints/{cid}/resolve").json()["status"] == "resolved"
        kinds = [e["kind"] for e in api.get(f"/api/v1/complaints/{cid}/entries").json()]
        assert kinds == ["status", "reply", "status", "status"]
        refused = api.post(f"/api/v1/complaints/{cid}/status", json={"status": "acknowledged"})
        assert refused.status_code == 409

    def test_unknown_category_names_the_field(self, api: TestClient, session: Session) -> None:
        customer = create_customer(session)
        session.flush()
        refused = api.post(
            "/api/v1/complaints",
            json={"customer_id": str(customer.id), "category": "nope", "text": "x"},
        )
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["loc"][-1] == "category"


class TestReportsApi:
    def test_recurring_and_reports(self, api: TestClient) -> None:
        recurring = api.get("/api/v1/complaints/recurring")
        assert recurring.status_code == 200 and recurring.json() == {"groups": [], "similar": []}
        reports = api.get("/api/v1/feedback/reports").json()
        assert reports["response_times"]["first_response"]["count"] == 0
