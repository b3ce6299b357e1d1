"""What a page built from a member's loyalty status may be cached on, and until when.

A member's ``status`` and ``offers`` (balance, lots, tier, stamps, badges, coupons, the
rewards they may take) are a function of three things:

* the member's rows: ``loyalty_accounts.version`` goes up on every change of the account
  row or of any of the member's entries, lots, coupons, stamp progress, badges, purchases
  and redemptions. The database raises it (triggers, migration ``c7d1e2f3a4b5``), so no
  writer can forget to. A customer without an account has no version: nothing built for
  them may be cached;
* the catalogue: ``loyalty_catalogue_version`` goes up on every change of the rewards,
  the stamp cards and the program's versions, raised the same way (its one row is
  written back by the next change if it was deleted; while it is missing there is no
  catalogue version, and nothing may be cached);
* the clock: the business's local day (periods, tier windows, streaks, the dates shown)
  and, within a day, the instants at which something the member holds starts or stops
  counting (:func:`next_change`).

A reader that holds a page built at versions ``(m, c)`` on local day ``d`` before
:func:`next_change` may show it again while it reads ``(m, c)`` on day ``d`` before that
instant.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, and_, func, select
from sqlalchemy.orm import Session

from wafa.loyalty.models import (
    CatalogueVersion,
    Coupon,
    LoyaltyAccount,
    PointsLot,
    ProgramVersion,
    Reward,
    StampCard,
)
from wafa.loyalty.service import EXPIRING_HORIZON

__all__ = ["catalogue_version", "member_version", "next_change"]


def member_version(customer_id: Any) -> ScalarSelect[int | None]:
    """The member's version as a scalar subquery (``None``: no account), for a reader's
    own first statement; ``customer_id`` is a column or a value."""
    return (
        select(LoyaltyAccount.version)
        .where(LoyaltyAccount.customer_id == customer_id)
        .scalar_subquery()
    )


def catalogue_version() -> ScalarSelect[int | None]:
    """The catalogue's version as a scalar subquery."""
    return select(CatalogueVersion.version).where(CatalogueVersion.id == 1).scalar_subquery()


def next_change(session: Session, *, customer_id: uuid.UUID, now: datetime) -> datetime | None:
    """The first instant after ``now`` at which the member's status or offers may change
    with no write at all (``None``: none within the day's changes).

    Pending points become spendable (``available_at``); lots enter the expiring horizon
    (``expires_at - EXPIRING_HORIZON``) and lapse; coupons start and stop being usable;
    rewards and stamp cards start and end; a saved program version comes into force.
    Changes of the local day are the caller's to watch (the day is part of its key).
    """
    mine = and_(PointsLot.customer_id == customer_id, PointsLot.remaining > 0)
    later = [
        select(func.min(PointsLot.available_at)).where(
            mine, PointsLot.released.is_(False), PointsLot.available_at > now
        ),
        select(func.min(PointsLot.expires_at)).where(mine, PointsLot.expires_at > now),
        select(func.min(Coupon.valid_from)).where(
            Coupon.customer_id == customer_id, Coupon.valid_from > now
        ),
        select(func.min(Coupon.expires_at)).where(
            Coupon.customer_id == customer_id, Coupon.expires_at > now
        ),
        select(func.min(Reward.valid_from)).where(Reward.valid_from > now),
        select(func.min(Reward.valid_until)).where(Reward.valid_until > now),
        select(func.min(StampCard.valid_from)).where(StampCard.valid_from > now),
        select(func.min(StampCard.valid_until)).where(StampCard.valid_until > now),
        select(func.min(ProgramVersion.effective_from)).where(ProgramVersion.effective_from > now),
    ]
    entering = select(func.min(PointsLot.expires_at)).where(
        mine, PointsLot.expires_at > now + EXPIRING_HORIZON
    )
    row = session.execute(
        select(*(q.scalar_subquery() for q in later), entering.scalar_subquery())
    ).one()
    instants: list[datetime] = [t for t in row[:-1] if t is not None]
    if row[-1] is not None:
        instants.append(row[-1] - EXPIRING_HORIZON)
    return min(instants) if instants else None
