"""Grant a loyalty surprise rule to the members of a messaging segment, now."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty.surprise import service as surprises
from wafa.messaging.segments import service as segments


def grant_to_segment(
    session: Session,
    *,
    settings: Settings,
    rule_id: uuid.UUID,
    segment_id: uuid.UUID,
    by: str | None,
) -> surprises.GrantRun:
    """Give a segment rule to everyone the segment selects now.

    The occasion is the segment and the quarter of the business calendar
    (``segment:<id>:2026-Q4``): a second run in the same quarter gives nobody a second
    surprise, and only the members who joined the segment since get one. The rule's
    monthly budget stops the run where it runs out (``over_budget`` counts who got none).
    """
    segment = segments.get_live_segment(session, segment_id)
    ids = list(
        session.scalars(
            segments.members_query(session, settings=settings, rules=segments.stored_rules(segment))
        )
    )
    occasion = f"segment:{segment.id}:{surprises.quarter_of(utcnow(), settings)}"
    return surprises.grant_to_customers(
        session, settings=settings, rule_id=rule_id, customer_ids=ids, occasion=occasion, by=by
    )
