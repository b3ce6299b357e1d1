"""The portal domain: the customer's own pages, reached by signed links."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from wafa.core.domain import Domain, PersonalData, Task
from wafa.portal import access, models

if TYPE_CHECKING:
    from fastapi import APIRouter  # noqa: TID251 - a type only

    from wafa.web.pages import Pages


def _api() -> Sequence[APIRouter]:
    from wafa.portal.api import router

    return (router,)


def _pages() -> Pages:
    from wafa.portal.web import PAGES

    return PAGES


def _tasks() -> Sequence[Task]:
    from wafa.portal.jobs import tasks

    return tasks()


PORTAL = Domain(
    name="portal",
    summary="The customer's own pages: points, rewards, history, preferences, their data.",
    models=(models,),
    api=_api,
    pages=_pages,
    tasks=_tasks,
    personal_data=PersonalData(erase=access.forget),
)
