"""Ledger primitives: every change of a member's points goes through these functions.

The rules they keep, in the same transaction as each entry:

* ``available + pending`` on the account equals the sum of the member's entries;
  ``pending`` is the remainder of unreleased lots; ``available`` is the remainder
  of released lots minus ``debt``.
* Every credit opens lots; every debit is allocated to lots, oldest to expire
  first. A spend is always fully covered: it first passes the guarded
  ``UPDATE … SET available = available - n WHERE available >= n``, so a member can
  never spend points they do not have, whatever the concurrency.
* A reversal (a refund taking points back) takes the order's own points first, then
  available points; what is left follows the refund policy: ``negative_balance``
  books it all (``debt`` grows and the next released points pay it), ``future_earnings``
  books what is there and carries the rest (recovered from the next released
  points), ``forfeit`` books what is there and forgives the rest.
* ``(customer, reason, occasion)`` is unique: booking the same occasion twice is a
  no-op, never a duplicate.

Writers take the member's row lock first (``lock_account``), so one member's
writes happen one after another on PostgreSQL as they do on SQLite.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Row,
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

from wafa.core.calendars import local_date
from wafa.core.db import dialect_name, insert_ignoring_conflicts, rowcount
from wafa.core.errors import Conflict
from wafa.core.ids import new_id
from wafa.customers.models import Customer
from wafa.loyalty.dbutil import insert_new
from wafa.loyalty.models import (
    EntryKind,
    LoyaltyAccount,
    PointsAllocation,
    PointsEntry,
    PointsLot,
)
from wafa.loyalty.schemas.program import RefundPolicy


class InsufficientPoints(Conflict):
    code = "insufficient-points"
    title = "Not enough points"


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


# --------------------------------------------------------------------------- accounts

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
) -> None:
    """Book a purchase's earn entries and lots in two statements; balances go into ``delta``.

    The caller has claimed the occasion already (the purchase row), so the entries'
    unique key can only fire on a bug, and then the whole transaction fails.
    """
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
                now=now,
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
                "created_at": now,
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


# --------------------------------------------------------------------------- entries


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


# --------------------------------------------------------------------------- release, settle


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


# --------------------------------------------------------------------------- reading


def balance_of(session: Session, customer_id: uuid.UUID, *, now: datetime) -> tuple[int, int]:
    """``(available, pending)`` as of ``now``, counting lots due but not yet released."""
    row = session.execute(
        select(LoyaltyAccount.available, LoyaltyAccount.pending).where(
            LoyaltyAccount.customer_id == customer_id
        )
    ).first()
    if row is None:
        return 0, 0
    due = session.scalar(
        select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(
            PointsLot.customer_id == customer_id,
            PointsLot.released.is_(False),
            PointsLot.available_at <= now,
        )
    )
    due = int(due or 0)
    return int(row[0]) + due, int(row[1]) - due


def expiring(
    session: Session, customer_id: uuid.UUID, *, zone: ZoneInfo, until: datetime
) -> list[tuple[date, int]]:
    """Points lapsing before ``until``, summed per local day, soonest first."""
    totals: dict[date, int] = {}
    for expires_at, remaining in session.execute(
        select(PointsLot.expires_at, PointsLot.remaining).where(
            PointsLot.customer_id == customer_id,
            PointsLot.remaining > 0,
            PointsLot.expires_at.is_not(None),
            PointsLot.expires_at <= until,
        )
    ):
        if expires_at is None:  # pragma: no cover - filtered out above
            continue
        day = local_date(expires_at, zone)
        totals[day] = totals.get(day, 0) + int(remaining)
    return sorted(totals.items())


def check(session: Session, customer_id: uuid.UUID) -> list[str]:
    """Every way the member's cached balance disagrees with the ledger (empty: all good)."""
    problems: list[str] = []
    acct = account(session, customer_id)
    entries = session.execute(
        select(
            func.coalesce(func.sum(PointsEntry.points), 0),
            func.coalesce(
                func.sum(case((PointsEntry.kind == "earn", PointsEntry.points), else_=0)), 0
            ),
        ).where(PointsEntry.customer_id == customer_id)
    ).one()
    total, earned = int(entries[0]), int(entries[1])
    lots = session.execute(
        select(
            func.coalesce(func.sum(case((PointsLot.released, PointsLot.remaining), else_=0)), 0),
            func.coalesce(func.sum(case((PointsLot.released, 0), else_=PointsLot.remaining)), 0),
        ).where(PointsLot.customer_id == customer_id)
    ).one()
    released, unreleased = int(lots[0]), int(lots[1])
    if acct is None:
        return [] if total == 0 else [f"no account but entries sum to {total}"]
    if acct.available + acct.pending != total:
        problems.append(
            f"available {acct.available} + pending {acct.pending} != ledger sum {total}"
        )
    if acct.pending != unreleased:
        problems.append(f"pending {acct.pending} != unreleased lots {unreleased}")
    if acct.available != released - acct.debt:
        problems.append(
            f"available {acct.available} != released lots {released} - debt {acct.debt}"
        )
    bad_lots = session.execute(
        select(
            PointsLot.id,
            PointsLot.points,
            PointsLot.remaining,
            func.coalesce(func.sum(PointsAllocation.points), 0),
        )
        .outerjoin(PointsAllocation, PointsAllocation.lot_id == PointsLot.id)
        .where(PointsLot.customer_id == customer_id)
        .group_by(PointsLot.id, PointsLot.points, PointsLot.remaining)
        .having(
            PointsLot.points - func.coalesce(func.sum(PointsAllocation.points), 0)
            != PointsLot.remaining
        )
    ).all()
    for lot_id, pts, remaining, alloc in bad_lots:
        problems.append(f"lot {lot_id}: {pts} - allocated {alloc} != remaining {remaining}")
    uncovered = session.execute(
        select(
            PointsEntry.id,
            PointsEntry.kind,
            PointsEntry.points,
            func.coalesce(func.sum(PointsAllocation.points), 0),
        )
        .outerjoin(PointsAllocation, PointsAllocation.entry_id == PointsEntry.id)
        .where(PointsEntry.customer_id == customer_id, PointsEntry.points < 0)
        .group_by(PointsEntry.id, PointsEntry.kind, PointsEntry.points)
    ).all()
    debt = 0
    for entry_id, kind, pts, alloc in uncovered:
        gap = -int(pts) - int(alloc)
        if gap < 0:
            problems.append(f"entry {entry_id} is over-allocated by {-gap}")
        elif gap > 0 and kind in ("spend", "expire"):
            problems.append(f"{kind} entry {entry_id} is not covered by lots ({gap} missing)")
        debt += max(gap, 0)
    if debt != acct.debt:
        problems.append(f"debt {acct.debt} != uncovered debits {debt}")
    carried = session.scalar(
        select(func.coalesce(func.sum(PointsEntry.carried), 0)).where(
            PointsEntry.customer_id == customer_id
        )
    )
    if acct.carried != int(carried or 0):
        problems.append(f"carried {acct.carried} != sum of carried on entries {carried}")
    moved_lifetime = 0
    for details, reason in session.execute(
        select(PointsEntry.details, PointsEntry.reason).where(
            PointsEntry.customer_id == customer_id,
            PointsEntry.reason.in_(("merge_in", "merge_out")),
        )
    ):
        amount = int((details or {}).get("lifetime", 0))
        moved_lifetime += amount if reason == "merge_in" else -amount
    if acct.lifetime != earned + moved_lifetime:
        problems.append(f"lifetime {acct.lifetime} != earned {earned} + moved {moved_lifetime}")
    if acct.pending < 0 or acct.carried < 0 or acct.debt < 0:
        problems.append("a balance column is negative")
    return problems


def entries_for_order(
    session: Session, order_id: uuid.UUID
) -> list[tuple[uuid.UUID, str, str | None, int, int, int, int | None, uuid.UUID]]:
    """Every entry about an order: id, kind, rule, points, carried, forgiven, version, customer."""
    return [
        (r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[5]), r[6], r[7])
        for r in session.execute(
            select(
                PointsEntry.id,
                PointsEntry.kind,
                PointsEntry.rule,
                PointsEntry.points,
                PointsEntry.carried,
                PointsEntry.forgiven,
                PointsEntry.rule_version,
                PointsEntry.customer_id,
            )
            .where(PointsEntry.order_id == order_id)
            .order_by(PointsEntry.created_at, PointsEntry.id)
        )
    ]


def lot_origins(session: Session, entry_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """The origin ids of lots opened by ``entry_ids`` (their own ids, for fresh earns)."""
    if not entry_ids:
        return []
    return list(
        session.scalars(
            select(PointsLot.origin_entry_id)
            .where(PointsLot.entry_id.in_(list(entry_ids)))
            .distinct()
        )
    )


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
