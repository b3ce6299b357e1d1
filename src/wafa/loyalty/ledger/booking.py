"""Booking entries: credits open lots, debits are allocated to lots (oldest to expire first).

About 610 lines: credits and debits share the lot allocation they must keep consistent;
the module is the ledger's one writer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    Table,
    bindparam,
    case,
    func,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from wafa.core.db import insert_new, rowcount
from wafa.core.errors import Conflict
from wafa.core.ids import new_id
from wafa.loyalty.ledger.accounts import (
    _ENTRIES,
    _INSERT_ENTRIES,
    _INSERT_LOTS,
    _LOTS,
    Delta,
    InsufficientPoints,
    _move,
)
from wafa.loyalty.models import (
    EntryKind,
    LoyaltyAccount,
    PointsAllocation,
    PointsEntry,
    PointsLot,
)
from wafa.loyalty.schemas.program import RefundPolicy

# Oldest to expire first; points that never expire last; then oldest earned.
SPEND_ORDER = (
    case((PointsLot.expires_at.is_(None), 1), else_=0),
    PointsLot.expires_at,
    PointsLot.available_at,
    PointsLot.id,
)


@dataclass(frozen=True)
class LotSpec:
    """A lot to open: its points, when they become spendable and when they lapse."""

    points: int
    available_at: datetime
    expires_at: datetime | None
    origin_entry_id: uuid.UUID | None = None  # ``None``: the new entry itself


@dataclass
class Booked:
    """What a debit did: the entry, and how its points were found."""

    entry_id: uuid.UUID | None
    posted: int = 0  # points booked (positive number)
    from_available: int = 0
    from_pending: int = 0
    uncovered: int = 0  # booked but covered by no lot (debt)
    carried: int = 0
    forgiven: int = 0
    lots: list[tuple[uuid.UUID, int]] = field(default_factory=list)


_MANY: dict[tuple[str, int, tuple[str, ...]], Any] = {}


def _insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` in one statement, compiled once per (table, row count, columns).

    ``INSERT … SELECT … UNION ALL SELECT …`` of typed parameters: one round trip,
    and unlike a multi-row ``VALUES`` (which SQLAlchemy never caches) it is compiled
    once and then executed with parameters only.
    """
    if len(rows) == 1:
        session.execute(_INSERT_ENTRIES if table is _ENTRIES else _INSERT_LOTS, rows[0])
        return
    columns = tuple(rows[0])
    key = (table.name, len(rows), columns)
    stmt = _MANY.get(key)
    if stmt is None:
        selects = [
            select(*[bindparam(f"{c}_{i}", type_=table.c[c].type).label(c) for c in columns])
            for i in range(len(rows))
        ]
        stmt = insert(table).from_select(list(columns), union_all(*selects))
        _MANY[key] = stmt
    session.execute(stmt, {f"{c}_{i}": row[c] for i, row in enumerate(rows) for c in columns})


@dataclass(frozen=True)
class Award:
    """One earn entry of a purchase: its rule, points and lot."""

    rule: str
    points: int
    available_at: datetime
    expires_at: datetime | None


def credit_awards(
    session: Session,
    *,
    customer_id: uuid.UUID,
    awards: Sequence[Award],
    reason: str,
    occasion: str,
    now: datetime,
    delta: Delta,
    rule_version: int | None = None,
    order_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
    booked_at: datetime | None = None,
) -> None:
    """Book a purchase's earn entries and lots in two statements; balances go into ``delta``.

    The caller has claimed the occasion already (the purchase row), so the entries'
    unique key can only fire on a bug, and then the whole transaction fails.
    ``booked_at`` dates the entries (an imported order's, at the order); what is
    released is still judged at ``now``.
    """
    dated = booked_at or now
    entries, lots = [], []
    for award in awards:
        entry_id = new_id()
        entries.append(
            _entry_row(
                customer_id=customer_id,
                kind=EntryKind.earn,
                points=award.points,
                reason=reason,
                occasion=f"{occasion}:{award.rule}",
                now=dated,
                rule=award.rule,
                rule_version=rule_version,
                order_id=order_id,
                details=details,
            )
            | {"id": entry_id}
        )
        released = award.available_at <= now
        lots.append(
            {
                "id": new_id(),
                "customer_id": customer_id,
                "entry_id": entry_id,
                "origin_entry_id": entry_id,
                "points": award.points,
                "remaining": award.points,
                "available_at": award.available_at,
                "expires_at": award.expires_at,
                "released": released,
                "created_at": dated,
            }
        )
        if released:
            delta.available += award.points
        else:
            delta.pending += award.points
        delta.lifetime += award.points
    if entries:
        _insert_rows(session, _ENTRIES, entries)
        _insert_rows(session, _LOTS, lots)


def _insert_entry(session: Session, row: dict[str, Any]) -> bool:
    """Insert an entry unless its ``(customer, reason, occasion)`` is booked already."""
    return insert_new(
        session, PointsEntry, index_elements=["customer_id", "reason", "occasion"], values=row
    )


def _entry_row(
    *,
    customer_id: uuid.UUID,
    kind: EntryKind,
    points: int,
    reason: str,
    occasion: str,
    now: datetime,
    rule: str | None = None,
    rule_version: int | None = None,
    order_id: uuid.UUID | None = None,
    refund_id: uuid.UUID | None = None,
    redemption_id: uuid.UUID | None = None,
    note: str | None = None,
    created_by: str | None = None,
    details: dict[str, Any] | None = None,
    carried: int = 0,
    forgiven: int = 0,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "customer_id": customer_id,
        "kind": str(kind),
        "points": points,
        "carried": carried,
        "forgiven": forgiven,
        "reason": reason,
        "occasion": occasion[:160],
        "rule": rule,
        "rule_version": rule_version,
        "order_id": order_id,
        "refund_id": refund_id,
        "redemption_id": redemption_id,
        "note": note,
        "created_by": created_by,
        "created_at": now,
        "details": details,
    }


def credit(
    session: Session,
    *,
    customer_id: uuid.UUID,
    kind: EntryKind,
    reason: str,
    occasion: str,
    lots: Sequence[LotSpec],
    now: datetime,
    settle: bool = True,
    lifetime: int | None = None,
    carried: int = 0,
    **meta: Any,
) -> uuid.UUID | None:
    """Book a credit and open its lots; ``None`` when the occasion was booked already.

    The caller holds the member's lock. Lots whose ``available_at`` has passed are
    released at once (and first pay any debt or carried points).
    """
    points = sum(lot.points for lot in lots)
    if points <= 0 or any(lot.points <= 0 for lot in lots):
        raise ValueError(f"a credit needs positive lots, got {[lot.points for lot in lots]}")
    row = _entry_row(
        customer_id=customer_id,
        kind=kind,
        points=points,
        reason=reason,
        occasion=occasion,
        now=now,
        carried=carried,
        **meta,
    )
    if not _insert_entry(session, row):
        return None
    released = pending = 0
    lot_rows = []
    for lot in lots:
        is_released = lot.available_at <= now
        released += lot.points if is_released else 0
        pending += 0 if is_released else lot.points
        lot_rows.append(
            {
                "id": new_id(),
                "customer_id": customer_id,
                "entry_id": row["id"],
                "origin_entry_id": lot.origin_entry_id or row["id"],
                "points": lot.points,
                "remaining": lot.points,
                "available_at": lot.available_at,
                "expires_at": lot.expires_at,
                "released": is_released,
                "created_at": now,
            }
        )
    session.execute(insert(PointsLot), lot_rows)
    earned = points if kind is EntryKind.earn else 0
    _move(
        session,
        customer_id,
        available=released,
        pending=pending,
        lifetime=earned if lifetime is None else lifetime,
        carried=carried,
    )
    if released and settle:
        settle_debts(session, customer_id, now=now)
    entry_id: uuid.UUID = row["id"]
    return entry_id


def _open_lots(
    session: Session, stmt: Select[uuid.UUID, int, bool]
) -> list[tuple[uuid.UUID, int, bool]]:
    return [(r[0], int(r[1]), bool(r[2])) for r in session.execute(stmt)]


def _lots_query(customer_id: uuid.UUID) -> Select[uuid.UUID, int, bool]:
    return (
        select(PointsLot.id, PointsLot.remaining, PointsLot.released)
        .where(PointsLot.customer_id == customer_id, PointsLot.remaining > 0)
        .order_by(*SPEND_ORDER)
    )


def _allocate(
    session: Session,
    *,
    entry_id: uuid.UUID,
    plan: Sequence[tuple[uuid.UUID, int]],
    now: datetime,
) -> tuple[int, int]:
    """Take ``plan``'s points from its lots, record the allocations; return (released, pending).

    Whether a lot's points count as available or pending is read from the lot as the
    ``UPDATE`` changes it, so a release job running at the same moment can never make
    the account count the same points twice.
    """
    released = pending = 0
    for lot_id, take in plan:
        row = session.execute(
            update(PointsLot)
            .where(PointsLot.id == lot_id, PointsLot.remaining >= take)
            .values(remaining=PointsLot.remaining - take)
            .returning(PointsLot.released)
            .execution_options(synchronize_session=False)
        ).first()
        if row is None:  # the member's lock makes this unreachable; refuse rather than guess
            raise Conflict(f"points lot {lot_id} changed under a concurrent write; retry")
        if row[0]:
            released += take
        else:
            pending += take
    if plan:
        session.execute(
            insert(PointsAllocation),
            [
                {
                    "id": new_id(),
                    "entry_id": entry_id,
                    "lot_id": lot_id,
                    "points": take,
                    "created_at": now,
                }
                for lot_id, take in plan
            ],
        )
    return released, pending


def _take(
    lots: Sequence[tuple[uuid.UUID, int, bool]], wanted: int, used: dict[uuid.UUID, int]
) -> tuple[list[tuple[uuid.UUID, int]], int, int]:
    """Plan taking up to ``wanted`` from ``lots``; returns (plan, from released, from pending)."""
    plan: list[tuple[uuid.UUID, int]] = []
    released = pending = 0
    for lot_id, remaining, is_released in lots:
        if wanted <= 0:
            break
        free = remaining - used.get(lot_id, 0)
        if free <= 0:
            continue
        take = min(free, wanted)
        plan.append((lot_id, take))
        used[lot_id] = used.get(lot_id, 0) + take
        wanted -= take
        if is_released:
            released += take
        else:
            pending += take
    return plan, released, pending


def spend(
    session: Session,
    *,
    customer_id: uuid.UUID,
    points: int,
    kind: EntryKind,
    reason: str,
    occasion: str,
    now: datetime,
    **meta: Any,
) -> uuid.UUID:
    """Spend ``points`` of the available balance; never overdraws.

    The guarded ``UPDATE`` is the check: when it touches no row the balance is short
    and ``InsufficientPoints`` is raised with nothing written.
    """
    if points <= 0:
        raise ValueError("spend a positive number of points")
    debited = rowcount(
        session.execute(
            update(LoyaltyAccount)
            .where(LoyaltyAccount.customer_id == customer_id, LoyaltyAccount.available >= points)
            .values(available=LoyaltyAccount.available - points)
            .execution_options(synchronize_session=False)
        )
    )
    if debited != 1:
        have = session.scalar(
            select(LoyaltyAccount.available).where(LoyaltyAccount.customer_id == customer_id)
        )
        raise InsufficientPoints(
            f"{points} points needed, {have or 0} available",
            needed=points,
            available=int(have or 0),
        )
    row = _entry_row(
        customer_id=customer_id,
        kind=kind,
        points=-points,
        reason=reason,
        occasion=occasion,
        now=now,
        **meta,
    )
    if not _insert_entry(session, row):
        raise Conflict(f"{reason} {occasion} was booked already")
    released_lots = _open_lots(session, _lots_query(customer_id).where(PointsLot.released))
    plan, _, _ = _take(released_lots, points, {})
    if sum(t for _, t in plan) != points:  # available said yes; the lots must agree
        raise Conflict(f"the points of customer {customer_id} do not add up; nothing was spent")
    _allocate(session, entry_id=row["id"], plan=plan, now=now)
    entry_id: uuid.UUID = row["id"]
    return entry_id


def take_back(
    session: Session,
    *,
    customer_id: uuid.UUID,
    points: int,
    kind: EntryKind,
    reason: str,
    occasion: str,
    policy: RefundPolicy,
    now: datetime,
    own_origins: Sequence[uuid.UUID] = (),
    from_pending: bool = False,
    **meta: Any,
) -> Booked:
    """Take ``points`` back (a refund, a negative merge transfer) under the refund policy.

    The order's own lots (``own_origins``) go first, pending or not; then released
    lots oldest to expire; pending lots of other credits only when ``from_pending``.
    Whatever is still missing follows ``policy``.
    """
    if points <= 0:
        raise ValueError("take back a positive number of points")
    used: dict[uuid.UUID, int] = {}
    plan: list[tuple[uuid.UUID, int]] = []
    got_released = got_pending = 0
    wanted = points
    if own_origins:
        own = _open_lots(
            session,
            _lots_query(customer_id).where(PointsLot.origin_entry_id.in_(list(own_origins))),
        )
        p, r, q = _take(own, wanted, used)
        plan += p
        got_released += r
        got_pending += q
        wanted -= r + q
    if wanted > 0:
        stmt = _lots_query(customer_id)
        if not from_pending:
            stmt = stmt.where(PointsLot.released)
        p, r, q = _take(_open_lots(session, stmt), wanted, used)
        plan += p
        got_released += r
        got_pending += q
        wanted -= r + q
    missing = wanted
    covered = points - missing
    carried = missing if policy is RefundPolicy.future_earnings else 0
    forgiven = missing if policy is RefundPolicy.forfeit else 0
    debt = missing if policy is RefundPolicy.negative_balance else 0
    posted = covered + debt
    row = _entry_row(
        customer_id=customer_id,
        kind=kind,
        points=-posted,
        reason=reason,
        occasion=occasion,
        now=now,
        carried=carried,
        forgiven=forgiven,
        **meta,
    )
    if not _insert_entry(session, row):
        return Booked(entry_id=None)
    got_released, got_pending = _allocate(session, entry_id=row["id"], plan=plan, now=now)
    _move(
        session,
        customer_id,
        available=-(got_released + debt),
        pending=-got_pending,
        carried=carried,
        debt=debt,
    )
    return Booked(
        entry_id=row["id"],
        posted=posted,
        from_available=got_released,
        from_pending=got_pending,
        uncovered=debt,
        carried=carried,
        forgiven=forgiven,
        lots=plan,
    )


def debit_lots(
    session: Session,
    *,
    customer_id: uuid.UUID,
    lots: Sequence[tuple[uuid.UUID, int, bool]],
    kind: EntryKind,
    reason: str,
    occasion: str,
    now: datetime,
    carried: int = 0,
    **meta: Any,
) -> uuid.UUID | None:
    """Book one debit that empties the given lots (expiry, a merge, an erasure)."""
    total = sum(remaining for _, remaining, _ in lots)
    if total <= 0 and not carried:
        return None
    row = _entry_row(
        customer_id=customer_id,
        kind=kind,
        points=-total,
        reason=reason,
        occasion=occasion,
        now=now,
        carried=carried,
        **meta,
    )
    if not _insert_entry(session, row):
        return None
    released, pending = _allocate(
        session, entry_id=row["id"], plan=[(lot_id, r) for lot_id, r, _ in lots if r > 0], now=now
    )
    _move(session, customer_id, available=-released, pending=-pending, carried=carried)
    entry_id: uuid.UUID = row["id"]
    return entry_id


def open_lots(
    session: Session, customer_id: uuid.UUID, *, expiring_by: datetime | None = None
) -> list[tuple[uuid.UUID, int, bool]]:
    """The member's lots with points left (optionally only those lapsing by ``expiring_by``)."""
    stmt = _lots_query(customer_id)
    if expiring_by is not None:
        stmt = stmt.where(PointsLot.expires_at <= expiring_by)
    return _open_lots(session, stmt)


def settle_debts(session: Session, customer_id: uuid.UUID, *, now: datetime) -> None:
    """Let released points pay what is owed: first ``debt``, then ``carried`` points."""
    row = session.execute(
        select(LoyaltyAccount.debt, LoyaltyAccount.carried, LoyaltyAccount.available).where(
            LoyaltyAccount.customer_id == customer_id
        )
    ).one()
    debt, carried, available = int(row[0]), int(row[1]), int(row[2])
    if debt > 0:
        allocated = func.coalesce(func.sum(PointsAllocation.points), 0)
        owing = session.execute(
            select(PointsEntry.id, -PointsEntry.points - allocated)
            .outerjoin(PointsAllocation, PointsAllocation.entry_id == PointsEntry.id)
            .where(PointsEntry.customer_id == customer_id, PointsEntry.points < 0)
            .group_by(PointsEntry.id, PointsEntry.points, PointsEntry.created_at)
            .having(-PointsEntry.points > allocated)
            .order_by(PointsEntry.created_at, PointsEntry.id)
        ).all()
        released_lots = _open_lots(session, _lots_query(customer_id).where(PointsLot.released))
        used: dict[uuid.UUID, int] = {}
        paid = 0
        for entry_id, owed in owing:
            plan, _, _ = _take(released_lots, int(owed), used)
            if not plan:
                break
            got, late = _allocate(session, entry_id=entry_id, plan=plan, now=now)
            paid += got + late
        if paid:
            _move(session, customer_id, debt=-paid)
            debt -= paid
    if carried > 0 and debt == 0 and available > 0:
        take = min(carried, available)
        released_lots = _open_lots(session, _lots_query(customer_id).where(PointsLot.released))
        plan, got, _ = _take(released_lots, take, {})
        row2 = _entry_row(
            customer_id=customer_id,
            kind=EntryKind.reverse,
            points=-got,
            reason="carried_recovery",
            occasion=str(new_id()),
            now=now,
            carried=-got,
        )
        _insert_entry(session, row2)
        _allocate(session, entry_id=row2["id"], plan=plan, now=now)
        _move(session, customer_id, available=-got, carried=-got)
