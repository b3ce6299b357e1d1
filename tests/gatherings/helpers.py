"""Helpers for the gatherings tests: a segment of customers in one city and an event."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from tests.messaging.helpers import subscriber
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.gatherings import service
from wafa.gatherings.models import Gathering
from wafa.gatherings.schemas import GatheringCreate
from wafa.messaging.segments import service as segments
from wafa.messaging.segments.models import Segment
from wafa.messaging.segments.rules import parse_rules
from wafa.messaging.segments.schemas import SegmentCreate


def city_segment(session: Session, settings: Settings, city: str = "Shiraz") -> Segment:
    return segments.create_segment(
        session,
        settings=settings,
        data=SegmentCreate(
            name=f"In {city}",
            rules=parse_rules({"all": [{"field": "city", "op": "=", "value": city}]}),
        ),
        by="test",
    )


def people(session: Session, n: int, city: str = "Shiraz", **kw: Any) -> list[Customer]:
    """``n`` customers in ``city`` who agreed to marketing email and SMS."""
    return [subscriber(session, city=city, **kw) for _ in range(n)]


def gathering(
    session: Session,
    settings: Settings,
    *,
    segment: Segment | None = None,
    starts_at: datetime | None = None,
    **kw: Any,
) -> Gathering:
    starts = starts_at or (utcnow() + timedelta(days=10)).replace(microsecond=0)
    values: dict[str, Any] = {
        "name_en": "Tasting evening",
        "name_fa": "شب چشیدن قهوه",
        "name_ar": "أمسية تذوق",
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=2),
        "place": "The shop, Zand street",
        "capacity": 3,
        "segment_id": segment.id if segment else None,
        "points": 50,
    }
    values.update(kw)
    return service.create_gathering(
        session, settings=settings, data=GatheringCreate(**values), by="test"
    )


def invited(
    session: Session, settings: Settings, n: int = 5, *, language: str | None = None, **kw: Any
) -> tuple[Gathering, list[Customer]]:
    """A gathering (capacity 3 unless told) with ``n`` customers of its segment invited."""
    segment = city_segment(session, settings)
    members = people(session, n, **({"language": language} if language else {}))
    g = gathering(session, settings, segment=segment, **kw)
    service.send_invitations(session, gathering_id=g.id)
    service.invite_batch(session, settings=settings, gathering_id=g.id, limit=1000)
    session.refresh(g)
    return g, members
