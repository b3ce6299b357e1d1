"""Flows: save, edit, switch on and off, list, and count what each step did.

Editing a flow changes what happens next, never what happened: every customer keeps
the step they stand at (by its key), and a step a customer already ran is never run
for them again (``flow_step_runs`` and messaging's ``(customer, reason, occasion)``
key, the occasion being the enrolment and the step).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from wafa.core.errors import Invalid, NotFound
from wafa.core.ids import new_id
from wafa.core.time import utcnow
from wafa.flows.models import Enrolment, EnrolmentStatus, Flow, StepRun
from wafa.flows.spec import KEY, Definition
from wafa.messaging.templates import get_template

__all__ = [
    "create_flow",
    "get_flow",
    "list_flows",
    "set_enabled",
    "step_counts",
    "update_flow",
]

KINDS = ("transactional", "marketing")


def parse_definition(data: Any, loc: tuple[str | int, ...] = ("definition",)) -> Definition:
    """``data`` as a flow definition, or ``Invalid`` naming each wrong field."""
    try:
        return Definition.model_validate(data)
    except ValidationError as exc:
        errors = [((*loc, *e["loc"]), str(e["msg"])) for e in exc.errors()]
        raise Invalid("the flow's definition is not valid", errors) from None


def _check_templates(session: Session, definition: Definition) -> None:
    for i, step in enumerate(definition.steps):
        template = getattr(step, "template", None)
        if template is None:
            continue
        try:
            get_template(session, template)
        except NotFound:
            raise Invalid.field(
                ("definition", "steps", i, "template"), f"no message template {template!r}"
            ) from None


def _check(kind: str, holdout_percent: int, conversion_days: int) -> None:
    if kind not in KINDS:
        raise Invalid.field(("kind",), f"use one of {', '.join(KINDS)}")
    if not 0 <= holdout_percent <= 50:
        raise Invalid.field(("holdout_percent",), "a percentage from 0 to 50")
    if kind == "transactional" and holdout_percent:
        raise Invalid.field(("holdout_percent",), "order news is never held back: use 0")
    if not 1 <= conversion_days <= 365:
        raise Invalid.field(("conversion_days",), "from 1 to 365 days")


def create_flow(
    session: Session,
    *,
    key: str,
    name: str,
    definition: Any,
    kind: str = "marketing",
    enabled: bool = False,
    holdout_percent: int = 0,
    conversion_days: int = 14,
    description: str | None = None,
    preset: bool = False,
    by: str | None = None,
) -> Flow:
    """Save a new flow (``Invalid`` for a bad key, definition or unknown template)."""
    if not KEY.match(key):
        raise Invalid.field(("key",), "use 1 to 40 lower-case letters, digits, '_' or '-'")
    if not name.strip():
        raise Invalid.field(("name",), "give the flow a name")
    _check(kind, holdout_percent, conversion_days)
    parsed = parse_definition(definition)
    _check_templates(session, parsed)
    if session.scalar(select(Flow.id).where(Flow.key == key)) is not None:
        raise Invalid.field(("key",), f"a flow {key!r} exists")
    now = utcnow()
    flow = Flow(
        id=new_id(),
        key=key,
        name=name.strip()[:200],
        description=description,
        enabled=enabled,
        kind=kind,
        holdout_percent=holdout_percent,
        conversion_days=conversion_days,
        definition=parsed.model_dump(mode="json"),
        version=1,
        preset=preset,
        created_at=now,
        updated_at=now,
        updated_by=by,
    )
    session.add(flow)
    session.flush()
    return flow


def get_flow(session: Session, key: str) -> Flow:
    """The flow ``key`` (``NotFound``)."""
    flow = session.scalar(select(Flow).where(Flow.key == key))
    if flow is None:
        raise NotFound(f"no flow {key!r}", flow=key)
    return flow


def list_flows(session: Session) -> list[Flow]:
    """Every flow, by name."""
    return list(session.scalars(select(Flow).order_by(Flow.name)))


def update_flow(
    session: Session,
    *,
    key: str,
    by: str | None,
    definition: Any | None = None,
    name: str | None = None,
    holdout_percent: int | None = None,
    conversion_days: int | None = None,
) -> Flow:
    """Change a flow; customers mid-way go on from the step they stand at."""
    flow = get_flow(session, key)
    _check(
        flow.kind,
        flow.holdout_percent if holdout_percent is None else holdout_percent,
        flow.conversion_days if conversion_days is None else conversion_days,
    )
    if definition is not None:
        parsed = parse_definition(definition)
        _check_templates(session, parsed)
        flow.definition = parsed.model_dump(mode="json")
    if name is not None:
        if not name.strip():
            raise Invalid.field(("name",), "give the flow a name")
        flow.name = name.strip()[:200]
    if holdout_percent is not None:
        flow.holdout_percent = holdout_percent
    if conversion_days is not None:
        flow.conversion_days = conversion_days
    flow.version += 1
    flow.updated_at = utcnow()
    flow.updated_by = by
    session.flush()
    return flow


def set_enabled(session: Session, *, key: str, enabled: bool, by: str | None) -> Flow:
    """Switch a flow on or off. Off: nobody enters, and those mid-way wait (their
    steps resume when it is switched on again)."""
    flow = get_flow(session, key)
    if flow.enabled != enabled:
        session.execute(
            update(Flow)
            .where(Flow.id == flow.id)
            .values(enabled=enabled, updated_at=utcnow(), updated_by=by)
            .execution_options(synchronize_session=False)
        )
        session.refresh(flow)
    return flow


@dataclass(frozen=True)
class FlowCounts:
    """How many entered a flow, are in it now, finished or left, and were held out."""

    entered: int
    active: int
    done: int
    exited: int
    holdout: int


def flow_counts(session: Session, flow_id: uuid.UUID) -> FlowCounts:
    by_status = {
        str(s): int(n)
        for s, n in session.execute(
            select(Enrolment.status, func.count())
            .where(Enrolment.flow_id == flow_id)
            .group_by(Enrolment.status)
        )
    }
    holdout = session.scalar(
        select(func.count()).where(Enrolment.flow_id == flow_id, Enrolment.holdout.is_(True))
    )
    return FlowCounts(
        entered=sum(by_status.values()),
        active=by_status.get(EnrolmentStatus.active.value, 0),
        done=by_status.get(EnrolmentStatus.done.value, 0),
        exited=by_status.get(EnrolmentStatus.exited.value, 0),
        holdout=int(holdout or 0),
    )


def step_counts(session: Session, flow_id: uuid.UUID) -> dict[str, dict[str, int]]:
    """Per step key: how many runs ended in each outcome."""
    counts: dict[str, dict[str, int]] = {}
    for step, outcome, n in session.execute(
        select(StepRun.step, StepRun.outcome, func.count())
        .where(StepRun.flow_id == flow_id)
        .group_by(StepRun.step, StepRun.outcome)
    ):
        counts.setdefault(str(step), {})[str(outcome)] = int(n)
    return counts


def waiting_at(session: Session, flow_id: uuid.UUID) -> dict[str, int]:
    """Per step key: how many active enrolments stand at it."""
    return {
        str(step): int(n)
        for step, n in session.execute(
            select(Enrolment.step, func.count())
            .where(Enrolment.flow_id == flow_id, Enrolment.status == EnrolmentStatus.active.value)
            .group_by(Enrolment.step)
        )
    }
