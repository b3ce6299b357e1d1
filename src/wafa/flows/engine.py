"""The flow engine: enter a customer into a flow, and walk them through its steps.

A customer enters a flow for one *occasion* (an event's id, a birthday's year, a day):
``(flow, customer, occasion)`` is unique, so a replayed event or a daily job run twice
enters nobody twice. Entering checks the flow's filters and its re-entry cooldown,
assigns the holdout (stable per flow and customer) and stores an enrolment at the
first step, due at once.

``advance`` runs an enrolment's due steps, in the caller's transaction, until a wait
(the enrolment is stored with the wait's due time) or the end. Each step writes one
``StepRun`` (unique per enrolment and step) together with what it did: a message
queued with occasion ``enrolment:step`` (messaging's own unique key), a coupon issued
with the same occasion, points credited. The step, its effect and the enrolment's move
commit together or not at all: a worker killed at any moment leaves either the step
done and the customer past it, or neither, and the next run goes on from there.

Before every send the filters are checked again and the exit condition before every
step: a customer who stops matching, or who ordered again, leaves the flow. Holdout
customers walk the same steps but are sent and given nothing (``held_out``): the lift
report compares them with the others.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Table, bindparam, exists, false, func, or_, select
from sqlalchemy.orm import Session

from wafa.core.calendars import local_date
from wafa.core.db import insert_ignoring_conflicts, insert_new
from wafa.core.events import emit, emit_many
from wafa.core.ids import new_id
from wafa.core.money import format_money
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.feedback.service import survey_link
from wafa.flows.events import FlowEntered, FlowFinished
from wafa.flows.models import Enrolment, EnrolmentStatus, Flow, StepOutcome, StepRun
from wafa.flows.spec import (
    CALENDAR_TRIGGERS,
    EXIT,
    BranchStep,
    CouponStep,
    Definition,
    PointsStep,
    SendStep,
    Step,
    WaitStep,
)
from wafa.gatherings import texts as gathering_texts
from wafa.loyalty import coupons, referrals
from wafa.loyalty import service as loyalty
from wafa.loyalty.bounceback import service as bounceback
from wafa.loyalty.models import CouponSource, PointsEntry, RewardKind
from wafa.messaging import consent
from wafa.messaging.models import ContactPreferences, Message, Priority, Topic
from wafa.messaging.queue import queue_many, queue_message
from wafa.messaging.segments import service as segments
from wafa.messaging.segments.rules import Rules
from wafa.orders.models import Order, OrderStatus
from wafa.orders.sales import sold

__all__ = [
    "Entered",
    "advance",
    "advance_many",
    "definition_of",
    "enrol",
    "enrol_many",
    "finish",
    "finish_many",
    "in_holdout",
    "reason_for",
    "refusals",
]


def definition_of(flow: Flow) -> Definition:
    """The flow's stored definition, validated again."""
    return Definition.model_validate(flow.definition)


def reason_for(flow: Flow) -> str:
    """The ``reason`` of every message the flow queues (messaging's unique key part)."""
    return f"flow.{flow.key}"


def in_holdout(flow: Flow, customer_id: uuid.UUID) -> bool:
    """Whether the customer is in the flow's holdout: a stable draw per flow and customer
    (the same answer at every entry), ``holdout_percent`` out of a hundred."""
    if flow.holdout_percent <= 0 or flow.kind != "marketing":
        return False
    digest = hashlib.sha256(f"{flow.id}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < flow.holdout_percent


def matches(
    session: Session, settings: Settings, rules: Mapping[str, Any], customer_id: uuid.UUID
) -> bool:
    """Whether the segment rule ``rules`` selects the customer now."""
    parsed = Rules.model_validate(rules)
    if parsed.is_group and not parsed.items:
        customer = session.get(Customer, customer_id)
        return customer is not None and customer.is_active
    query = segments.members_query(session, settings=settings, rules=parsed)
    return session.scalar(query.where(Customer.id == customer_id).limit(1)) is not None


def finish(
    session: Session, flow: Flow, enrolment: Enrolment, status: EnrolmentStatus, reason: str | None
) -> None:
    """End ``enrolment`` with ``status`` and ``reason`` and announce it (``flow.finished``)."""
    finish_many(session, flow, [enrolment], status, reason)


def finish_many(
    session: Session,
    flow: Flow,
    enrolments: Sequence[Enrolment],
    status: EnrolmentStatus,
    reason: str | None,
) -> None:
    """``finish`` for many enrolments of one flow: their ``flow.finished`` events written
    together (one by one, each event's insert flushed the enrolment before it alone)."""
    if not enrolments:
        return
    now = _now()
    for enrolment in enrolments:
        enrolment.status = status.value
        enrolment.exit_reason = reason
        enrolment.due_at = None
        enrolment.finished_at = now
    emit_many(
        session,
        [
            FlowFinished(
                customer_id=enrolment.customer_id,
                flow_id=flow.id,
                flow_key=flow.key,
                enrolment_id=enrolment.id,
                status=status.value,
                reason=reason,
            )
            for enrolment in enrolments
        ],
    )


def _now() -> datetime:
    return utcnow()


def refusal(
    session: Session,
    *,
    settings: Settings,
    flow: Flow,
    customer_id: uuid.UUID,
    now: datetime | None = None,
) -> str | None:
    """Why the customer cannot enter ``flow`` now (``None``: they can): ``not_live``
    (merged or erased), ``cooldown``, ``in_flow`` (still mid-way through a calendar
    flow) or ``filtered``. Whether the flow is switched on is the caller's check."""
    now = now or _now()
    definition = definition_of(flow)
    customer = session.get(Customer, customer_id)
    if customer is None or not customer.is_active:
        return "not_live"
    recent = select(Enrolment.id).where(
        Enrolment.flow_id == flow.id, Enrolment.customer_id == customer_id
    )
    if definition.cooldown_days:
        since = now - timedelta(days=definition.cooldown_days)
        if session.scalar(recent.where(Enrolment.entered_at > since).limit(1)) is not None:
            return "cooldown"
    if isinstance(definition.trigger, CALENDAR_TRIGGERS):
        # One way through at a time for flows that are entered by the calendar.
        active = recent.where(Enrolment.status == EnrolmentStatus.active.value)
        if session.scalar(active.limit(1)) is not None:
            return "in_flow"
    if not matches(session, settings, definition.filters, customer_id):
        return "filtered"
    return None


def refusals(
    session: Session,
    *,
    settings: Settings,
    flow: Flow,
    customer_ids: Sequence[uuid.UUID],
    now: datetime | None = None,
) -> dict[uuid.UUID, str]:
    """``refusal`` for many customers at once (a few statements): the reason each of
    ``customer_ids`` cannot enter ``flow`` now; those who can are left out."""
    now = now or _now()
    definition = definition_of(flow)
    ids = list(dict.fromkeys(customer_ids))
    if not ids:
        return {}
    live = set(
        session.scalars(
            select(Customer.id).where(
                Customer.id.in_(ids),
                Customer.merged_into_id.is_(None),
                Customer.erased_at.is_(None),
            )
        )
    )
    found: dict[uuid.UUID, str] = {c: "not_live" for c in ids if c not in live}
    rest = [c for c in ids if c in live]
    mine = (Enrolment.flow_id == flow.id, Enrolment.customer_id.in_(rest))
    if rest and definition.cooldown_days:
        since = now - timedelta(days=definition.cooldown_days)
        for c in session.scalars(
            select(Enrolment.customer_id).where(*mine, Enrolment.entered_at > since).distinct()
        ):
            found.setdefault(c, "cooldown")
        rest = [c for c in rest if c not in found]
    if rest and isinstance(definition.trigger, CALENDAR_TRIGGERS):
        mine = (Enrolment.flow_id == flow.id, Enrolment.customer_id.in_(rest))
        for c in session.scalars(
            select(Enrolment.customer_id)
            .where(*mine, Enrolment.status == EnrolmentStatus.active.value)
            .distinct()
        ):
            found.setdefault(c, "in_flow")
        rest = [c for c in rest if c not in found]
    if rest:
        selected = _selected(session, settings, definition.filters, rest)
        found.update((c, "filtered") for c in rest if c not in selected)
    return found


def enrol(
    session: Session,
    *,
    settings: Settings,
    flow: Flow,
    customer_id: uuid.UUID,
    occasion: str,
    context: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Enrolment | None:
    """Enter the customer into ``flow`` for ``occasion``; the new enrolment, or ``None``
    (entered before for this occasion, within the cooldown, still mid-way through a
    date or daily flow, filtered out, or not a live customer)."""
    now = now or _now()
    if refusal(session, settings=settings, flow=flow, customer_id=customer_id, now=now):
        return None
    definition = definition_of(flow)
    enrolment_id = new_id()
    holdout = in_holdout(flow, customer_id)
    inserted = insert_new(
        session,
        Enrolment,
        index_elements=["flow_id", "customer_id", "occasion"],
        values={
            "id": enrolment_id,
            "flow_id": flow.id,
            "customer_id": customer_id,
            "occasion": occasion[:200],
            "status": EnrolmentStatus.active.value,
            "step": definition.steps[0].key,
            "position": 0,
            "due_at": now,
            "holdout": holdout,
            "context": dict(context or {}),
            "entered_at": now,
        },
    )
    if not inserted:
        return None
    emit(
        session,
        FlowEntered(
            customer_id=customer_id,
            flow_id=flow.id,
            flow_key=flow.key,
            enrolment_id=enrolment_id,
            holdout=holdout,
        ),
    )
    return session.get(Enrolment, enrolment_id)


@dataclass
class Entered:
    """What ``enrol_many`` did: the new enrolments, and those of them due now (their
    first step is not a wait, or a wait already over), for the caller to ``advance``."""

    ids: list[uuid.UUID] = field(default_factory=list)
    due_now: list[uuid.UUID] = field(default_factory=list)


def keeps_out(flow_id: uuid.UUID, definition: Definition, now: datetime) -> ColumnElement[bool]:
    """The flow's enrolments that keep their customer out now (``refusal``'s rule as one
    condition): one entered within the cooldown, or, for a flow entered by the
    calendar, one still under way."""
    reasons: list[ColumnElement[bool]] = []
    if definition.cooldown_days:
        reasons.append(Enrolment.entered_at > now - timedelta(days=definition.cooldown_days))
    if isinstance(definition.trigger, CALENDAR_TRIGGERS):
        reasons.append(Enrolment.status == EnrolmentStatus.active.value)
    if not reasons:
        return false()
    return (Enrolment.flow_id == flow_id) & or_(*reasons)


def _selected(
    session: Session, settings: Settings, rules: Mapping[str, Any], ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of ``ids`` are live customers the segment rule ``rules`` selects now
    (``matches`` for many customers in one statement)."""
    parsed = Rules.model_validate(rules)
    live = (Customer.id.in_(ids), Customer.merged_into_id.is_(None), Customer.erased_at.is_(None))
    if parsed.is_group and not parsed.items:
        return set(session.scalars(select(Customer.id).where(*live)))
    query = segments.members_query(session, settings=settings, rules=parsed)
    return set(session.scalars(query.where(*live)))


_ENROLMENTS = cast(Table, Enrolment.__table__)
_STEP_RUNS = cast(Table, StepRun.__table__)


def enrol_many(
    session: Session,
    *,
    settings: Settings,
    flow: Flow,
    entrants: Iterable[tuple[uuid.UUID, str, Mapping[str, Any]]],
    now: datetime | None = None,
) -> Entered:
    """``enrol`` for many customers at once, in the caller's transaction: a handful of
    statements whatever their number (the filters, the cooldown and "one way through at a
    time" checked for all together; the enrolments inserted with ``ON CONFLICT DO
    NOTHING`` on the occasion key; the ``flow.entered`` events written together).

    ``entrants`` are ``(customer, occasion, context)``; a customer listed twice enters
    once, for the first occasion listed that they have not entered before (nobody is in
    a flow twice at once, and the cooldown starts at that entry). A first step that waits is run here for all of them
    (its ``StepRun`` and the due time, in the customer's timezone when it names a local
    time); any other first step is left due now, for the caller to ``advance``.
    """
    now = now or _now()
    definition = definition_of(flow)
    listed = [(c, occasion[:200], context) for c, occasion, context in entrants]
    result = Entered()
    if not listed:
        return result
    # Occasions entered before are passed over first (as ``enrol`` finds them taken),
    # so that a customer listed again for another occasion may enter for that one.
    taken = {
        (customer_id, occasion)
        for customer_id, occasion in session.execute(
            select(Enrolment.customer_id, Enrolment.occasion).where(
                Enrolment.flow_id == flow.id,
                Enrolment.customer_id.in_({c for c, _, _ in listed}),
                Enrolment.occasion.in_({o for _, o, _ in listed}),
            )
        )
    }
    wanted: dict[uuid.UUID, tuple[str, Mapping[str, Any]]] = {}
    for customer_id, occasion, context in listed:
        if (customer_id, occasion) not in taken:
            wanted.setdefault(customer_id, (occasion, context))
    if not wanted:
        return result
    ids = list(wanted)
    selected = _selected(session, settings, definition.filters, ids)
    busy = set(
        session.scalars(
            select(Enrolment.customer_id).where(
                keeps_out(flow.id, definition, now), Enrolment.customer_id.in_(ids)
            )
        )
    )
    first = definition.steps[0]
    waits = isinstance(first, WaitStep)
    rows: list[dict[str, Any]] = []
    for customer_id in ids:
        if customer_id not in selected or customer_id in busy:
            continue
        occasion, context = wanted[customer_id]
        rows.append(
            {
                "id": new_id(),
                "flow_id": flow.id,
                "customer_id": customer_id,
                "occasion": occasion,
                "status": EnrolmentStatus.active.value,
                "step": first.key,
                "position": 0,
                "due_at": now,
                "holdout": in_holdout(flow, customer_id),
                "context": dict(context),
                "entered_at": now,
            }
        )
    if not rows:
        return result
    inserted = {
        enrolment_id
        for (enrolment_id,) in session.execute(
            insert_ignoring_conflicts(
                session, _ENROLMENTS, index_elements=["flow_id", "customer_id", "occasion"]
            ).returning(_ENROLMENTS.c.id),
            rows,
        )
    }
    rows = [r for r in rows if r["id"] in inserted]
    if not rows:
        return result
    result.ids = [r["id"] for r in rows]
    emit_many(
        session,
        (
            FlowEntered(
                customer_id=r["customer_id"],
                flow_id=flow.id,
                flow_key=flow.key,
                enrolment_id=r["id"],
                holdout=r["holdout"],
            )
            for r in rows
        ),
    )
    if not waits:
        result.due_now = result.ids
        return result
    assert isinstance(first, WaitStep)
    zones = _zones(session, [r["customer_id"] for r in rows]) if first.at else {}
    runs: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    following = definition.steps[1].key if len(definition.steps) > 1 else None
    for r in rows:
        due = wait_until(first, now, settings, zone=zones.get(r["customer_id"]))
        runs.append(
            {
                "id": new_id(),
                "enrolment_id": r["id"],
                "flow_id": flow.id,
                "step": first.key,
                "outcome": StepOutcome.waited.value,
                "detail": due.isoformat(),
                "message_id": None,
                "at": now,
            }
        )
        moves.append({"id": r["id"], "step": following, "position": 1, "due_at": due})
        if due <= now:
            result.due_now.append(r["id"])
    session.execute(_STEP_RUNS.insert(), runs)
    session.execute(
        _ENROLMENTS.update()
        .where(_ENROLMENTS.c.id == bindparam("b_id"))
        .values(
            step=bindparam("b_step"), position=bindparam("b_position"), due_at=bindparam("b_due")
        ),
        [
            {"b_id": m["id"], "b_step": m["step"], "b_position": 1, "b_due": m["due_at"]}
            for m in moves
        ],
    )
    return result


def _zones(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ZoneInfo]:
    """The customers' own timezones, for those who have a valid one (``customer_zone``
    for many customers at once)."""
    zones: dict[uuid.UUID, ZoneInfo] = {}
    for customer_id, name in session.execute(
        select(ContactPreferences.customer_id, ContactPreferences.timezone).where(
            ContactPreferences.customer_id.in_(ids), ContactPreferences.timezone.is_not(None)
        )
    ):
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            zones[customer_id] = ZoneInfo(str(name))
    return zones


# ------------------------------------------------------------------ conditions


def ordered_since(session: Session, enrolment: Enrolment) -> bool:
    """Whether the customer placed a sale after entering (the triggering order aside)."""
    query = select(
        exists().where(
            Order.customer_id == enrolment.customer_id,
            Order.placed_at > enrolment.entered_at,
            sold(),
        )
    )
    trigger_order = (enrolment.context or {}).get("order_id")
    if trigger_order:
        query = select(
            exists().where(
                Order.customer_id == enrolment.customer_id,
                Order.placed_at > enrolment.entered_at,
                Order.id != uuid.UUID(str(trigger_order)),
                sold(),
            )
        )
    return bool(session.scalar(query))


def _order_delivered(session: Session, enrolment: Enrolment) -> bool:
    order_id = (enrolment.context or {}).get("order_id")
    if not order_id:
        return False
    order = session.get(Order, uuid.UUID(str(order_id)))
    return order is not None and (
        order.delivered_at is not None or order.status == OrderStatus.delivered
    )


def _holds(session: Session, step: BranchStep, enrolment: Enrolment) -> bool:
    if step.condition == "ordered_since_entry":
        return ordered_since(session, enrolment)
    if step.condition == "order_delivered":
        return _order_delivered(session, enrolment)
    return not _order_delivered(session, enrolment)


def _promised(session: Session, enrolment: Enrolment) -> datetime | None:
    order_id = (enrolment.context or {}).get("order_id")
    if not order_id:
        return None
    order = session.get(Order, uuid.UUID(str(order_id)))
    return order.promised_at if order is not None else None


def customer_zone(session: Session, settings: Settings, customer_id: uuid.UUID) -> ZoneInfo:
    """The customer's own timezone (their messaging preferences), else the business's."""
    prefs = consent.preferences(session, customer_id)
    if prefs is not None and prefs.timezone:
        try:
            return ZoneInfo(prefs.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return settings.zone


def wait_until(
    step: WaitStep,
    now: datetime,
    settings: Settings,
    *,
    promised: datetime | None = None,
    zone: ZoneInfo | None = None,
) -> datetime:
    """When a wait that starts at ``now`` ends (``at``: the next such local time after
    the duration, in ``zone``, the customer's, else the business's; ``until``: the
    order's promised time)."""
    if step.until == "order_promised" and promised is not None:
        return max(promised, now)
    due = now + timedelta(days=step.days, hours=step.hours, minutes=step.minutes)
    if step.at is None:
        return due
    hour, minute = (int(x) for x in step.at.split(":"))
    zone = zone or settings.zone
    day = local_date(due, zone)
    at = datetime.combine(day, time(hour, minute), tzinfo=zone)
    if at < due:
        at = datetime.combine(day + timedelta(days=1), time(hour, minute), tzinfo=zone)
    return at.astimezone(now.tzinfo)


# ------------------------------------------------------------------ context


def _not_after(enrolment: Enrolment) -> datetime | None:
    """The moment from which the trigger's messages are pointless (an event's start: a
    reminder after it), if the trigger gave one."""
    raw = (enrolment.context or {}).get("not_after")
    if not raw:
        return None
    try:
        found = datetime.fromisoformat(str(raw))
    except ValueError:
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def _order_id(enrolment: Enrolment) -> uuid.UUID | None:
    """The order the enrolment is about (its trigger's), if any."""
    raw = (enrolment.context or {}).get("order_id")
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


def order_context(session: Session, settings: Settings, order_id: str) -> dict[str, Any]:
    """What a message about an order may say: number, lines, total, status."""
    from wafa.orders.models import OrderLine

    order = session.get(Order, uuid.UUID(order_id))
    if order is None:
        return {}
    lines = session.scalars(
        select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.line_no)
    )
    earned = session.scalar(
        select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
            PointsEntry.order_id == order.id, PointsEntry.points > 0
        )
    )
    return {
        "id": str(order.id),
        "number": order.number or order.external_id,
        "points_earned": int(earned or 0),
        "external_id": order.external_id,
        "status": order.status,
        "total": format_money(order.total_amount, order.currency, "en"),
        "lines": [
            {
                "name": line.name,
                "quantity": line.quantity,
                "total": format_money(line.total_amount, order.currency, "en"),
            }
            for line in lines
        ],
        "promised_on": (
            local_date(order.promised_at, settings.zone).isoformat() if order.promised_at else None
        ),
        "bounce_back": _bounce_back(session, settings, order.id),
    }


def _bounce_back(
    session: Session, settings: Settings, order_id: uuid.UUID
) -> dict[str, Any] | None:
    """The next-visit coupon the order earned (bounce-back offers), dates in the business calendar."""
    offer = bounceback.coupon_for_order(session, settings=settings, order_id=order_id)
    if offer is None:
        return None
    if offer.kind == RewardKind.discount_percent and offer.percent_bp:
        value = f"{offer.percent_bp / 100:g}%"
    elif offer.kind == RewardKind.discount_fixed and offer.amount:
        value = format_money(offer.amount, offer.currency, "en")
    else:
        value = None
    return {
        "code": offer.code,
        "name": offer.name,
        "value": value,
        "valid_from": bounceback.day_text(offer.first_day, settings),
        "valid_until": bounceback.day_text(offer.last_day, settings),
    }


def _message_context(
    session: Session, settings: Settings, flow: Flow, enrolment: Enrolment
) -> dict[str, Any]:
    context: dict[str, Any] = {"flow": {"key": flow.key, "name": flow.name}}
    context.update(enrolment.context or {})
    order_id = context.get("order_id")
    if order_id:
        context["order"] = order_context(session, settings, str(order_id))
    gathering_id = context.get("gathering_id")
    if gathering_id:
        context["gathering"] = gathering_texts.message_context(
            session, settings=settings, gathering_id=gathering_id, customer_id=enrolment.customer_id
        )
    return context


# ------------------------------------------------------------------ steps


def _record(
    session: Session,
    flow: Flow,
    enrolment: Enrolment,
    step: Step,
    outcome: StepOutcome,
    *,
    detail: str | None = None,
    message_id: uuid.UUID | None = None,
) -> bool:
    """Write the step's run; ``False`` if it had run already (then nothing more is done)."""
    return insert_new(
        session,
        StepRun,
        index_elements=["enrolment_id", "step"],
        values={
            "id": new_id(),
            "enrolment_id": enrolment.id,
            "flow_id": flow.id,
            "step": step.key,
            "outcome": outcome.value,
            "detail": detail[:200] if detail else None,
            "message_id": message_id,
            "at": _now(),
        },
    )


def _send(
    session: Session,
    settings: Settings,
    flow: Flow,
    definition: Definition,
    enrolment: Enrolment,
    step: SendStep,
) -> bool:
    """Queue the step's message; ``False`` when the customer left the flow instead
    (filtered out, or too late: the trigger's ``not_after`` has passed)."""
    deadline = _not_after(enrolment)
    if deadline is not None and _now() >= deadline:
        _record(session, flow, enrolment, step, StepOutcome.late, detail=deadline.isoformat())
        finish(session, flow, enrolment, EnrolmentStatus.exited, "too_late")
        return False
    if enrolment.holdout:
        _record(session, flow, enrolment, step, StepOutcome.held_out)
        return True
    if not matches(session, settings, definition.filters, enrolment.customer_id):
        _record(session, flow, enrolment, step, StepOutcome.filtered)
        finish(session, flow, enrolment, EnrolmentStatus.exited, "filtered")
        return False
    channel: str = step.channel
    outcome = StepOutcome.sent
    kind = flow.kind
    topic = Topic.offers.value if kind == "marketing" else None
    reachable = consent.can_receive(
        session,
        settings=settings,
        customer_id=enrolment.customer_id,
        channel=channel,
        kind=kind,
        topic=topic,
    )
    if (
        not reachable
        and step.fallback is not None
        and consent.can_receive(
            session,
            settings=settings,
            customer_id=enrolment.customer_id,
            channel=step.fallback,
            kind=kind,
            topic=topic,
        )
    ):
        channel = step.fallback
        reachable = True
    if not reachable:
        # Queued all the same: the send pipeline records why it was not sent.
        outcome = StepOutcome.unreachable
    occasion = f"{enrolment.id}:{step.key}"
    context = _message_context(session, settings, flow, enrolment)
    if step.survey is not None:
        link = survey_link(
            session,
            settings=settings,
            customer_id=enrolment.customer_id,
            occasion=f"flow:{occasion}",
            touchpoint=step.survey,
            order_id=_order_id(enrolment),
        )
        context["survey_url"] = link.url if link is not None else None
    if step.referral:
        referrals.referral_code(session, settings=settings, customer_id=enrolment.customer_id)
    if step.recommend:
        # Imported here: the recommender brings numpy and scipy, which most sends skip.
        from wafa.analytics.products import recommendations_for

        context["recommendations"] = [
            {"name": r.name, "price": format_money(r.price, r.currency, "en")}
            for r in recommendations_for(session, enrolment.customer_id, n=step.recommend)
        ]
    message, _ = queue_message(
        session,
        customer_id=enrolment.customer_id,
        channel=channel,
        kind=kind,
        reason=reason_for(flow),
        occasion=occasion,
        template=step.template,
        context=context,
        topic=topic,
        priority=Priority.service if kind == "transactional" else Priority.winback,
        flow_id=flow.id,
    )
    _record(session, flow, enrolment, step, outcome, detail=channel, message_id=message.id)
    return True


def _coupon(
    session: Session, settings: Settings, flow: Flow, enrolment: Enrolment, step: CouponStep
) -> None:
    _coupon_many(session, settings, flow, [enrolment], step, _now())


def _coupon_context(
    settings: Settings, step: CouponStep, code: str, name: str, now: datetime
) -> dict[str, Any]:
    """What a message may say of the coupon a step issued."""
    return {
        "code": code,
        "name": name,
        # What it takes off, for the message: ``percent`` (a number, printed in the
        # message's digits) or ``value`` ("10%" or the amount with its currency).
        "percent": step.percent,
        "value": f"{step.percent}%"
        if step.percent
        else format_money(step.amount or 0, settings.currency, "en"),
        "expires_on": local_date(now + timedelta(days=step.valid_days), settings.zone).isoformat(),
    }


def _coupon_many(
    session: Session,
    settings: Settings,
    flow: Flow,
    group: Sequence[Enrolment],
    step: CouponStep,
    now: datetime,
) -> None:
    """``_coupon`` for many enrolments at one coupon step: the coupons issued together
    by the loyalty service (``coupons.issue_many``, once per ``flow:<enrolment>:<step>``
    as one by one), the step's runs written together."""
    rows: list[tuple[Enrolment, StepOutcome, str | None, uuid.UUID | None]] = [
        (e, StepOutcome.held_out, None, None) for e in group if e.holdout
    ]
    given = [e for e in group if not e.holdout]
    issued = coupons.issue_many(
        session,
        source=CouponSource.campaign,
        name=step.name,
        discount_kind=(
            RewardKind.discount_percent if step.percent else RewardKind.discount_fixed
        ).value,
        currency=settings.currency,
        now=now,
        grants=[(e.customer_id, f"flow:{e.id}:{step.key}") for e in given],
        amount=step.amount,
        percent_bp=step.percent * 100 if step.percent else None,
        expires_at=now + timedelta(days=step.valid_days),
        created_by=f"flow:{flow.key}",
    )
    for e in given:
        coupon = issued[f"flow:{e.id}:{step.key}"]
        e.context = {
            **(e.context or {}),
            "coupon": _coupon_context(settings, step, coupon.code, coupon.name, now),
        }
        rows.append((e, StepOutcome.issued, coupon.code, None))
    _record_many(session, flow, step, rows, now)


def _points(
    session: Session, settings: Settings, flow: Flow, enrolment: Enrolment, step: PointsStep
) -> None:
    if enrolment.holdout:
        _record(session, flow, enrolment, step, StepOutcome.held_out)
        return
    loyalty.adjust(
        session,
        settings=settings,
        customer_id=enrolment.customer_id,
        points=step.points,
        reason=step.reason,
        by=f"flow:{flow.key}",
    )
    enrolment.context = {**(enrolment.context or {}), "bonus_points": step.points}
    _record(session, flow, enrolment, step, StepOutcome.issued, detail=f"{step.points} points")


def _go_to(enrolment: Enrolment, definition: Definition, index: int, now: datetime) -> None:
    if index < len(definition.steps):
        enrolment.step = definition.steps[index].key
    else:
        enrolment.step = None
    enrolment.position = index
    enrolment.due_at = now


def _current(definition: Definition, enrolment: Enrolment) -> int:
    found = definition.index(enrolment.step)
    if found is not None:
        return found
    # The step was removed by an edit: go on with the step now at its place.
    return min(enrolment.position, len(definition.steps))


def advance(
    session: Session,
    *,
    settings: Settings,
    flow: Flow,
    enrolment: Enrolment,
    now: datetime | None = None,
    limit: int | None = None,
) -> int:
    """Run the enrolment's due steps (in the caller's transaction; ``limit``: at most
    that many); how many ran."""
    now = now or _now()
    try:
        definition = definition_of(flow)
    except ValidationError:
        return 0  # an invalid stored flow waits for an edit; nothing is lost
    ran = 0
    for _ in range(len(definition.steps) + 1):
        if limit is not None and ran >= limit:
            return ran
        if enrolment.status != EnrolmentStatus.active.value:
            return ran
        if enrolment.due_at is not None and enrolment.due_at > now:
            return ran
        index = _current(definition, enrolment)
        if index >= len(definition.steps):
            finish(session, flow, enrolment, EnrolmentStatus.done, None)
            return ran
        if definition.exit.on_order and ordered_since(session, enrolment):
            finish(session, flow, enrolment, EnrolmentStatus.exited, "ordered")
            return ran
        step = definition.steps[index]
        already = session.scalar(
            select(StepRun.id).where(StepRun.enrolment_id == enrolment.id, StepRun.step == step.key)
        )
        if already is not None:
            _go_to(enrolment, definition, index + 1, now)
            continue
        ran += 1
        if isinstance(step, SendStep):
            if not _send(session, settings, flow, definition, enrolment, step):
                return ran
        elif isinstance(step, WaitStep):
            due = wait_until(
                step,
                now,
                settings,
                promised=_promised(session, enrolment),
                zone=customer_zone(session, settings, enrolment.customer_id) if step.at else None,
            )
            _record(session, flow, enrolment, step, StepOutcome.waited, detail=due.isoformat())
            _go_to(enrolment, definition, index + 1, due)
            continue
        elif isinstance(step, BranchStep):
            holds = _holds(session, step, enrolment)
            target = step.then if holds else step.otherwise
            _record(
                session,
                flow,
                enrolment,
                step,
                StepOutcome.branched,
                detail="yes" if holds else "no",
            )
            if target == EXIT:
                finish(session, flow, enrolment, EnrolmentStatus.exited, f"branch:{step.key}")
                return ran
            if target is not None:
                found = definition.index(target)
                assert found is not None  # checked by the definition
                _go_to(enrolment, definition, found, now)
                continue
        elif isinstance(step, CouponStep):
            _coupon(session, settings, flow, enrolment, step)
        elif isinstance(step, PointsStep):
            _points(session, settings, flow, enrolment, step)
        _go_to(enrolment, definition, index + 1, now)
    return ran


# ------------------------------------------------------------------ many at once


def _simple(step: SendStep) -> bool:
    """A send that ``advance_many`` can queue for many at once (no per-customer link,
    code or recommendation to make)."""
    return step.survey is None and not step.referral and not step.recommend


def _record_many(
    session: Session,
    flow: Flow,
    step: Step,
    rows: Sequence[tuple[Enrolment, StepOutcome, str | None, uuid.UUID | None]],
    now: datetime,
) -> None:
    """Write the step's runs of many enrolments (the caller saw none ran yet, under their
    row locks); ``ON CONFLICT DO NOTHING`` all the same."""
    if not rows:
        return
    session.execute(
        insert_ignoring_conflicts(session, _STEP_RUNS, index_elements=["enrolment_id", "step"]),
        [
            {
                "id": new_id(),
                "enrolment_id": enrolment.id,
                "flow_id": flow.id,
                "step": step.key,
                "outcome": outcome.value,
                "detail": detail[:200] if detail else None,
                "message_id": message_id,
                "at": now,
            }
            for enrolment, outcome, detail, message_id in rows
        ],
    )


def _send_many(
    session: Session,
    settings: Settings,
    flow: Flow,
    definition: Definition,
    group: list[Enrolment],
    step: SendStep,
    now: datetime,
) -> list[Enrolment]:
    """``_send`` for many enrolments at one simple send step: the filters, the channels'
    reachability and the queuing in a few statements; those still in the flow after it."""
    held = [e for e in group if e.holdout]
    rest = [e for e in group if not e.holdout]
    rows: list[tuple[Enrolment, StepOutcome, str | None, uuid.UUID | None]] = [
        (e, StepOutcome.held_out, None, None) for e in held
    ]
    selected = _selected(session, settings, definition.filters, [e.customer_id for e in rest])
    gone = [e for e in rest if e.customer_id not in selected]
    rest = [e for e in rest if e.customer_id in selected]
    rows += [(e, StepOutcome.filtered, None, None) for e in gone]
    kind = flow.kind
    topic = Topic.offers.value if kind == "marketing" else None
    customers = list(
        session.scalars(select(Customer).where(Customer.id.in_({e.customer_id for e in rest})))
    )
    reachable = consent.reachable_many(
        session, customers=customers, channel=step.channel, kind=kind, topic=topic
    )
    fallback: set[uuid.UUID] = set()
    if step.fallback is not None:
        fallback = consent.reachable_many(
            session,
            customers=[c for c in customers if c.id not in reachable],
            channel=step.fallback,
            kind=kind,
            topic=topic,
        )
    by_channel: dict[str, list[Enrolment]] = {}
    for e in rest:
        channel: str = step.channel
        if e.customer_id in fallback and step.fallback:
            channel = step.fallback
        by_channel.setdefault(channel, []).append(e)
    reason = reason_for(flow)
    for channel, enrolments in by_channel.items():
        queue_many(
            session,
            (
                {
                    "customer_id": e.customer_id,
                    "occasion": f"{e.id}:{step.key}",
                    "context": {"flow": {"key": flow.key, "name": flow.name}, **(e.context or {})},
                }
                for e in enrolments
            ),
            channel=channel,
            kind=kind,
            reason=reason,
            template=step.template,
            topic=topic,
            priority=Priority.service if kind == "transactional" else Priority.winback,
            flow_id=flow.id,
            not_before=now,
        )
        ids = dict(
            session.execute(
                select(Message.occasion, Message.id).where(
                    Message.reason == reason,
                    Message.occasion.in_([f"{e.id}:{step.key}" for e in enrolments]),
                )
            ).all()
        )
        for e in enrolments:
            reached = e.customer_id in reachable or e.customer_id in fallback
            rows.append(
                (
                    e,
                    StepOutcome.sent if reached else StepOutcome.unreachable,
                    channel,
                    ids.get(f"{e.id}:{step.key}"),
                )
            )
    _record_many(session, flow, step, rows, now)
    finish_many(session, flow, gone, EnrolmentStatus.exited, "filtered")
    return held + rest


def _ordered_many(session: Session, group: Sequence[Enrolment]) -> set[uuid.UUID]:
    """The enrolments (ids) whose customer placed a sale after entering (``ordered_since``
    for many; the triggering order aside)."""
    if not group:
        return set()
    since = min(e.entered_at for e in group)
    orders: dict[uuid.UUID, list[tuple[uuid.UUID, datetime]]] = {}
    for customer_id, order_id, placed_at in session.execute(
        select(Order.customer_id, Order.id, Order.placed_at).where(
            Order.customer_id.in_({e.customer_id for e in group}),
            Order.placed_at > since,
            sold(),
        )
    ):
        if customer_id is not None:
            orders.setdefault(customer_id, []).append((order_id, placed_at))
    found: set[uuid.UUID] = set()
    for e in group:
        trigger = _order_id(e)
        if any(
            placed > e.entered_at and order_id != trigger
            for order_id, placed in orders.get(e.customer_id, [])
        ):
            found.add(e.id)
    return found


def advance_many(
    session: Session,
    *,
    settings: Settings,
    flow: Flow,
    enrolments: Sequence[Enrolment],
    now: datetime | None = None,
) -> int:
    """``advance`` for many enrolments of one flow (in the caller's transaction, their rows
    locked by the caller): those standing at the same step go through it together — a
    simple send, a wait or a step already run in a few statements for all of them; any
    other step (a coupon, points, a branch, a send with a survey link, a referral code or
    recommendations, anything about an order) by ``advance``, one enrolment at a time.
    Returns how many steps ran."""
    now = now or _now()
    try:
        definition = definition_of(flow)
    except ValidationError:
        return 0
    steps = definition.steps
    pending = [
        e
        for e in enrolments
        if e.status == EnrolmentStatus.active.value and (e.due_at is None or e.due_at <= now)
    ]
    ran = 0
    for _ in range(len(steps) + 1):
        if not pending:
            break
        groups: dict[int, list[Enrolment]] = {}
        for e in pending:
            groups.setdefault(_current(definition, e), []).append(e)
        pending = []
        for index, group in groups.items():
            if index >= len(steps):
                finish_many(session, flow, group, EnrolmentStatus.done, None)
                continue
            if definition.exit.on_order:
                ordered = _ordered_many(session, group)
                finish_many(
                    session,
                    flow,
                    [e for e in group if e.id in ordered],
                    EnrolmentStatus.exited,
                    "ordered",
                )
                group = [e for e in group if e.id not in ordered]
            step = steps[index]
            done = set(
                session.scalars(
                    select(StepRun.enrolment_id).where(
                        StepRun.enrolment_id.in_([e.id for e in group]), StepRun.step == step.key
                    )
                )
            )
            for e in group:
                if e.id in done:
                    _go_to(e, definition, index + 1, now)
                    pending.append(e)
            group = [e for e in group if e.id not in done]
            if not group:
                continue
            simple_send = isinstance(step, SendStep) and _simple(step)
            # An order's or an event's message reads its own context (_message_context):
            # those run one at a time.
            own_context = any(
                _order_id(e) or (e.context or {}).get("gathering_id") or _not_after(e)
                for e in group
            )
            if simple_send and not own_context:
                assert isinstance(step, SendStep)
                ran += len(group)
                for e in _send_many(session, settings, flow, definition, group, step, now):
                    _go_to(e, definition, index + 1, now)
                    pending.append(e)
            elif isinstance(step, CouponStep):
                ran += len(group)
                _coupon_many(session, settings, flow, group, step, now)
                for e in group:
                    _go_to(e, definition, index + 1, now)
                    pending.append(e)
            elif isinstance(step, WaitStep) and step.until is None:
                ran += len(group)
                zones = _zones(session, [e.customer_id for e in group]) if step.at else {}
                rows: list[tuple[Enrolment, StepOutcome, str | None, uuid.UUID | None]] = []
                for e in group:
                    due = wait_until(step, now, settings, zone=zones.get(e.customer_id))
                    rows.append((e, StepOutcome.waited, due.isoformat(), None))
                    _go_to(e, definition, index + 1, due)
                    if due <= now:
                        pending.append(e)
                _record_many(session, flow, step, rows, now)
            else:
                # This step one at a time; the steps after it together again.
                for e in group:
                    ran += advance(
                        session, settings=settings, flow=flow, enrolment=e, now=now, limit=1
                    )
                    if e.status == EnrolmentStatus.active.value and (
                        e.due_at is None or e.due_at <= now
                    ):
                        pending.append(e)
    return ran
