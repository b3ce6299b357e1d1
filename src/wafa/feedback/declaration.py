"""The feedback domain: surveys (NPS, CSAT, CES) asked by signed links, their answers and
scores; the complaint log, compensation and recurring-issue detection join it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from wafa.core.domain import Domain, PersonalData, Task
from wafa.core.settings import Settings
from wafa.feedback import events, models

if TYPE_CHECKING:
    from fastapi import APIRouter  # noqa: TID251 - a type only

    from wafa.web.pages import Pages


def _api() -> Sequence[APIRouter]:
    from wafa.feedback.api import router

    return (router,)


def _pages() -> Pages:
    from wafa.feedback.web import PAGES

    return PAGES


def _tasks() -> Sequence[Task]:
    from wafa.feedback.jobs import tasks

    return tasks()


def _export(session: Session, customer_id: uuid.UUID) -> dict[str, Any]:
    from wafa.feedback.service import personal_data

    return personal_data(session, customer_id)


def _erase(session: Session, settings: Settings, customer_id: uuid.UUID) -> None:
    from wafa.feedback.service import erase

    erase(session, customer_id)


FEEDBACK = Domain(
    name="feedback",
    summary="Surveys (NPS, CSAT, CES) by signed links, answers once per occasion, scores.",
    models=(models,),
    events=events.EVENTS,
    api=_api,
    pages=_pages,
    tasks=_tasks,
    personal_data=PersonalData(export=_export, erase=_erase),
)
