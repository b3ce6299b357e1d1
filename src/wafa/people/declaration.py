"""The people domain: whole-person operations and the pages that span domains."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from wafa.core.domain import Domain, Factory, IntervalTask, Task
from wafa.core.settings import Settings

if TYPE_CHECKING:
    from fastapi import APIRouter  # noqa: TID251 - a type only

    from wafa.web.pages import Pages


def _api() -> Sequence[APIRouter]:
    from wafa.people.api import router

    return (router,)


def _pages() -> Pages:
    from wafa.people.web import PAGES

    return PAGES


def _expire_idempotency(factory: Factory, _: Settings) -> dict[str, int]:
    from wafa.auth import idempotency

    with factory() as session, session.begin():
        return {"expired": idempotency.expire(session)}


def _tasks() -> Sequence[Task]:
    # Stored answers to ``Idempotency-Key`` requests are copies of responses that can
    # name a person; they are kept only as long as a client may retry (24 hours).
    return [IntervalTask("idempotency-expiry", every=900.0, run=_expire_idempotency)]


PEOPLE = Domain(
    name="people",
    summary="Merge, export and erase a person across domains; the overview and the profile.",
    api=_api,
    pages=_pages,
    tasks=_tasks,
)
