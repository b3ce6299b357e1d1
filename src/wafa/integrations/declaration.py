"""The integrations domain: live shops' webhooks in (Shopify, WooCommerce)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from wafa.core.domain import Domain, IntervalTask, Task
from wafa.core.events import Consumer, Handles
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


def _send(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    from wafa.integrations.outbound import send_due

    return send_due(factory, settings)


def _notify(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    from wafa.integrations.outbound import notify_disabled

    return notify_disabled(factory, settings)


def _tasks() -> Sequence[Task]:
    return (
        IntervalTask("integrations.purge_bodies", 3600.0, _purge),
        IntervalTask("integrations.webhooks_send", 0.5, _send),
        IntervalTask("integrations.webhook_notices", 60.0, _notify),
    )


def _consumers(settings: Settings) -> Sequence[Consumer]:
    """Outbound webhooks read every event the program declares (built when the worker is)."""
    from wafa.integrations.outbound import event_types, fan_out

    handlers = tuple(Handles(kind, fan_out) for kind in event_types().values())
    return (Consumer("integrations-webhooks", handlers),)


INTEGRATIONS = Domain(
    name="integrations",
    summary=(
        "Live shops: Shopify and WooCommerce webhooks in, applied as orders and customers; "
        "Wafa's events out as signed webhooks."
    ),
    models=(models,),
    api=_api,
    pages=_pages,
    tasks=_tasks,
    consumers=_consumers,
)
