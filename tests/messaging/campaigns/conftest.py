"""Campaign fixtures: subscribers in a city, a saved segment of them, queuing to the end."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from tests.cli.conftest import wafa  # noqa: F401 - re-exported fixture
from tests.messaging.helpers import subscriber
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.messaging.campaigns import service
from wafa.messaging.campaigns.models import Campaign
from wafa.messaging.campaigns.schemas import CampaignCreate
from wafa.messaging.segments import service as segments
from wafa.messaging.segments.schemas import SegmentCreate

SHIRAZ = {"all": [{"field": "city", "op": "=", "value": "Shiraz"}]}


def audience(session: Session, n: int, *, city: str = "Shiraz", **extra: Any) -> list[Customer]:
    """``n`` customers in ``city`` who agreed to marketing email and SMS."""
    tag = uuid.uuid4().hex[:6]
    return [
        subscriber(
            session,
            name=f"Sara {tag}{i}",
            email=f"sara-{tag}-{i}@example.com",
            city=city,
            **extra,
        )
        for i in range(n)
    ]


def segment_of(session: Session, settings: Settings, rules: dict[str, Any] = SHIRAZ) -> uuid.UUID:
    data = SegmentCreate.model_validate({"name": f"Shiraz {uuid.uuid4().hex[:6]}", "rules": rules})
    return segments.create_segment(session, settings=settings, data=data, by="test").id


def draft(session: Session, settings: Settings, segment_id: uuid.UUID, **fields: Any) -> Campaign:
    values: dict[str, Any] = {
        "name": "Spring news",
        "segment_id": segment_id,
        "channel": "email",
        "subject": {
            "en": "Spring, {{ customer.first_name }}",
            "fa": "بهار {{ customer.first_name }}",
        },
        "body": {"en": "Hello {{ customer.first_name }}", "fa": "سلام {{ customer.first_name }}"},
    }
    values.update(fields)
    return service.create_campaign(
        session, settings=settings, data=CampaignCreate.model_validate(values), by="test"
    )


def queue_all(
    session: Session, settings: Settings, campaign_id: uuid.UUID, *, batch: int = 1000
) -> int:
    """What the worker's task does, in the test's transaction: queue batch after batch."""
    total = 0
    while handled := service.queue_next_batch(
        session, settings=settings, campaign_id=campaign_id, batch=batch
    ):
        total += handled
    return total
