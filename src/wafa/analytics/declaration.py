"""The analytics domain: summaries, RFM, cohorts, CLV and churn models, recommendations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from wafa.analytics import tables
from wafa.core.domain import Domain, PersonalData, Task
from wafa.core.settings import Settings

if TYPE_CHECKING:
    from fastapi import APIRouter  # noqa: TID251 - a type only

    from wafa.web.pages import Pages


def _api() -> Sequence[APIRouter]:
    from wafa.analytics.api import router

    return (router,)


def _pages() -> Pages:
    from wafa.analytics.web import PAGES

    return PAGES


def _tasks() -> Sequence[Task]:
    from wafa.analytics.jobs import tasks

    return tasks()


def _export(session: Session, customer_id: uuid.UUID) -> dict[str, object]:
    from wafa.analytics.service import personal_data

    return personal_data(session, customer_id)


def _demo(session: Session, settings: Settings, seed: int) -> None:
    from wafa.analytics.demo import populate

    populate(session, settings=settings, seed=seed)


ANALYTICS = Domain(
    name="analytics",
    summary="Who comes back, who is slipping away, what each customer is likely worth.",
    models=(tables,),
    api=_api,
    pages=_pages,
    tasks=_tasks,
    personal_data=PersonalData(export=_export),
    demo=_demo,
)
