"""The daily jobs: release pending points, expire and warn, birthdays, tier reviews, streaks.

Each job runs for a local date of the business. A run is claimed in
``loyalty_job_runs`` under ``(job, date)``; it works in batches, each batch its own
transaction that also saves the run's cursor, so a crash loses at most the batch in
flight and the next run resumes where it stopped. Every batch is idempotent on its
own (unique keys, guarded updates), so two workers on the same day, or a rerun of a
finished day with ``force``, never award or expire twice.

About 620 lines: the daily jobs share the claim-a-date bookkeeping at the top of the
module, and each job is one function below it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from wafa.core.calendars import add_months, local_date, start_of_day
from wafa.core.db import insert_ignoring_conflicts
from wafa.core.domain import DailyTask, IntervalTask, Task
from wafa.core.events import emit_many
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.loyalty import birthday, events, ledger, referrals, streaks, tiers
from wafa.loyalty.models import (
    EntryKind,
    ExpiryWarning,
    JobRun,
    LoyaltyAccount,
    PointsAllocation,
    PointsEntry,
    PointsLot,
)
from wafa.loyalty.program import rules_at
from wafa.loyalty.schemas.program import ExpiryPolicy, ProgramRules
from wafa.loyalty.surprise import service as surprise

Step = Callable[[Session, Settings, date, str | None, int], tuple[int, str | None]]

_ACCOUNTS = cast(Table, LoyaltyAccount.__table__)
_WARNINGS = cast(Table, ExpiryWarning.__table__)


@dataclass(frozen=True)
class Job:
    name: str
    step: Step
    batch: int
    help: str


# --------------------------------------------------------------------------- release


def release_batch(session: Session, *, settings: Settings, now: datetime, limit: int = 5000) -> int:
    """Release up to ``limit`` lots whose pending period is over; returns how many.

    One ``UPDATE … RETURNING`` marks the lots (re-checking ``NOT released``, so two
    workers never release a lot twice), one batched ``UPDATE`` moves each member's
    points from pending to available, and members who owe points settle.
    """
    due = (
        select(PointsLot.id)
        .where(PointsLot.released.is_(False), PointsLot.available_at <= now)
        .limit(limit)
        .scalar_subquery()
    )
    rows = session.execute(
        update(PointsLot)
        .where(PointsLot.id.in_(due), PointsLot.released.is_(False))
        .values(released=True)
        .returning(PointsLot.customer_id, PointsLot.remaining)
        .execution_options(synchronize_session=False)
    ).all()
    if not rows:
        return 0
    moved: dict[uuid.UUID, int] = {}
    for cid, remaining in rows:
        moved[cid] = moved.get(cid, 0) + int(remaining)
    params = [{"b_cid": cid, "b_points": p} for cid, p in moved.items() if p]
    if params:
        session.execute(
            _ACCOUNTS.update()
            .where(_ACCOUNTS.c.customer_id == bindparam("b_cid"))
            .values(
                available=_ACCOUNTS.c.available + bindparam("b_points"),
                pending=_ACCOUNTS.c.pending - bindparam("b_points"),
            ),
            params,
        )
    owing = session.scalars(
        select(LoyaltyAccount.customer_id).where(
            LoyaltyAccount.customer_id.in_(list(moved)),
            or_(LoyaltyAccount.debt > 0, LoyaltyAccount.carried > 0),
        )
    ).all()
    for cid in owing:
        ledger.lock_account(session, cid, zone=settings.zone, now=now)
        ledger.settle_debts(session, cid, now=now)
    return len(rows)


def _release(
    session: Session, settings: Settings, day: date, cursor: str | None, limit: int
) -> tuple[int, str | None]:
    return release_batch(session, settings=settings, now=utcnow(), limit=limit), None


# --------------------------------------------------------------------------- expiry


_ENTRIES = cast(Table, PointsEntry.__table__)
_ALLOCATIONS = cast(Table, PointsAllocation.__table__)
_LOTS = cast(Table, PointsLot.__table__)


def expire_batch(session: Session, *, settings: Settings, now: datetime, limit: int = 1000) -> int:
    """Expire what lapsed by ``now`` for up to ``limit`` members; returns members touched.

    Set-based: the batch's members are locked (in id order), their lapsed lots read
    under the lock, and one statement each books the expiry entries, empties the
    lots, records the allocations and moves the balances. Whether a lot's points
    were available or pending is read from the lot as it is emptied, so a release
    running at the same moment cannot make the account count them twice.
    """
    cids = sorted(
        session.scalars(
            select(PointsLot.customer_id)
            .where(PointsLot.remaining > 0, PointsLot.expires_at <= now)
            .distinct()
            .limit(limit)
        ).all()
    )
    if not cids:
        return 0
    ledger.lock_accounts(session, cids)  # in id order: two batches never deadlock
    lots = session.execute(
        select(PointsLot.id, PointsLot.customer_id, PointsLot.remaining)
        .where(
            PointsLot.customer_id.in_(cids),
            PointsLot.remaining > 0,
            PointsLot.expires_at <= now,
        )
        .order_by(PointsLot.customer_id, PointsLot.id)
    ).all()
    if not lots:
        return len(cids)
    entry_of: dict[uuid.UUID, uuid.UUID] = {}
    totals: dict[uuid.UUID, int] = {}
    first_lot: dict[uuid.UUID, uuid.UUID] = {}
    for lot_id, cid, remaining in lots:
        entry_of.setdefault(cid, new_id())
        first_lot.setdefault(cid, lot_id)
        totals[cid] = totals.get(cid, 0) + int(remaining)
    session.execute(
        insert(_ENTRIES),
        [
            {
                "id": entry_of[cid],
                "customer_id": cid,
                "kind": EntryKind.expire.value,
                "points": -total,
                "carried": 0,
                "forgiven": 0,
                "reason": "expiry",
                "occasion": f"expiry:{first_lot[cid]}",
                "created_at": now,
            }
            for cid, total in totals.items()
        ],
    )
    emptied = session.execute(
        update(_LOTS)
        .where(_LOTS.c.id.in_([lot[0] for lot in lots]), _LOTS.c.remaining > 0)
        .values(remaining=0)
        .returning(_LOTS.c.id, _LOTS.c.released)
    ).all()
    released = {lot_id: bool(flag) for lot_id, flag in emptied}
    if len(released) != len(lots):  # the members' locks make this unreachable
        raise RuntimeError("expiring lots changed under the member locks; the batch rolls back")
    session.execute(
        insert(_ALLOCATIONS),
        [
            {
                "id": new_id(),
                "entry_id": entry_of[cid],
                "lot_id": lot_id,
                "points": remaining,
                "created_at": now,
            }
            for lot_id, cid, remaining in lots
        ],
    )
    moves: dict[uuid.UUID, list[int]] = {}
    for lot_id, cid, remaining in lots:
        bucket = moves.setdefault(cid, [0, 0])
        bucket[0 if released[lot_id] else 1] += int(remaining)
    session.execute(
        _ACCOUNTS.update()
        .where(_ACCOUNTS.c.customer_id == bindparam("b_cid"))
        .values(
            available=_ACCOUNTS.c.available - bindparam("b_available"),
            pending=_ACCOUNTS.c.pending - bindparam("b_pending"),
        ),
        [{"b_cid": cid, "b_available": a, "b_pending": p} for cid, (a, p) in moves.items()],
    )
    return len(cids)


def inactivity_batch(
    session: Session,
    *,
    settings: Settings,
    day: date,
    now: datetime,
    after: uuid.UUID | None,
    limit: int = 1000,
) -> tuple[int, uuid.UUID | None]:
    """Under the "inactivity" policy, expire every point of members idle for N months."""
    rules = rules_at(session, settings, now).rules
    if rules.expiry.policy is not ExpiryPolicy.inactivity:
        return 0, None
    cutoff = add_months(day, -rules.expiry.months, settings.calendar)
    last = func.coalesce(LoyaltyAccount.last_purchase_on, LoyaltyAccount.joined_on)
    stmt = (
        select(LoyaltyAccount.customer_id)
        .where(
            last <= cutoff,
            or_(LoyaltyAccount.available > 0, LoyaltyAccount.pending > 0),
        )
        .order_by(LoyaltyAccount.customer_id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(LoyaltyAccount.customer_id > after)
    cids = session.scalars(stmt).all()
    for cid in cids:
        ledger.lock_account(session, cid, zone=settings.zone, now=now)
        lots = ledger.open_lots(session, cid)
        if lots:
            ledger.debit_lots(
                session,
                customer_id=cid,
                lots=lots,
                kind=EntryKind.expire,
                reason="inactivity",
                occasion=f"inactivity:{day.isoformat()}",
                now=now,
            )
    return len(cids), (cids[-1] if cids else None)


def _expire(
    session: Session, settings: Settings, day: date, cursor: str | None, limit: int
) -> tuple[int, str | None]:
    now = utcnow()
    n = expire_batch(session, settings=settings, now=now, limit=limit)
    if n:
        return n, None
    after = uuid.UUID(cursor) if cursor else None
    m, last = inactivity_batch(
        session, settings=settings, day=day, now=now, after=after, limit=limit
    )
    return m, str(last) if last else None


# --------------------------------------------------------------------------- warnings


def warn_batch(session: Session, *, settings: Settings, day: date, limit: int = 1000) -> int:
    """Announce ``points.expiring`` for points lapsing 30 and 7 days (the program's warn
    days) after local ``day``: once per (member, expiry day, days ahead). Telling the
    member is the flows' part (``points_expiring``): they queue the message or record
    why not, so no announcement is lost silently."""
    now = utcnow()
    rules = rules_at(session, settings, now).rules
    if rules.expiry.policy is ExpiryPolicy.never:
        return 0
    done = 0
    for ahead in sorted(set(rules.expiry.warn_days), reverse=True):
        target = day + timedelta(days=ahead)
        warned = exists().where(
            ExpiryWarning.customer_id == PointsLot.customer_id,
            ExpiryWarning.expires_on == target,
            ExpiryWarning.days_ahead == ahead,
        )
        if rules.expiry.policy is ExpiryPolicy.fixed:
            start = start_of_day(target, settings.zone)
            rows: list[tuple[uuid.UUID, int]] = [
                (r[0], int(r[1]))
                for r in session.execute(
                    select(PointsLot.customer_id, func.sum(PointsLot.remaining))
                    .where(
                        PointsLot.remaining > 0,
                        PointsLot.expires_at >= start,
                        PointsLot.expires_at
                        < start_of_day(target + timedelta(days=1), settings.zone),
                        ~warned,
                    )
                    .group_by(PointsLot.customer_id)
                    .order_by(PointsLot.customer_id)
                    .limit(limit - done)
                )
            ]
        else:
            rows = _inactivity_warnings(
                session, settings, rules.expiry.months, target, ahead, limit - done
            )
        if rows:
            # Claimed together (ON CONFLICT DO NOTHING: a warning another run wrote
            # meanwhile is not announced twice), announced together, in customer order.
            claimed = {
                row[0]
                for row in session.execute(
                    insert_ignoring_conflicts(
                        session,
                        _WARNINGS,
                        index_elements=["customer_id", "expires_on", "days_ahead"],
                    ).returning(_WARNINGS.c.customer_id),
                    [
                        {
                            "customer_id": cid,
                            "expires_on": target,
                            "days_ahead": ahead,
                            "points": int(points),
                            "warned_at": now,
                        }
                        for cid, points in rows
                    ],
                )
            }
            emit_many(
                session,
                [
                    events.PointsExpiring(
                        customer_id=cid, points=int(points), expires_on=target, days_ahead=ahead
                    )
                    for cid, points in rows
                    if cid in claimed
                ],
            )
        done += len(rows)
        if done >= limit:
            break
    return done


def _inactivity_warnings(
    session: Session, settings: Settings, months: int, target: date, ahead: int, limit: int
) -> list[tuple[uuid.UUID, int]]:
    approx = add_months(target, -months, settings.calendar)
    last = func.coalesce(LoyaltyAccount.last_purchase_on, LoyaltyAccount.joined_on)
    rows = session.execute(
        select(LoyaltyAccount.customer_id, last, LoyaltyAccount.available + LoyaltyAccount.pending)
        .where(
            last.between(approx - timedelta(days=3), approx + timedelta(days=3)),
            LoyaltyAccount.available + LoyaltyAccount.pending > 0,
            ~exists().where(
                ExpiryWarning.customer_id == LoyaltyAccount.customer_id,
                ExpiryWarning.expires_on == target,
                ExpiryWarning.days_ahead == ahead,
            ),
        )
        .order_by(LoyaltyAccount.customer_id)
        .limit(limit)
    ).all()
    return [
        (cid, int(points))
        for cid, since, points in rows
        if add_months(since, months, settings.calendar) == target
    ]


def _warn(
    session: Session, settings: Settings, day: date, cursor: str | None, limit: int
) -> tuple[int, str | None]:
    return warn_batch(session, settings=settings, day=day, limit=limit), None


# --------------------------------------------------------------------------- the rest


def _by_id(
    fn: Callable[..., tuple[int, uuid.UUID | None]],
) -> Step:
    def step(
        session: Session, settings: Settings, day: date, cursor: str | None, limit: int
    ) -> tuple[int, str | None]:
        n, last = fn(
            session,
            settings=settings,
            day=day,
            after=uuid.UUID(cursor) if cursor else None,
            limit=limit,
        )
        return n, str(last) if last else None

    return step


def _badges(
    session: Session, *, settings: Settings, day: date, after: uuid.UUID | None, limit: int
) -> tuple[int, uuid.UUID | None]:
    rules = rules_at(session, settings).rules
    return streaks.membership_badges_batch(
        session, settings=settings, rules=rules, day=day, after=after, limit=limit
    )


def _streaks(
    session: Session, settings: Settings, day: date, cursor: str | None, limit: int
) -> tuple[int, str | None]:
    if cursor == "done":
        return 0, None
    rules = rules_at(session, settings).rules
    n = streaks.break_streaks(session, settings=settings, rules=rules, day=day)
    return max(n, 1), "done"


def _referrals(
    session: Session, settings: Settings, day: date, cursor: str | None, limit: int
) -> tuple[int, str | None]:
    return referrals.pay_due_batch(session, settings=settings, now=utcnow(), limit=limit), None


def _tier_rules_key(rules: ProgramRules) -> str:
    return hashlib.sha256(rules.tiers.model_dump_json().encode()).hexdigest()[:16]


def _retier(
    session: Session, settings: Settings, day: date, cursor: str | None, limit: int
) -> tuple[int, str | None]:
    """After the tier rules changed, move up everyone who now qualifies (in batches).

    The rules applied are remembered in the run's ``details``; a day whose rules
    are the ones the last finished run applied has nothing to do.
    """
    now = utcnow()
    rules = rules_at(session, settings, now).rules
    key = _tier_rules_key(rules)
    if cursor is None:
        last = session.scalar(
            select(JobRun.details)
            .where(JobRun.job == "retier", JobRun.status == "done", JobRun.run_on < day)
            .order_by(JobRun.run_on.desc())
            .limit(1)
        )
        if not rules.tiers.enabled or (last or {}).get("tiers") == key:
            _remember(session, day, key)
            return 0, None
    stmt = select(LoyaltyAccount.customer_id, LoyaltyAccount.tier_code).where(
        LoyaltyAccount.closed_at.is_(None)
    )
    if cursor:
        stmt = stmt.where(LoyaltyAccount.customer_id > uuid.UUID(cursor))
    rows = session.execute(stmt.order_by(LoyaltyAccount.customer_id).limit(limit)).all()
    if not rows:
        _remember(session, day, key)
        return 0, None
    # One GROUP BY for the batch; only members who now qualify higher are locked.
    values = tiers.qualifying_values(
        session, settings, rules.tiers, today=day, customer_ids=[r[0] for r in rows]
    )
    levels = rules.tiers.levels
    floor = levels[0].code if levels and levels[0].threshold == 0 else None
    for cid, held in rows:
        qualified = tiers.tier_for(rules.tiers, values.get(cid, 0))
        current = held if tiers.rank(rules.tiers, held) else floor  # never assessed: the floor
        if tiers.rank(rules.tiers, qualified) > tiers.rank(rules.tiers, current):
            acct = ledger.lock_and_read(session, cid, zone=settings.zone, now=now)
            tiers.upgrade_if_qualified(
                session, settings=settings, rules=rules, customer_id=cid, now=now, acct=acct
            )
    return len(rows), str(rows[-1][0])


def _remember(session: Session, day: date, key: str) -> None:
    session.execute(
        update(JobRun)
        .where(JobRun.job == "retier", JobRun.run_on == day)
        .values(details={"tiers": key})
        .execution_options(synchronize_session=False)
    )


JOBS: tuple[Job, ...] = (
    Job("release", _release, 5000, "pending points whose return window is over become available"),
    Job("expire", _expire, 1000, "points past their expiry (or an inactivity deadline) lapse"),
    Job("warn", _warn, 2000, "points.expiring 30 and 7 days ahead"),
    Job("birthdays", _by_id(birthday.grant_batch), 500, "birthday rewards due today"),
    Job("tiers", _by_id(tiers.review_batch), 500, "tier reviews and expired overrides"),
    Job("retier", _retier, 1000, "after a change of tier rules, upgrades for who now qualifies"),
    Job("streaks", _streaks, 1, "streaks broken by a whole period without a purchase"),
    Job("badges", _by_id(_badges), 2000, "membership-age badges"),
    Job("referrals", _referrals, 200, "referrers rewarded once the friend's purchase is final"),
    Job("surprises", _by_id(surprise.anniversary_batch), 500, "anniversary surprise rewards"),
)
JOB_NAMES = tuple(job.name for job in JOBS)


def _claim(
    factory: sessionmaker[Session], job: Job, day: date, *, force: bool
) -> tuple[bool, str | None]:
    with factory() as session, session.begin():
        session.execute(
            insert_ignoring_conflicts(session, JobRun, index_elements=["job", "run_on"]).values(
                job=job.name, run_on=day, status="running", processed=0, started_at=utcnow()
            )
        )
        run = session.get(JobRun, (job.name, day))
        assert run is not None
        if run.status == "done" and not force:
            return False, None
        if run.status == "done":
            run.status, run.cursor, run.finished_at = "running", None, None
        return True, run.cursor


def run_job(
    factory: sessionmaker[Session],
    settings: Settings,
    job: Job,
    day: date,
    *,
    force: bool = False,
    batch: int | None = None,
) -> int:
    """Run (or resume) one job for local ``day``; returns the items processed by this call."""
    go, cursor = _claim(factory, job, day, force=force)
    if not go:
        return 0
    total = 0
    while True:
        with factory() as session, session.begin():
            n, nxt = job.step(session, settings, day, cursor, batch or job.batch)
            values: dict[str, object] = {"processed": JobRun.processed + n}
            if n:
                values["cursor"] = nxt
            else:
                values.update(status="done", finished_at=utcnow(), cursor=None)
            session.execute(
                update(JobRun)
                .where(JobRun.job == job.name, JobRun.run_on == day)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        total += n
        if not n:
            return total
        cursor = nxt


def run_daily(
    factory: sessionmaker[Session],
    settings: Settings,
    day: date,
    *,
    only: tuple[str, ...] | None = None,
    force: bool = False,
    batch: int | None = None,
) -> dict[str, int]:
    """Run every daily job (or ``only`` those) for local ``day``; returns items per job."""
    report: dict[str, int] = {}
    for job in JOBS:
        if only is not None and job.name not in only:
            continue
        report[job.name] = run_job(factory, settings, job, day, force=force, batch=batch)
    return report


def days_due(
    session: Session, settings: Settings, *, now: datetime | None = None, catch_up: int = 7
) -> list[date]:
    """Local dates whose daily jobs have not all finished, oldest first.

    From the day after the last fully finished day up to today (at most ``catch_up``
    days back, so a worker that was down for a week catches up but a new
    installation starts today).
    """
    today = local_date(now or utcnow(), settings.zone)
    finished = session.execute(
        select(JobRun.run_on)
        .where(JobRun.status == "done")
        .group_by(JobRun.run_on)
        .having(func.count() >= len(JOBS))
        .order_by(JobRun.run_on.desc())
        .limit(1)
    ).scalar()
    if finished is None:
        return [today]
    start = max(finished + timedelta(days=1), today - timedelta(days=catch_up - 1))
    return [start + timedelta(days=i) for i in range((today - start).days + 1)]


def job_runs(session: Session, *, limit: int = 50) -> list[JobRun]:
    """The latest job runs, newest first (for the dashboard and ``wafa loyalty jobs``)."""
    return list(
        session.scalars(select(JobRun).order_by(JobRun.run_on.desc(), JobRun.job).limit(limit))
    )


def due_days(factory: sessionmaker[Session], settings: Settings, now: datetime) -> list[date]:
    """For the worker: the local dates whose daily jobs are still to run."""
    with factory() as session:
        return days_due(session, settings, now=now)


def run_daily_jobs(factory: sessionmaker[Session], settings: Settings, day: date) -> dict[str, int]:
    """For the worker: every daily job for local ``day``."""
    return run_daily(factory, settings, day)


def release_now(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    """For the worker, every minute: release the points whose pending period just ended."""
    released = 0
    while True:
        with factory() as session, session.begin():
            n = release_batch(session, settings=settings, now=utcnow())
        released += n
        if not n:
            return {"release": released}


def tasks() -> list[Task]:
    """What the worker runs for loyalty: the daily jobs, and releasing points every minute."""
    return [
        DailyTask("loyalty", due=due_days, run=run_daily_jobs),
        IntervalTask("loyalty-release", every=60.0, run=release_now),
    ]
