"""The integrations domain: live shops' webhooks in (Shopify, WooCommerce)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from wafa.core.domain import Domain, IntervalTask, Task
from wafa.core.settings import Settings
from wafa.integrations import models

if TYPE_CHECKING:
    from fastapi import APIRouter  # noqa: TID251 - a type only

    from wafa.web.pages import Pages


def _api() -> Sequence[APIRouter]:
    from wafa.integrations.api import router

    return (router,)


def _pages() -> Pages:
    from wafa.integrations.web import PAGES

    return PAGES


def _purge(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    from wafa.integrations.intake import purge_bodies

    with factory() as session, session.begin():
        return {"bodies_cleared": purge_bodies(session)}


def _tasks() -> Sequence[Task]:
    return (IntervalTask("integrations.purge_bodies", 3600.0, _purge),)


INTEGRATIONS = Domain(
    name="integrations",
    summary="Live shops: Shopify and WooCommerce webhooks in, applied as orders and customers.",
    models=(models,),
    api=_api,
    pages=_pages,
    tasks=_tasks,
)
