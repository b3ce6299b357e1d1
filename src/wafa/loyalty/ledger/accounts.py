"""The member's account: the cached balance row, its lock, its one-statement updates."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Row,
    Table,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from wafa.core.calendars import local_date
from wafa.core.db import dialect_name, insert_ignoring_conflicts
from wafa.core.errors import Conflict
from wafa.customers.models import Customer
from wafa.loyalty.models import (
    LoyaltyAccount,
    PointsEntry,
    PointsLot,
)


class InsufficientPoints(Conflict):
    code = "insufficient-points"
    title = "Not enough points"


_ACCOUNTS = cast(Table, LoyaltyAccount.__table__)


_ENTRIES = cast(Table, PointsEntry.__table__)


_LOTS = cast(Table, PointsLot.__table__)


# Built once: the hot path (one purchase) executes these with parameters only.
# ``FOR UPDATE`` takes the member's row lock without writing a new row version
# (SQLite needs none: a write transaction there holds the database's write lock).
_LOCK_AND_READ = (
    select(*_ACCOUNTS.c).where(_ACCOUNTS.c.customer_id == bindparam("b_cid")).with_for_update()
)


_INSERT_ENTRIES = insert(_ENTRIES)


_INSERT_LOTS = insert(_LOTS)


@dataclass
class Delta:
    """Changes to an account's balance columns, applied in one ``UPDATE`` at the end."""

    available: int = 0
    pending: int = 0
    lifetime: int = 0
    carried: int = 0
    debt: int = 0

    def __bool__(self) -> bool:
        return any((self.available, self.pending, self.lifetime, self.carried, self.debt))


def _account_values(customer_id: uuid.UUID, joined: date, now: datetime) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "available": 0,
        "pending": 0,
        "lifetime": 0,
        "carried": 0,
        "debt": 0,
        "lock_version": 0,
        "joined_on": joined,
        "visits": 0,
        "streak_current": 0,
        "streak_best": 0,
        "leaderboard_opt_in": False,
        "spend": 0,
        "categories": [],
        "badge_codes": [],
        "created_at": now,
        "updated_at": now,
    }


def _joined(session: Session, customer_id: uuid.UUID, zone: ZoneInfo, now: datetime) -> date:
    created = session.scalar(select(Customer.created_at).where(Customer.id == customer_id))
    return local_date(created or now, zone)


_NEW_ACCOUNT: dict[str, Any] = {}


def _new_account(session: Session, *, returning: bool) -> Any:
    key = f"{dialect_name(session)}:{returning}"
    stmt = _NEW_ACCOUNT.get(key)
    if stmt is None:
        stmt = insert_ignoring_conflicts(session, _ACCOUNTS, index_elements=["customer_id"])
        if returning:
            stmt = stmt.returning(*_ACCOUNTS.c)
        _NEW_ACCOUNT[key] = stmt
    return stmt


def _new_account_row(
    session: Session, customer_id: uuid.UUID, zone: ZoneInfo, now: datetime
) -> None:
    joined = _joined(session, customer_id, zone, now)
    session.execute(
        _new_account(session, returning=False), _account_values(customer_id, joined, now)
    )


def lock_account(
    session: Session, customer_id: uuid.UUID, *, zone: ZoneInfo, now: datetime
) -> None:
    """Create the member's account if needed and take its row lock for this transaction."""
    lock_and_read(session, customer_id, zone=zone, now=now)


def lock_and_read(
    session: Session,
    customer_id: uuid.UUID,
    *,
    zone: ZoneInfo,
    now: datetime,
    joined_on: date | None = None,
) -> Row[Any]:
    """Take the member's row lock and read the account in the same statement.

    A new member's row is created by ``INSERT … RETURNING`` (its insert is the lock);
    ``joined_on`` saves reading the customer's creation day when the caller knows it.
    """
    params = {"b_cid": customer_id}
    row = session.execute(_LOCK_AND_READ, params).first()
    if row is None:
        joined = joined_on or _joined(session, customer_id, zone, now)
        row = session.execute(
            _new_account(session, returning=True), _account_values(customer_id, joined, now)
        ).first()
        if row is None:  # created by a concurrent writer a moment ago
            row = session.execute(_LOCK_AND_READ, params).first()
    assert row is not None
    return row


_FINISH_PURCHASE = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.customer_id == bindparam("b_cid"))
    .values(
        available=_ACCOUNTS.c.available + bindparam("b_available"),
        pending=_ACCOUNTS.c.pending + bindparam("b_pending"),
        lifetime=_ACCOUNTS.c.lifetime + bindparam("b_lifetime"),
        visits=bindparam("b_visits"),
        spend=bindparam("b_spend"),
        last_purchase_on=bindparam("b_last"),
        categories=bindparam("b_categories"),
        streak_current=bindparam("b_streak"),
        streak_best=bindparam("b_best"),
        streak_period=bindparam("b_period"),
    )
)


def finish_purchase(
    session: Session,
    customer_id: uuid.UUID,
    delta: Delta,
    *,
    visits: int,
    spend: int,
    last_purchase_on: date | None,
    categories: list[str],
    streak: tuple[int, int, int | None],
) -> None:
    """A purchase's one write to the account: balance deltas and the member's counts.

    The counts are absolute values computed from the row read under the lock.
    """
    session.execute(
        _FINISH_PURCHASE,
        {
            "b_cid": customer_id,
            "b_available": delta.available,
            "b_pending": delta.pending,
            "b_lifetime": delta.lifetime,
            "b_visits": visits,
            "b_spend": spend,
            "b_last": last_purchase_on,
            "b_categories": categories,
            "b_streak": streak[0],
            "b_best": streak[1],
            "b_period": streak[2],
        },
    )


def apply(session: Session, customer_id: uuid.UUID, delta: Delta, **values: Any) -> None:
    """Apply ``delta`` to the balance columns and set ``values``, in one ``UPDATE``."""
    changes: dict[str, Any] = dict(values)
    for name in ("available", "pending", "lifetime", "carried", "debt"):
        amount = getattr(delta, name)
        if amount:
            changes[name] = _ACCOUNTS.c[name] + amount
    if changes:
        session.execute(
            update(_ACCOUNTS).where(_ACCOUNTS.c.customer_id == customer_id).values(**changes)
        )


def lock_accounts(session: Session, customer_ids: Iterable[uuid.UUID]) -> None:
    """Lock several existing accounts, in id order (two writers never wait on each other)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    if dialect_name(session) == "postgresql":
        session.execute(
            select(LoyaltyAccount.customer_id)
            .where(LoyaltyAccount.customer_id.in_(ids))
            .order_by(LoyaltyAccount.customer_id)
            .with_for_update()
        ).all()


def ensure_account(
    session: Session, customer_id: uuid.UUID, *, zone: ZoneInfo, now: datetime
) -> None:
    """Create the member's account if it does not exist (no lock taken)."""
    exists = session.scalar(
        select(LoyaltyAccount.customer_id).where(LoyaltyAccount.customer_id == customer_id)
    )
    if exists is None:
        _new_account_row(session, customer_id, zone, now)


def account(session: Session, customer_id: uuid.UUID) -> LoyaltyAccount | None:
    """The member's account as stored now (refreshed, never a stale copy)."""
    return session.scalars(
        select(LoyaltyAccount)
        .where(LoyaltyAccount.customer_id == customer_id)
        .execution_options(populate_existing=True)
    ).one_or_none()


def _move(
    session: Session,
    customer_id: uuid.UUID,
    *,
    available: int = 0,
    pending: int = 0,
    lifetime: int = 0,
    carried: int = 0,
    debt: int = 0,
) -> None:
    values: dict[str, Any] = {}
    if available:
        values["available"] = LoyaltyAccount.available + available
    if pending:
        values["pending"] = LoyaltyAccount.pending + pending
    if lifetime:
        values["lifetime"] = LoyaltyAccount.lifetime + lifetime
    if carried:
        values["carried"] = LoyaltyAccount.carried + carried
    if debt:
        values["debt"] = LoyaltyAccount.debt + debt
    if values:
        session.execute(
            update(LoyaltyAccount)
            .where(LoyaltyAccount.customer_id == customer_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
