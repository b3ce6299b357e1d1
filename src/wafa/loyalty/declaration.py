"""The loyalty domain: the points ledger, tiers, rewards, coupons, referrals, streaks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from wafa.core.domain import Domain, PersonalData, Task
from wafa.core.events import Consumer
from wafa.core.settings import Settings
from wafa.loyalty import events, models

if TYPE_CHECKING:
    from fastapi import APIRouter  # noqa: TID251 - a type only

    from wafa.web.pages import Pages


def _api() -> Sequence[APIRouter]:
    from wafa.loyalty.api import router
    from wafa.loyalty.bounceback.api import router as bounce_back
    from wafa.loyalty.surprise.api import router as surprises

    return (router, bounce_back, surprises)


def _pages() -> Pages:
    from wafa.loyalty.web import PAGES

    return PAGES


def _consumers(settings: Settings) -> Sequence[Consumer]:
    from wafa.loyalty.handlers import consumers

    return consumers(settings)


def _tasks() -> Sequence[Task]:
    from wafa.loyalty.jobs import tasks

    return tasks()


def _export(session: Session, customer_id: uuid.UUID) -> dict[str, object]:
    from wafa.loyalty.bounceback import service as bounce_back
    from wafa.loyalty.service import personal_data
    from wafa.loyalty.surprise import service as surprises

    return {
        **personal_data(session, customer_id),
        "surprises": surprises.personal_data(session, customer_id),
        "next_visit_offers": bounce_back.personal_data(session, customer_id),
    }


def _erase(session: Session, settings: Settings, customer_id: uuid.UUID) -> None:
    from wafa.loyalty.members import erase_member

    erase_member(session, settings=settings, customer_id=customer_id)


def _demo(session: Session, settings: Settings, seed: int) -> None:
    from wafa.loyalty.demo import populate

    populate(session, settings=settings, seed=seed)


LOYALTY = Domain(
    name="loyalty",
    summary="Points, stamp cards, tiers, rewards, coupons, birthdays, referrals, streaks.",
    models=(models,),
    events=events.EVENTS,
    api=_api,
    pages=_pages,
    consumers=_consumers,
    tasks=_tasks,
    personal_data=PersonalData(export=_export, erase=_erase),
    demo=_demo,
)
