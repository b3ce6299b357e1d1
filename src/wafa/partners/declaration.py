"""The partners domain: neighbouring businesses, their codes both ways, their page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from wafa.core.domain import Domain, IntervalTask, PersonalData, Task
from wafa.core.events import Consumer
from wafa.core.settings import Settings
from wafa.partners import models, service

if TYPE_CHECKING:
    from fastapi import APIRouter  # noqa: TID251 - a type only

    from wafa.web.pages import Pages


def _api() -> Sequence[APIRouter]:
    from wafa.partners.api import router

    return (router,)


def _pages() -> Pages:
    from wafa.partners.web import PAGES

    return PAGES


def _consumers(settings: Settings) -> Sequence[Consumer]:
    from wafa.partners.handlers import consumers

    return consumers(settings)


def _prune(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    with factory() as session, session.begin():
        return service.prune(session)


def _tasks() -> Sequence[Task]:
    return (IntervalTask("partners.cleanup", 3600.0, _prune),)


PARTNERS = Domain(
    name="partners",
    summary=(
        "Neighbouring businesses: their offer's codes checked and used on their own page, "
        "reciprocal codes bringing their customers here, a monthly statement."
    ),
    models=(models,),
    api=_api,
    pages=_pages,
    consumers=_consumers,
    tasks=_tasks,
    personal_data=PersonalData(export=service.export_customer, erase=service.forget_customer),
)
