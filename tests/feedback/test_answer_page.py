from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.feedback.helpers import make_survey
from wafa.core.settings import Settings
from wafa.feedback import service


def _link(session: Session, settings: Settings, language: str | None = None) -> str:
    survey = make_survey(session, link_days=14)
    customer = create_customer(session, language=language)
    link = service.survey_link(
        session, settings=settings, customer_id=customer.id, occasion="order:7", survey_id=survey.id
    )
    assert link is not None
    session.flush()
    return "/s/" + link.token


class TestAnswerPage:
    def test_persian_customer_answers_right_to_left(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        path = _link(session, settings, "fa")
        page = client.get(path)
        assert page.status_code == 200
        assert 'dir="rtl"' in page.text and "چقدر احتمال" in page.text
        assert "۱۰" in page.text  # the scale in Persian digits
        assert "set-cookie" not in page.headers
        done = client.post(path, data={"score": "۹", "comment": "عالی بود", "lang": "fa"})
        assert done.status_code == 200
        again = client.get(path)
        assert re.search(r'value="9"[^>]*checked', again.text)

    def test_resubmission_updates_within_the_window(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        path = _link(session, settings)
        client.post(path, data={"score": "2"})
        client.post(path, data={"score": "8", "comment": "better now"})
        survey = service.list_surveys(session)[0]
        figures = service.results(session, survey_id=survey.id)
        assert figures["responses"] == 1 and figures["passives"] == 1

    def test_missing_score_is_refused(
        self, client: TestClient, session: Session, settings: Settings
    ) -> None:
        path = _link(session, settings)
        assert client.post(path, data={"comment": "x"}).status_code == 422
        assert client.post(path, data={"score": "11"}).status_code == 422

    def test_expired_and_forged_links(
        self, client: TestClient, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        path = _link(session, settings)
        assert client.get(path[:-3] + "AAA").status_code == 404
        clock.advance(days=15)
        closed = client.get(path)
        assert closed.status_code == 410
        assert client.post(path, data={"score": "9"}).status_code == 410
