"""The gatherings domain: members-only events, invitations to a segment, RSVPs with a
capacity and a waiting list, reminders and check-in with points for attending."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from wafa.core.domain import Domain, PersonalData, Task
from wafa.core.events import Consumer
from wafa.core.settings import Settings
from wafa.gatherings import events, models

if TYPE_CHECKING:
    from fastapi import APIRouter  # noqa: TID251 - a type only

    from wafa.web.pages import Pages


def _api() -> Sequence[APIRouter]:
    from wafa.gatherings.api import router

    return (router,)


def _pages() -> Pages:
    from wafa.gatherings.web import PAGES

    return PAGES


def _consumers(settings: Settings) -> Sequence[Consumer]:
    from wafa.gatherings.handlers import consumers

    return consumers(settings)


def _tasks() -> Sequence[Task]:
    from wafa.gatherings.jobs import tasks

    return tasks()


def _export(session: Session, customer_id: uuid.UUID) -> dict[str, Any]:
    from wafa.gatherings.service import personal_data

    return personal_data(session, customer_id)


def _erase(session: Session, settings: Settings, customer_id: uuid.UUID) -> None:
    from wafa.gatherings.service import erase

    erase(session, customer_id)


def _demo(session: Session, settings: Settings, seed: int) -> None:
    from wafa.gatherings.demo import populate

    populate(session, settings=settings, seed=seed)


GATHERINGS = Domain(
    name="gatherings",
    summary="Members-only events: invitations, RSVPs with capacity and waiting list, check-in.",
    models=(models,),
    events=events.EVENTS,
    api=_api,
    pages=_pages,
    consumers=_consumers,
    tasks=_tasks,
    personal_data=PersonalData(export=_export, erase=_erase),
    demo=_demo,
)
