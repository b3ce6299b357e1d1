"""The flows consumer: an outbox event enters its customer into the flows it starts.

The customer is entered (keyed on the event's id, so a replay enters nobody twice) and
the steps that are due at once run in the same transaction as the event's receipt: an
order confirmation is queued while the worker handles ``order.placed`` and goes out in
the same worker pass.

History is not news: an imported order, or one placed more than ``STALE_AFTER`` ago
(a late webhook, a back-filled record), starts no flow.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from wafa.core.db import insert_ignoring_conflicts, insert_new
from wafa.core.events import BATCH_MEMO, Consumer, Envelope, Event, Handles
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers.events import CustomerCreated, CustomerMerged
from wafa.flows.engine import (
    advance,
    advance_many,
    definition_of,
    enrol,
    enrol_many,
    finish,
    refusal,
    refusals,
)
from wafa.flows.models import Enrolment, EnrolmentStatus, Flow, Skip
from wafa.flows.presets import ensure_presets
from wafa.flows.spec import CALENDAR_TRIGGERS, EventTrigger
from wafa.gatherings.events import (
    GatheringCancelled,
    GatheringInvited,
    GatheringReminder,
    SeatGiven,
)
from wafa.loyalty.events import (
    BirthdayRewardGranted,
    PointsExpiring,
    ReferralRewarded,
    SurpriseGranted,
    TierChanged,
)
from wafa.orders.events import OrderPlaced, OrderStatusChanged

CONSUMER = "flows"
#: Topics whose news must reach the customer or leave a recorded reason: the loyalty
#: engine announces expiring points once, and only a flow tells the member.
NEVER_SILENT = frozenset({"points.expiring"})
#: An order placed longer ago than this is history: it starts no flow.
STALE_AFTER = timedelta(hours=48)
_SKIPS = cast(Table, Skip.__table__)


def _context(event: Event) -> dict[str, Any]:
    data = event.model_dump(mode="json")
    data.pop("customer_id", None)
    return data


def start_flows(
    session: Session,
    settings: Settings,
    *,
    topic: str,
    customer_id: uuid.UUID,
    occasion: str,
    context: dict[str, Any],
    status_to: str | None = None,
) -> int:
    """Enter the customer into every switched-on flow that ``topic`` starts; how many.

    For a topic in ``NEVER_SILENT`` every flow it would start either enters the
    customer or records why not (``flow_skips``): switched off, filtered out, ...
    """
    memo = session.info.get(BATCH_MEMO)
    if memo is None or not memo.get("flows.presets"):
        # Once per batch of events (the presets cannot change inside its transaction).
        ensure_presets(session)
        if memo is not None:
            memo["flows.presets"] = True
    entered = 0
    recorded = topic in NEVER_SILENT
    query = select(Flow).order_by(Flow.key)
    if not recorded:
        query = query.where(Flow.enabled.is_(True))
    for flow in session.scalars(query):
        trigger = definition_of(flow).trigger
        if not isinstance(trigger, EventTrigger) or trigger.topic != topic:
            continue
        if not trigger.starts_on(status_to):
            continue
        if not flow.enabled:
            if recorded:
                _skip(session, flow, customer_id, topic, occasion, "off")
            continue
        enrolment = enrol(
            session,
            settings=settings,
            flow=flow,
            customer_id=customer_id,
            occasion=occasion,
            context=context,
        )
        if enrolment is not None:
            entered += 1
            advance(session, settings=settings, flow=flow, enrolment=enrolment)
        elif recorded:
            why = refusal(session, settings=settings, flow=flow, customer_id=customer_id)
            _skip(session, flow, customer_id, topic, occasion, why or "entered_before")
    return entered


def start_flows_many(
    session: Session,
    settings: Settings,
    *,
    topic: str,
    starts: Sequence[tuple[uuid.UUID, str, dict[str, Any]]],
) -> int:
    """``start_flows`` for many events of one topic at once, in the caller's transaction:
    a few statements a flow whatever their number (``enrol_many`` then ``advance_many``;
    for a topic in ``NEVER_SILENT`` the refusals' reasons found together and the skips
    written together). ``starts`` are ``(customer, occasion, context)`` in the events'
    order. A customer named by several events is taken in rounds, each customer once a
    round in that order, so the second event sees the first's enrolment as ``start_flows``
    on each event in turn would. For topics whose flows need no order's context (an
    order's flows wait for its promise and read its lines: ``start_flows``)."""
    memo = session.info.get(BATCH_MEMO)
    if memo is None or not memo.get("flows.presets"):
        ensure_presets(session)
        if memo is not None:
            memo["flows.presets"] = True
    recorded = topic in NEVER_SILENT
    query = select(Flow).order_by(Flow.key)
    if not recorded:
        query = query.where(Flow.enabled.is_(True))
    flows = [
        f
        for f in session.scalars(query)
        if isinstance(trigger := definition_of(f).trigger, EventTrigger)
        and trigger.topic == topic
        and trigger.starts_on(None)
    ]
    rounds: list[list[tuple[uuid.UUID, str, dict[str, Any]]]] = []
    seen: dict[uuid.UUID, int] = {}
    for start in starts:
        turn = seen.get(start[0], 0)
        seen[start[0]] = turn + 1
        if turn == len(rounds):
            rounds.append([])
        rounds[turn].append(start)
    entered = 0
    for listed in rounds:
        for flow in flows:
            if not flow.enabled:
                if recorded:
                    _skip_many(session, flow, topic, [(c, o, "off") for c, o, _ in listed])
                continue
            now = utcnow()
            done = enrol_many(session, settings=settings, flow=flow, entrants=listed, now=now)
            entered += len(done.ids)
            if done.due_now:
                enrolments = list(
                    session.scalars(
                        select(Enrolment)
                        .where(Enrolment.id.in_(done.due_now))
                        .order_by(Enrolment.id)
                    )
                )
                advance_many(session, settings=settings, flow=flow, enrolments=enrolments, now=now)
            if recorded:
                ins = {
                    (c, o)
                    for c, o in session.execute(
                        select(Enrolment.customer_id, Enrolment.occasion).where(
                            Enrolment.id.in_(done.ids)
                        )
                    )
                }
                out = [(c, o) for c, o, _ in listed if (c, o[:200]) not in ins]
                why = refusals(
                    session, settings=settings, flow=flow, customer_ids=[c for c, _ in out]
                )
                _skip_many(
                    session,
                    flow,
                    topic,
                    [(c, o, why.get(c) or "entered_before") for c, o in out],
                )
    return entered


def _skip_many(
    session: Session, flow: Flow, topic: str, skips: Sequence[tuple[uuid.UUID, str, str]]
) -> None:
    """``_skip`` for many customers at once (``ON CONFLICT DO NOTHING`` as one by one)."""
    if not skips:
        return
    now = utcnow()
    session.execute(
        insert_ignoring_conflicts(
            session, _SKIPS, index_elements=["flow_key", "customer_id", "occasion"]
        ),
        [
            {
                "id": new_id(),
                "flow_key": flow.key,
                "customer_id": customer_id,
                "topic": topic,
                "occasion": occasion[:200],
                "reason": reason,
                "at": now,
            }
            for customer_id, occasion, reason in skips
        ],
    )


def _skip(
    session: Session,
    flow: Flow,
    customer_id: uuid.UUID,
    topic: str,
    occasion: str,
    reason: str,
) -> None:
    insert_new(
        session,
        Skip,
        index_elements=["flow_key", "customer_id", "occasion"],
        values={
            "id": new_id(),
            "flow_key": flow.key,
            "customer_id": customer_id,
            "topic": topic,
            "occasion": occasion[:200],
            "reason": reason,
            "at": utcnow(),
        },
    )


def move_enrolments(
    session: Session, *, loser_id: uuid.UUID, winner_id: uuid.UUID
) -> dict[str, int]:
    """After a merge, the loser's ways through the flows become the winner's, so the
    winner is never sent one step twice:

    - an enrolment for an occasion the winner has too (one birthday, one reward reached,
      one replenishment cycle) stays on the loser's record and, if still under way,
      ends (``exited``, reason ``merged``): the winner's own goes on;
    - an enrolment still under way in a flow entered by the calendar (one way through
      at a time) while the winner is under way in it too ends the same way;
    - every other enrolment (an order's flows: the order moved to the winner too, and
      finished ones, which keep cooldowns and "once per cycle") moves to the winner.
    """
    flows = {f.id: f for f in session.scalars(select(Flow))}
    winner_rows = list(session.scalars(select(Enrolment).where(Enrolment.customer_id == winner_id)))
    occasions = {(e.flow_id, e.occasion) for e in winner_rows}
    busy = {e.flow_id for e in winner_rows if e.status == EnrolmentStatus.active.value}
    moved = ended = 0
    query = (
        select(Enrolment).where(Enrolment.customer_id == loser_id).order_by(Enrolment.entered_at)
    )
    for enrolment in session.scalars(query):
        flow = flows.get(enrolment.flow_id)
        if flow is None:
            continue
        active = enrolment.status == EnrolmentStatus.active.value
        calendar = isinstance(definition_of(flow).trigger, CALENDAR_TRIGGERS)
        if (enrolment.flow_id, enrolment.occasion) in occasions or (
            active and calendar and enrolment.flow_id in busy
        ):
            if active:
                finish(session, flow, enrolment, EnrolmentStatus.exited, "merged")
                ended += 1
            continue
        enrolment.customer_id = winner_id
        occasions.add((enrolment.flow_id, enrolment.occasion))
        if active:
            busy.add(enrolment.flow_id)
        moved += 1
    session.flush()
    return {"moved": moved, "ended": ended}


def consumer(settings: Settings) -> Consumer:
    """The flows consumer bound to ``settings``."""

    def placed(session: Session, event: OrderPlaced, envelope: Envelope) -> None:
        if event.customer_id is None or event.imported:
            return
        if event.placed_at < utcnow() - STALE_AFTER:
            return
        start_flows(
            session,
            settings,
            topic=event.topic,
            customer_id=event.customer_id,
            occasion=f"event:{envelope.id}",
            context=_context(event),
        )

    def moved(session: Session, event: OrderStatusChanged, envelope: Envelope) -> None:
        if event.customer_id is None or event.at < utcnow() - STALE_AFTER:
            return
        start_flows(
            session,
            settings,
            topic=event.topic,
            customer_id=event.customer_id,
            occasion=f"event:{envelope.id}",
            context=_context(event),
            status_to=event.to_status,
        )

    def about_customer(
        session: Session,
        event: CustomerCreated
        | PointsExpiring
        | TierChanged
        | ReferralRewarded
        | BirthdayRewardGranted
        | SurpriseGranted
        | GatheringInvited
        | SeatGiven
        | GatheringReminder
        | GatheringCancelled,
        envelope: Envelope,
    ) -> None:
        start_flows(
            session,
            settings,
            topic=event.topic,
            customer_id=event.customer_id,
            occasion=f"event:{envelope.id}",
            context=_context(event),
        )

    def expiring_many(session: Session, events: Sequence[tuple[PointsExpiring, Envelope]]) -> None:
        start_flows_many(
            session,
            settings,
            topic=PointsExpiring.topic,
            starts=[
                (event.customer_id, f"event:{envelope.id}", _context(event))
                for event, envelope in events
            ],
        )

    def merged(session: Session, event: CustomerMerged, _: Envelope) -> None:
        move_enrolments(session, loser_id=event.loser_id, winner_id=event.winner_id)

    return Consumer(
        CONSUMER,
        (
            Handles(CustomerMerged, merged),
            Handles(OrderPlaced, placed),
            Handles(OrderStatusChanged, moved),
            Handles(CustomerCreated, about_customer),
            Handles(PointsExpiring, about_customer, expiring_many),
            Handles(TierChanged, about_customer),
            Handles(ReferralRewarded, about_customer),
            Handles(BirthdayRewardGranted, about_customer),
            Handles(SurpriseGranted, about_customer),
            Handles(GatheringInvited, about_customer),
            Handles(SeatGiven, about_customer),
            Handles(GatheringReminder, about_customer),
            Handles(GatheringCancelled, about_customer),
        ),
    )


def consumers(settings: Settings) -> list[Consumer]:
    """The consumer the worker runs."""
    return [consumer(settings)]
