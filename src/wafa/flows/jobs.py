"""The worker's flow jobs: run the steps that are due, and enter customers by the calendar.

``run_due`` (an interval task) takes the active enrolments whose time has come, of
flows that are switched on, and runs each in its own transaction, the row locked
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL: two workers never run one enrolment at
once). A crash loses at most the transaction in flight, which the next run repeats.

``run_day`` (a daily task) enters customers into the flows started by a date rule
(a birthday, in the customer's own calendar) or by a daily condition (a segment
rule). Entering is keyed on the occasion, so a day run twice enters nobody twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from wafa.core.calendars import days_in_month, local_date, ymd
from wafa.core.db import dialect_name, insert_new
from wafa.core.domain import DailyTask, IntervalTask, Task
from wafa.core.settings import CalendarKind, Settings
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.flows.engine import advance, advance_many, definition_of, enrol_many, keeps_out
from wafa.flows.handlers import move_enrolments
from wafa.flows.models import DailyRun, Enrolment, EnrolmentStatus, Flow
from wafa.flows.replenish import due_on
from wafa.flows.spec import (
    CALENDAR_TRIGGERS,
    DailyTrigger,
    DateTrigger,
    ReachTrigger,
    ReplenishTrigger,
)
from wafa.loyalty.birthday import occasion_for
from wafa.loyalty.models import LoyaltyAccount, Reward
from wafa.loyalty.schemas.program import BirthdayMode
from wafa.messaging.segments import service as segments
from wafa.messaging.segments.rules import Rules

__all__ = ["due_days", "run_batch", "run_day", "run_due", "run_many", "tasks"]

log = logging.getLogger("wafa.flows")

#: Enrolments one pass runs at most (the next pass starts at once while there is work).
PASS_LIMIT = 500
#: Entrants of a daily flow entered per transaction (``enrol_many``: a few statements a
#: chunk): a crash loses at most one chunk, which the day's run repeats (entering is
#: keyed on the occasion).
ENTRY_BATCH = 2000
#: Enrolments whose steps are due run per transaction (``advance_many``).
STEP_BATCH = 200
#: How many missed days a daily run catches up after downtime.
CATCH_UP_DAYS = 3


def _due_ids(session: Session, now: datetime, limit: int) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(Enrolment.id)
            .join(Flow, Flow.id == Enrolment.flow_id)
            .where(
                Enrolment.status == EnrolmentStatus.active.value,
                Enrolment.due_at <= now,
                Flow.enabled.is_(True),
            )
            .order_by(Enrolment.due_at)
            .limit(limit)
        )
    )


def run_one(session: Session, settings: Settings, enrolment_id: uuid.UUID) -> int:
    """Run one enrolment's due steps, its row locked; how many steps ran."""
    query = select(Enrolment).where(Enrolment.id == enrolment_id)
    if dialect_name(session) == "postgresql":
        query = query.with_for_update(skip_locked=True)
    enrolment = session.scalar(query)
    if enrolment is None or enrolment.status != EnrolmentStatus.active.value:
        return 0
    flow = session.get(Flow, enrolment.flow_id)
    if flow is None or not flow.enabled:
        return 0
    customer = session.get(Customer, enrolment.customer_id)
    if customer is not None and customer.merged_into_id is not None:
        # Merged away, and the merge's event not handled yet: move (or end) now.
        # The next pass runs it for the winner (or moves it on, if the winner was merged too).
        move_enrolments(session, loser_id=customer.id, winner_id=customer.merged_into_id)
        return 0
    return advance(session, settings=settings, flow=flow, enrolment=enrolment)


def run_batch(session: Session, settings: Settings, enrolment_ids: list[uuid.UUID]) -> int:
    """Run the due steps of many enrolments in the caller's transaction, their rows locked
    (``SKIP LOCKED`` on PostgreSQL), flow by flow with ``advance_many``; how many steps ran."""
    query = select(Enrolment).where(Enrolment.id.in_(enrolment_ids)).order_by(Enrolment.id)
    if dialect_name(session) == "postgresql":
        query = query.with_for_update(skip_locked=True)
    found = [e for e in session.scalars(query) if e.status == EnrolmentStatus.active.value]
    merged = {
        loser_id: winner_id
        for loser_id, winner_id in session.execute(
            select(Customer.id, Customer.merged_into_id).where(
                Customer.id.in_({e.customer_id for e in found}),
                Customer.merged_into_id.is_not(None),
            )
        )
        if winner_id is not None
    }
    for loser_id, winner_id in merged.items():
        # Merged away, and the merge's event not handled yet: move (or end) now.
        # The next pass runs them for the winner.
        move_enrolments(session, loser_id=loser_id, winner_id=winner_id)
    by_flow: dict[uuid.UUID, list[Enrolment]] = {}
    for e in found:
        if e.customer_id not in merged:
            by_flow.setdefault(e.flow_id, []).append(e)
    steps = 0
    for flow_id, enrolments in by_flow.items():
        flow = session.get(Flow, flow_id)
        if flow is None or not flow.enabled:
            continue
        steps += advance_many(session, settings=settings, flow=flow, enrolments=enrolments)
    return steps


def run_many(
    factory: sessionmaker[Session], settings: Settings, enrolment_ids: list[uuid.UUID]
) -> int:
    """Run the enrolments' due steps, ``STEP_BATCH`` a transaction; a batch that fails is
    run again one enrolment a transaction, so that one bad enrolment holds up no other."""
    steps = 0
    for start in range(0, len(enrolment_ids), STEP_BATCH):
        chunk = enrolment_ids[start : start + STEP_BATCH]
        try:
            with factory() as session, session.begin():
                steps += run_batch(session, settings, chunk)
        except Exception:
            log.exception("flow steps failed for a batch; running them one by one")
            for enrolment_id in chunk:
                try:
                    with factory() as session, session.begin():
                        steps += run_one(session, settings, enrolment_id)
                except Exception:
                    log.exception("flow steps failed for enrolment %s", enrolment_id)
    return steps


def run_due(
    factory: sessionmaker[Session], settings: Settings, *, limit: int = PASS_LIMIT
) -> dict[str, int]:
    """Run the due steps of up to ``limit`` enrolments, ``STEP_BATCH`` a transaction."""
    now = utcnow()
    with factory() as session:
        ids = _due_ids(session, now, limit)
    return {"enrolments": len(ids), "steps": run_many(factory, settings, ids)}


# ------------------------------------------------------------------ daily entry


def _birthdays(session: Session, on: date) -> list[tuple[uuid.UUID, str]]:
    """Customers whose birthday (in their own calendar) is local day ``on``, with the
    occasion: the calendar and the year of that calendar the day celebrates. The day is
    narrowed in SQL (the month and the day, or the days from it on when it is the
    month's last: a 29 February birthday on the 28th in other years), and only the
    candidates' ids and birthdays are read, not a whole month's customers."""
    found: list[tuple[uuid.UUID, str]] = []
    for kind in CalendarKind:
        year, month, day = ymd(on, kind)
        calendar_match = (
            Customer.birth_calendar.is_(None) | (Customer.birth_calendar == kind.value)
            if kind is CalendarKind.gregorian
            else Customer.birth_calendar == kind.value
        )
        day_match = (
            Customer.birth_day >= day
            if day == days_in_month(year, month, kind)
            else Customer.birth_day == day
        )
        candidates = session.execute(
            select(Customer.id, Customer.birth_month, Customer.birth_day).where(
                calendar_match,
                Customer.birth_month == month,
                day_match,
                Customer.merged_into_id.is_(None),
                Customer.erased_at.is_(None),
            )
        )
        found.extend(
            (customer_id, f"birthday:{kind.value}:{year}")
            for customer_id, birth_month, birth_day in candidates
            if birth_month is not None
            and birth_day is not None
            and occasion_for(birth_month, birth_day, kind, on, BirthdayMode.day) is not None
        )
    return found


def _within_reach(session: Session) -> list[tuple[uuid.UUID, str, dict[str, object]]]:
    """Members whose available points cover a catalogue reward, with the costliest such
    reward as the occasion (a member hears once per reward)."""
    rewards = list(
        session.execute(
            select(Reward.id, Reward.name, Reward.cost_points)
            .where(Reward.active.is_(True), Reward.in_catalogue.is_(True), Reward.cost_points > 0)
            .order_by(Reward.cost_points)
        )
    )
    if not rewards:
        return []
    cheapest = rewards[0].cost_points
    found: list[tuple[uuid.UUID, str, dict[str, object]]] = []
    for customer_id, available in session.execute(
        select(LoyaltyAccount.customer_id, LoyaltyAccount.available).where(
            LoyaltyAccount.available >= cheapest
        )
    ):
        best = [r for r in rewards if r.cost_points <= available][-1]
        found.append(
            (
                customer_id,
                f"reward:{best.id}",
                {"reward": {"name": best.name, "cost": best.cost_points}, "available": available},
            )
        )
    return found


Entrant = tuple[uuid.UUID, str, dict[str, object]]


def _selection(
    factory: sessionmaker[Session], settings: Settings, flow_id: uuid.UUID, day: date, now: datetime
) -> Iterator[list[Entrant]]:
    """The day's customers for one flow, ``ENTRY_BATCH`` at a time: a daily condition
    (a segment rule, which may select a large part of the store) by keyset chunks of
    customer ids, each chunk its own short statement, so memory does not grow with the
    selection; the other rules select few (a day's birthdays, a window's replenishments)
    in one statement, handed on in chunks."""
    with factory() as session:
        flow = session.get(Flow, flow_id)
        if flow is None:
            return
        definition = definition_of(flow)
    trigger = definition.trigger
    extra: dict[str, object] = {"day": day.isoformat()}
    if isinstance(trigger, DailyTrigger):
        blocked = keeps_out(flow_id, definition, now)
        occasion = f"day:{day.isoformat()}"
        after: uuid.UUID | None = None
        while True:
            with factory() as session:
                query = segments.members_query(
                    session, settings=settings, rules=Rules.model_validate(trigger.rules)
                ).where(~exists().where(blocked, Enrolment.customer_id == Customer.id))
                if after is not None:
                    query = query.where(Customer.id > after)
                ids = list(session.scalars(query.order_by(Customer.id).limit(ENTRY_BATCH)))
            if ids:
                yield [(cid, occasion, extra) for cid in ids]
            if len(ids) < ENTRY_BATCH:
                return
            after = ids[-1]
    people: list[Entrant]
    with factory() as session:
        if isinstance(trigger, DateTrigger):
            people = [
                (cid, occasion, extra)
                for cid, occasion in _birthdays(session, day + timedelta(days=trigger.days_before))
            ]
        elif isinstance(trigger, ReachTrigger):
            people = [
                (cid, occasion, {**extra, **more}) for cid, occasion, more in _within_reach(session)
            ]
        elif isinstance(trigger, ReplenishTrigger):
            # Soonest expected first: a customer due for two products hears of the
            # first today (one way through at a time) and of the other on a later day
            # of its window.
            people = [
                (item.customer_id, item.occasion, {**extra, **item.context()})
                for item in due_on(session, trigger, day, settings.timezone)
            ]
        else:
            return
    for start in range(0, len(people), ENTRY_BATCH):
        yield people[start : start + ENTRY_BATCH]


def _enter_day(
    factory: sessionmaker[Session], settings: Settings, flow_id: uuid.UUID, day: date
) -> int:
    """Enter the day's customers into one flow, a chunk of ``ENTRY_BATCH`` at a time
    (``_selection``): ``enrol_many`` the chunk in one transaction (a crash loses at most
    the chunk in flight, which the day's run repeats: entering is keyed on the occasion),
    then the chunk's first steps that are due at once, ``STEP_BATCH`` enrolments a
    transaction (a crash leaves them due, for ``run_due``)."""
    now = utcnow()
    entered = 0
    for chunk in _selection(factory, settings, flow_id, day, now):
        with factory() as session, session.begin():
            flow = session.get(Flow, flow_id)
            if flow is None or not flow.enabled:
                return entered
            done = enrol_many(session, settings=settings, flow=flow, entrants=chunk, now=now)
            entered += len(done.ids)
        run_many(factory, settings, done.due_now)
    return entered


def due_days(factory: sessionmaker[Session], settings: Settings, now: datetime) -> list[date]:
    """The local days (up to ``CATCH_UP_DAYS`` back, today included) not yet run."""
    today = local_date(now, settings.zone)
    with factory() as session:
        done = set(
            session.scalars(
                select(DailyRun.day).where(DailyRun.day > today - timedelta(days=CATCH_UP_DAYS))
            )
        )
        ever = session.scalar(select(DailyRun.day).limit(1)) is not None
    if not ever:
        return [today]
    days = [today - timedelta(days=n) for n in range(CATCH_UP_DAYS - 1, -1, -1)]
    return [d for d in days if d not in done]


def run_day(factory: sessionmaker[Session], settings: Settings, day: date) -> dict[str, int]:
    """Enter the day's customers into every calendar-started flow; mark the day done."""
    with factory() as session:
        flows = [
            f.id
            for f in session.scalars(select(Flow).where(Flow.enabled.is_(True)).order_by(Flow.key))
            if isinstance(definition_of(f).trigger, CALENDAR_TRIGGERS)
        ]
    entered = sum(_enter_day(factory, settings, flow_id, day) for flow_id in flows)
    with factory() as session, session.begin():
        insert_new(
            session, DailyRun, index_elements=["day"], values={"day": day, "ran_at": utcnow()}
        )
    return {"flows": len(flows), "entered": entered}


def _run_due_task(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    return run_due(factory, settings)


def tasks() -> list[Task]:
    """What the worker runs for flows: due steps every pass, calendar entries once a day."""
    return [
        IntervalTask("flows.due", every=5.0, run=_run_due_task),
        DailyTask("flows.daily", due=due_days, run=run_day),
    ]
