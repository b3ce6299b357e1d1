"""Reading balances and checking that every cached figure equals the ledger."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import (
    and_,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from wafa.core.calendars import local_date
from wafa.loyalty.ledger.accounts import account
from wafa.loyalty.models import (
    LoyaltyAccount,
    PointsAllocation,
    PointsEntry,
    PointsLot,
)


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


@dataclass(frozen=True)
class Outlook:
    """What one read of a member's open lots tells: points due but not yet released (to
    move from pending to available, as ``balance_of`` does), pending points still to
    release per local day, and points lapsing before ``until`` per local day."""

    due: int
    releasing: list[tuple[date, int]]
    expiring: list[tuple[date, int]]


def outlook(
    session: Session, customer_id: uuid.UUID, *, zone: ZoneInfo, now: datetime, until: datetime
) -> Outlook:
    """``balance_of``'s due points, ``releasing`` and ``expiring`` in one statement (the
    member's lots still holding points that are pending or lapse before ``until``)."""
    due = 0
    releases: dict[date, int] = {}
    lapses: dict[date, int] = {}
    for available_at, expires_at, released, remaining in session.execute(
        select(
            PointsLot.available_at, PointsLot.expires_at, PointsLot.released, PointsLot.remaining
        ).where(
            PointsLot.customer_id == customer_id,
            PointsLot.remaining > 0,
            or_(
                PointsLot.released.is_(False),
                and_(PointsLot.expires_at.is_not(None), PointsLot.expires_at <= until),
            ),
        )
    ):
        points = int(remaining)
        if not released:
            if available_at <= now:
                due += points
            else:
                day = local_date(available_at, zone)
                releases[day] = releases.get(day, 0) + points
        if expires_at is not None and expires_at <= until:
            day = local_date(expires_at, zone)
            lapses[day] = lapses.get(day, 0) + points
    return Outlook(due=due, releasing=sorted(releases.items()), expiring=sorted(lapses.items()))


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


def releasing(
    session: Session, customer_id: uuid.UUID, *, zone: ZoneInfo, now: datetime
) -> list[tuple[date, int]]:
    """Pending points still to become available after ``now``, summed per local day of
    their release, soonest first."""
    totals: dict[date, int] = {}
    for available_at, remaining in session.execute(
        select(PointsLot.available_at, PointsLot.remaining).where(
            PointsLot.customer_id == customer_id,
            PointsLot.released.is_(False),
            PointsLot.remaining > 0,
            PointsLot.available_at > now,
        )
    ):
        day = local_date(available_at, zone)
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


def balance_through(
    session: Session, customer_ids: Sequence[uuid.UUID], entry_id: uuid.UUID
) -> int:
    """The balance (available plus pending) just after entry ``entry_id``: the sum of the
    member's entries up to it, in the ledger's order (ids are time-ordered)."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
                PointsEntry.customer_id.in_(list(customer_ids)), PointsEntry.id <= entry_id
            )
        )
        or 0
    )


def spendable_from(
    session: Session, entry_ids: Sequence[uuid.UUID], *, now: datetime
) -> dict[uuid.UUID, datetime]:
    """For entries whose points are still pending: the instant they become spendable."""
    if not entry_ids:
        return {}
    rows = session.execute(
        select(PointsLot.entry_id, func.max(PointsLot.available_at))
        .where(
            PointsLot.entry_id.in_(list(entry_ids)),
            PointsLot.released.is_(False),
            PointsLot.available_at > now,
        )
        .group_by(PointsLot.entry_id)
    )
    return dict(rows.all())  # a list of pairs
