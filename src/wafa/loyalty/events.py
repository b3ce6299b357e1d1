"""Topics loyalty writes to the outbox, for the messaging that comes next."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from wafa.core.ids import new_id
from wafa.core.outbox import OutboxEvent
from wafa.core.time import utcnow

POINTS_EARNED = "points.earned"
POINTS_EXPIRING = "points.expiring"
TIER_CHANGED = "tier.changed"
REWARD_REDEEMED = "reward.redeemed"
COUPON_ISSUED = "coupon.issued"
REFERRAL_REWARDED = "referral.rewarded"
BADGE_EARNED = "badge.earned"
BIRTHDAY_REWARD_GRANTED = "birthday.reward_granted"

ALL = (
    POINTS_EARNED,
    POINTS_EXPIRING,
    TIER_CHANGED,
    REWARD_REDEEMED,
    COUPON_ISSUED,
    REFERRAL_REWARDED,
    BADGE_EARNED,
    BIRTHDAY_REWARD_GRANTED,
)


_EVENTS = cast(Table, OutboxEvent.__table__)
_INSERT = insert(_EVENTS)


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def emit(
    session: Session, topic: str, payload: Mapping[str, Any], *, subject_id: uuid.UUID | None
) -> None:
    """Write an event to the outbox now, in the caller's transaction (one Core ``INSERT``).

    The same row ``wafa.core.outbox.emit`` writes, without the ORM unit of work:
    loyalty emits on its hot path (an event per accrued order).
    """
    session.execute(
        _INSERT,
        {
            "id": new_id(),
            "topic": topic,
            "subject_id": subject_id,
            "payload": _jsonable(payload),
            "occurred_at": utcnow(),
        },
    )
