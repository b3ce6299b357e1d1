"""Releasing pending points, paying what is owed from released points, moving a ledger on merge."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from wafa.core.ids import new_id
from wafa.loyalty.ledger.accounts import _move, account
from wafa.loyalty.ledger.booking import (
    SPEND_ORDER,
    LotSpec,
    _allocate,
    _entry_row,
    _insert_entry,
    credit,
    settle_debts,
    take_back,
)
from wafa.loyalty.models import (
    EntryKind,
    PointsLot,
)
from wafa.loyalty.schemas.program import RefundPolicy


def release_due(session: Session, customer_id: uuid.UUID, *, now: datetime) -> int:
    """Move the member's lots whose pending period is over to available; returns the points.

    Safe without the member's lock: the guarded ``UPDATE … WHERE NOT released`` lets
    exactly one writer release each lot.
    """
    rows = session.execute(
        update(PointsLot)
        .where(
            PointsLot.customer_id == customer_id,
            PointsLot.released.is_(False),
            PointsLot.available_at <= now,
        )
        .values(released=True)
        .returning(PointsLot.remaining)
        .execution_options(synchronize_session=False)
    ).all()
    if not rows:
        return 0
    points = sum(int(r[0]) for r in rows)
    _move(session, customer_id, available=points, pending=-points)
    if points:
        settle_debts(session, customer_id, now=now)
    return points


def transfer_all(
    session: Session, *, loser_id: uuid.UUID, winner_id: uuid.UUID, occasion: str, now: datetime
) -> int:
    """Move everything on the loser's ledger to the winner's (a merge); returns the points moved.

    The loser gets one ``merge_out`` debit emptying every open lot (and clearing its
    carried points and lifetime); the winner one ``merge_in`` credit with the same
    lots (same points left, release and expiry instants, origins). A debt moves as a
    ``merge_debt`` pair: the loser's is paid by a credit, the winner's booked as debt.
    Both accounts must be locked by the caller.
    """
    lots = session.execute(
        select(
            PointsLot.id,
            PointsLot.remaining,
            PointsLot.released,
            PointsLot.available_at,
            PointsLot.expires_at,
            PointsLot.origin_entry_id,
        )
        .where(PointsLot.customer_id == loser_id, PointsLot.remaining > 0)
        .order_by(*SPEND_ORDER)
    ).all()
    acct = account(session, loser_id)
    if acct is None:
        return 0
    moved = sum(int(r[1]) for r in lots)
    lifetime, carried, debt = acct.lifetime, acct.carried, acct.debt
    details_out = {"lifetime": lifetime, "to": str(winner_id)}
    details_in = {"lifetime": lifetime, "from": str(loser_id)}
    if moved or lifetime or carried:
        out_row = _entry_row(
            customer_id=loser_id,
            kind=EntryKind.adjust,
            points=-moved,
            reason="merge_out",
            occasion=occasion,
            now=now,
            carried=-carried,
            details=details_out,
        )
        if not _insert_entry(session, out_row):
            return 0
        released, pending = _allocate(
            session, entry_id=out_row["id"], plan=[(r[0], int(r[1])) for r in lots], now=now
        )
        _move(
            session,
            loser_id,
            available=-released,
            pending=-pending,
            carried=-carried,
            lifetime=-lifetime,
        )
        in_row = _entry_row(
            customer_id=winner_id,
            kind=EntryKind.adjust,
            points=moved,
            reason="merge_in",
            occasion=occasion,
            now=now,
            carried=carried,
            details=details_in,
        )
        _insert_entry(session, in_row)
        session.execute(
            insert(PointsLot),
            [
                {
                    "id": new_id(),
                    "customer_id": winner_id,
                    "entry_id": in_row["id"],
                    "origin_entry_id": r[5],
                    "points": int(r[1]),
                    "remaining": int(r[1]),
                    "available_at": r[3],
                    "expires_at": r[4],
                    "released": bool(r[2]),
                    "created_at": now,
                }
                for r in lots
            ],
        ) if lots else None
        _move(
            session,
            winner_id,
            available=sum(int(r[1]) for r in lots if r[2]),
            pending=sum(int(r[1]) for r in lots if not r[2]),
            carried=carried,
            lifetime=lifetime,
        )
    if debt:
        credit(
            session,
            customer_id=loser_id,
            kind=EntryKind.adjust,
            reason="merge_debt",
            occasion=occasion,
            lots=[LotSpec(debt, now, None)],
            now=now,
        )
        take_back(
            session,
            customer_id=winner_id,
            points=debt,
            kind=EntryKind.adjust,
            reason="merge_debt",
            occasion=occasion,
            policy=RefundPolicy.negative_balance,
            now=now,
        )
    settle_debts(session, winner_id, now=now)
    return moved
