from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.feedback.helpers import make_survey
from tests.loyalty.helpers import set_rules
from wafa.core.errors import Invalid
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.feedback import service
from wafa.feedback.models import SurveyResponse
from wafa.loyalty import service as loyalty


def answer(
    session: Session,
    settings: Settings,
    survey_id: uuid.UUID,
    customer_id: uuid.UUID,
    score: int,
    occasion: str = "o1",
) -> service.Answer:
    return service.answer(
        session,
        settings=settings,
        survey_id=survey_id,
        customer_id=customer_id,
        occasion=occasion,
        score=score,
    )


class TestSurveyLink:
    def test_same_occasion_same_invitation(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        survey = make_survey(session)
        customer = create_customer(session)
        first = service.survey_link(
            session,
            settings=settings,
            customer_id=customer.id,
            occasion="order:1",
            touchpoint="delivery",
        )
        again = service.survey_link(
            session,
            settings=settings,
            customer_id=customer.id,
            occasion="order:1",
            survey_id=survey.id,
        )
        assert first is not None and again is not None
        assert first.ask_id == again.ask_id
        assert "/s/" in first.url
        assert first.qr_svg().startswith("<svg")

    def test_once_per_survey_window_and_seven_days_across(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        nps = make_survey(session, ask_every_days=30)
        csat = make_survey(session, "csat", touchpoint="visit")
        customer = create_customer(session)

        def link(survey_id: uuid.UUID, occasion: str) -> service.SurveyLink | service.Skipped:
            return service.survey_link_or_reason(
                session,
                settings=settings,
                customer_id=customer.id,
                occasion=occasion,
                survey_id=survey_id,
            )

        assert isinstance(link(nps.id, "a"), service.SurveyLink)
        clock.advance(days=6)
        assert link(csat.id, "b") == service.Skipped("asked_another_survey_recently")
        clock.advance(days=2)
        assert isinstance(link(csat.id, "b"), service.SurveyLink)
        clock.advance(days=15)  # 23 days after the first NPS
        assert link(nps.id, "c") == service.Skipped("asked_this_survey_recently")
        clock.advance(days=8)  # 31 days
        assert isinstance(link(nps.id, "c"), service.SurveyLink)

    def test_paused_survey_makes_no_link(self, session: Session, settings: Settings) -> None:
        survey = make_survey(session)
        service.set_active(session, survey_id=survey.id, active=False)
        customer = create_customer(session)
        assert (
            service.survey_link(
                session,
                settings=settings,
                customer_id=customer.id,
                occasion="x",
                survey_id=survey.id,
            )
            is None
        )


class TestAnswer:
    def test_once_per_occasion_and_edit_within_window(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        survey = make_survey(session, edit_hours=24)
        customer = create_customer(session)
        first = answer(session, settings, survey.id, customer.id, 3)
        assert first.created
        clock.advance(hours=2)
        second = answer(session, settings, survey.id, customer.id, 9)
        assert not second.created and second.changed
        assert second.response.id == first.response.id and second.response.score == 9
        clock.advance(hours=30)
        late = answer(session, settings, survey.id, customer.id, 0)
        assert not late.changed and late.response.score == 9
        count = session.scalar(
            select(func.count())
            .select_from(SurveyResponse)
            .where(SurveyResponse.survey_id == survey.id)
        )
        assert count == 1
        assert service.results(session, survey_id=survey.id)["nps"] == 100

    def test_first_answer_earns_the_bonus_once(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        set_rules(session, bonuses={"survey_answered": 7})
        survey = make_survey(session)
        customer = create_customer(session)
        answer(session, settings, survey.id, customer.id, 10)
        answer(session, settings, survey.id, customer.id, 9)
        status = loyalty.status(session, settings=settings, customer_id=customer.id)
        assert status.available == 7

    def test_score_outside_the_scale_is_refused(self, session: Session, settings: Settings) -> None:
        survey = make_survey(session, "csat")
        customer = create_customer(session)
        with pytest.raises(Invalid) as refused:
            answer(session, settings, survey.id, customer.id, 0)
        assert refused.value.errors[0][0] == ("score",)

    def test_event_names_the_group(self, session: Session, settings: Settings) -> None:
        survey = make_survey(session)
        customer = create_customer(session)
        answer(session, settings, survey.id, customer.id, 4)
        event = session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == "survey.answered")
        ).one()
        assert event.payload["group"] == "detractor" and event.payload["unhappy"] is True


class TestResults:
    def test_response_rate(self, session: Session, settings: Settings, clock: FrozenClock) -> None:
        survey = make_survey(session)
        people = [create_customer(session) for _ in range(4)]
        for person in people:
            link = service.survey_link(
                session,
                settings=settings,
                customer_id=person.id,
                occasion="o1",
                survey_id=survey.id,
            )
            assert link is not None
        answer(session, settings, survey.id, people[0].id, 10)
        figures = service.results(session, survey_id=survey.id)
        assert figures["asked"] == 4 and figures["response_rate"] == 25


class TestPersonalData:
    def test_export_and_erase(self, session: Session, settings: Settings) -> None:
        survey = make_survey(session)
        customer = create_customer(session)
        service.answer(
            session,
            settings=settings,
            survey_id=survey.id,
            customer_id=customer.id,
            occasion="o",
            score=2,
            comment="cold coffee",
        )
        exported = service.personal_data(session, customer.id)
        assert exported["survey_responses"][0]["comment"] == "cold coffee"
        service.erase(session, customer.id)
        assert service.personal_data(session, customer.id)["survey_responses"][0]["comment"] is None
