"""Helpers for the partners tests: a partner with codes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from wafa.core.settings import Settings
from wafa.partners import service
from wafa.partners.models import Partner
from wafa.partners.schemas import CodesIssue, PartnerCreate


def partner(
    session: Session, settings: Settings, name: str = "Golden Bakery", **kw: Any
) -> Partner:
    values: dict[str, Any] = {
        "name": name,
        "offer": "A free pastry with any coffee",
        "offer_value": 350,
    }
    values.update(kw)
    return service.create_partner(session, settings=settings, data=PartnerCreate(**values))


def offer_codes(
    session: Session, settings: Settings, of: Partner, count: int = 1, **kw: Any
) -> list[str]:
    data = CodesIssue(direction="offer", count=count, **kw)
    issued = service.issue_codes(session, settings=settings, partner_id=of.id, data=data, by="t")
    return [c.code for c in issued]
