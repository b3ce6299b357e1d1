"""The flows domain: lifecycle flows (trigger, filters, steps, exit, cooldown, holdout)
built on messaging's send API and loyalty's coupons and points."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from wafa.core.domain import Domain, PersonalData, Task
from wafa.core.events import Consumer
from wafa.core.settings import Settings
from wafa.flows import events, models

if TYPE_CHECKING:
    from fastapi import APIRouter  # noqa: TID251 - a type only

    from wafa.web.pages import Pages


def _api() -> Sequence[APIRouter]:
    from wafa.flows.api import router

    return (router,)


def _pages() -> Pages:
    from wafa.flows.web import PAGES

    return PAGES


def _consumers(settings: Settings) -> Sequence[Consumer]:
    from wafa.flows.handlers import consumers

    return consumers(settings)


def _tasks() -> Sequence[Task]:
    from wafa.flows.jobs import tasks

    return tasks()


def _export(session: Session, customer_id: uuid.UUID) -> dict[str, object]:
    from wafa.flows.history import personal_data

    return personal_data(session, customer_id)


FLOWS = Domain(
    name="flows",
    summary="Lifecycle flows: the right message at the right moment, with a measured holdout.",
    models=(models,),
    events=events.EVENTS,
    api=_api,
    pages=_pages,
    consumers=_consumers,
    tasks=_tasks,
    personal_data=PersonalData(export=_export),
)
