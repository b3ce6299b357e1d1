"""/api/v1 feedback: surveys, their answers and results, survey links.

Scopes: ``read`` for every GET; ``write`` to record an answer or ask for a link (what a
shop's systems do); ``admin`` to create or pause a survey. Every POST honours
``Idempotency-Key``; an answer is also unique per (survey, customer, occasion) by itself.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from wafa.api.deps import Admin, AppSettings, DbSession, Idempotent, Reader, ReadSession, Writer
from wafa.api.routing import AutoCommitRoute
from wafa.feedback import service
from wafa.feedback.models import AnswerChannel, Survey, SurveyResponse
from wafa.feedback.schemas import (
    LinkCreate,
    LinkRead,
    ResponseCreate,
    ResponseRead,
    Results,
    SurveyCreate,
    SurveyRead,
)

router = APIRouter(route_class=AutoCommitRoute, tags=["feedback"])


@router.post("/surveys", status_code=201, response_model=SurveyRead, dependencies=[Idempotent])
def create_survey(body: SurveyCreate, session: DbSession, principal: Admin) -> Survey:
    """A new survey: ``{"kind": "nps"|"csat"|"ces", "name", "question": {"en": ...}}``."""
    return service.create_survey(session, data=body)


@router.get("/surveys", response_model=list[SurveyRead])
def list_surveys(session: ReadSession, principal: Reader) -> list[Survey]:
    return service.list_surveys(session)


@router.get("/surveys/{survey_id}", response_model=SurveyRead)
def get_survey(survey_id: uuid.UUID, session: ReadSession, principal: Reader) -> Survey:
    return service.get_survey(session, survey_id)


@router.post(
    "/surveys/{survey_id}/responses",
    status_code=201,
    response_model=ResponseRead,
    dependencies=[Idempotent],
    responses={200: {"model": ResponseRead, "description": "Answered before for this occasion"}},
)
def record_response(
    survey_id: uuid.UUID,
    body: ResponseCreate,
    session: DbSession,
    settings: AppSettings,
    principal: Writer,
    response: Response,
) -> SurveyResponse:
    """``201`` for a first answer; ``200`` when this customer already answered for this
    occasion (updated within the survey's edit window, never counted twice)."""
    answer = service.answer(
        session,
        settings=settings,
        survey_id=survey_id,
        customer_id=body.customer_id,
        occasion=body.occasion,
        score=body.score,
        comment=body.comment,
        channel=AnswerChannel.api,
    )
    if not answer.created:
        response.status_code = 200
    return answer.response


@router.get("/surveys/{survey_id}/results", response_model=Results)
def survey_results(survey_id: uuid.UUID, session: ReadSession, principal: Reader) -> Any:
    return service.results(session, survey_id=survey_id)


@router.post("/surveys/{survey_id}/links", response_model=LinkRead, dependencies=[Idempotent])
def survey_link(
    survey_id: uuid.UUID,
    body: LinkCreate,
    session: DbSession,
    settings: AppSettings,
    principal: Writer,
) -> LinkRead:
    """A signed, expiring answer link, or ``{"url": null, "skipped": reason}`` when the
    fatigue rules say the customer was asked too recently."""
    made = service.survey_link_or_reason(
        session,
        settings=settings,
        customer_id=body.customer_id,
        occasion=body.occasion,
        survey_id=survey_id,
    )
    if isinstance(made, service.Skipped):
        return LinkRead(url=None, expires_at=None, skipped=made.reason)
    return LinkRead(url=made.url, expires_at=made.expires_at)
