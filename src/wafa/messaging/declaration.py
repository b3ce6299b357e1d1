"""The messaging domain: channels, templates, consent and suppression, the send pipeline,
segments (and, in its own subpackage, campaigns)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from wafa.core.domain import Domain, PersonalData, Task
from wafa.core.events import Consumer
from wafa.core.settings import Settings
from wafa.messaging import events, models
from wafa.messaging.campaigns import models as campaign_models
from wafa.messaging.segments import models as segment_models

if TYPE_CHECKING:
    from fastapi import APIRouter  # noqa: TID251 - a type only

    from wafa.web.pages import Pages


def _api() -> Sequence[APIRouter]:
    from wafa.messaging.api import router
    from wafa.messaging.campaigns.api import router as campaigns
    from wafa.messaging.segments.api import router as segments
    from wafa.messaging.surprises.api import router as surprises

    return (router, segments, campaigns, surprises)


def _pages() -> Pages:
    from wafa.messaging.web import PAGES

    return PAGES


def _consumers(settings: Settings) -> Sequence[Consumer]:
    from wafa.messaging.handlers import consumers
    from wafa.messaging.segments.handlers import consumers as segment_consumers

    return [*consumers(settings), *segment_consumers(settings)]


def _tasks() -> Sequence[Task]:
    from wafa.messaging.campaigns.jobs import tasks as campaign_tasks
    from wafa.messaging.jobs import tasks
    from wafa.messaging.segments.jobs import tasks as segment_tasks

    # Campaigns queue their recipients before the pass sends what is due.
    return [*campaign_tasks(), *tasks(), *segment_tasks()]


def _export(session: Session, customer_id: uuid.UUID) -> dict[str, object]:
    from wafa.messaging.preferences import personal_data

    return personal_data(session, customer_id)


def _erase(session: Session, settings: Settings, customer_id: uuid.UUID) -> None:
    # Runs while the record still holds the addresses: they go on the suppression list as
    # keyed hashes, so an erased person is never messaged again after an import.
    from wafa.customers import service as customers
    from wafa.messaging.preferences import before_erase

    before_erase(session, customers.get_customer(session, customer_id))


MESSAGING = Domain(
    name="messaging",
    summary=(
        "Email, SMS and WhatsApp: consent, suppression, templates, the send pipeline, segments,"
        " campaigns."
    ),
    models=(models, segment_models, campaign_models),
    events=events.EVENTS,
    api=_api,
    pages=_pages,
    consumers=_consumers,
    tasks=_tasks,
    personal_data=PersonalData(export=_export, erase=_erase),
)
