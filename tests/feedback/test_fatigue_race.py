"""The 7-day rule across surveys holds under concurrency: requests at once for different
surveys for one customer make at most one invitation (real commits, both databases)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

from sqlalchemy import func, select

from tests.factories import create_customer
from wafa.core.db import session_factory, session_scope
from wafa.core.settings import Settings
from wafa.feedback import service
from wafa.feedback.models import SurveyAsk
from wafa.feedback.schemas import SurveyCreate

QUESTION = {"en": "How was it?"}
SURVEYS = 6
ROUNDS = 8


def test_surveys_at_once_make_one_invitation(committed_db: Settings) -> None:
    settings = committed_db
    with session_scope(settings) as s:
        surveys = [
            service.create_survey(
                s,
                data=SurveyCreate.model_validate(
                    {"kind": "nps", "name": f"s{i}", "question": QUESTION}
                ),
            ).id
            for i in range(SURVEYS)
        ]
        customers = [create_customer(s).id for _ in range(ROUNDS)]
    factory = session_factory(settings)
    links: Counter[uuid.UUID] = Counter()
    refused: Counter[str] = Counter()
    lock = threading.Lock()

    def ask(barrier: threading.Barrier, customer_id: uuid.UUID, survey_id: uuid.UUID) -> None:
        barrier.wait()
        with factory() as session, session.begin():
            made = service.survey_link_or_reason(
                session,
                settings=settings,
                customer_id=customer_id,
                occasion="visit",
                survey_id=survey_id,
            )
        with lock:
            if isinstance(made, service.SurveyLink):
                links[customer_id] += 1
            else:
                refused[made.reason] += 1

    for customer_id in customers:
        barrier = threading.Barrier(SURVEYS)
        threads = [
            threading.Thread(target=ask, args=(barrier, customer_id, sid)) for sid in surveys
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert links == Counter(dict.fromkeys(customers, 1)), links
    assert refused == Counter({"asked_another_survey_recently": ROUNDS * (SURVEYS - 1)})
    with factory() as s:
        asks = s.scalar(
            select(func.count()).select_from(SurveyAsk).where(SurveyAsk.customer_id.in_(customers))
        )
        assert asks == ROUNDS
