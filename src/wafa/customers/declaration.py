"""The customers domain: one record per person, identity matching, consent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from wafa.core.domain import Domain, Factory, IntervalTask, Task
from wafa.core.settings import Settings
from wafa.customers import events, models

if TYPE_CHECKING:
    from fastapi import APIRouter  # noqa: TID251 - a type only

    from wafa.web.pages import Pages


def _api() -> Sequence[APIRouter]:
    from wafa.customers.api import router

    return (router,)


def _pages() -> Pages:
    from wafa.customers.web import PAGES

    return PAGES


def _scan_duplicates(factory: Factory, settings: Settings) -> dict[str, int]:
    from wafa.customers import duplicates

    with factory() as session, session.begin():
        return {"possible duplicates found": duplicates.scan(session)}


def _tasks() -> Sequence[Task]:
    # Once a day: finding a pair again changes nothing (a unique key).
    return (IntervalTask(name="customers.duplicates", every=24 * 3600, run=_scan_duplicates),)


CUSTOMERS = Domain(
    name="customers",
    summary="Customer records, matching by email and phone, consent per channel.",
    models=(models,),
    events=events.EVENTS,
    api=_api,
    pages=_pages,
    tasks=_tasks,
)
