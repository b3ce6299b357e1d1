"""Shared steps of the flows tests: templates, flows, the consumer and the due steps."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wafa.core.settings import Settings
from wafa.flows import handlers, jobs, service
from wafa.flows.models import Enrolment, Flow, StepRun
from wafa.messaging.models import Channel, Kind, Message
from wafa.messaging.policy import ChannelPolicy, MessagingPolicy, save_policy
from wafa.messaging.queue import Content
from wafa.messaging.templates import save_template
from wafa.worker.batch import drain_batched


def template(session: Session, key: str, text: str = "Hello {{ customer.first_name }}") -> str:
    save_template(
        session,
        key=key,
        name=key,
        channel=Channel.email,
        kind=Kind.marketing,
        topic=None,
        content=Content(subject={"en": f"About {key}"}, text={"en": text}),
        by="test",
    )
    return key


def no_limits(session: Session) -> None:
    """No caps or quiet hours: tests run at any hour and send several messages a day."""
    free = ChannelPolicy(cap_hours=0, quiet=None)
    save_policy(session, MessagingPolicy(email=free, sms=free, whatsapp=free), by="test")


def flow(
    session: Session,
    key: str,
    steps: list[dict[str, Any]],
    *,
    trigger: dict[str, Any] | None = None,
    kind: str = "marketing",
    enabled: bool = True,
    **definition: Any,
) -> Flow:
    return service.create_flow(
        session,
        key=key,
        name=key.replace("_", " ").title(),
        kind=kind,
        enabled=enabled,
        holdout_percent=definition.pop("holdout_percent", 0),
        definition={
            "trigger": trigger or {"type": "event", "topic": "order.placed"},
            "steps": steps,
            **definition,
        },
        by="test",
    )


def drain(factory: sessionmaker[Session], settings: Settings) -> int:
    """Run the flows consumer over every pending event."""
    return drain_batched(factory, [handlers.consumer(settings)])


def due(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    return jobs.run_due(factory, settings)


def messages(session: Session, flow: Flow, customer_id: uuid.UUID | None = None) -> list[Message]:
    query = select(Message).where(Message.flow_id == flow.id)
    if customer_id is not None:
        query = query.where(Message.customer_id == customer_id)
    return list(session.scalars(query.order_by(Message.queued_at, Message.occasion)))


def enrolments(session: Session, flow: Flow) -> list[Enrolment]:
    session.expire_all()
    return list(
        session.scalars(
            select(Enrolment).where(Enrolment.flow_id == flow.id).order_by(Enrolment.id)
        )
    )


def runs(session: Session, enrolment: Enrolment) -> dict[str, str]:
    return {
        r.step: r.outcome
        for r in session.scalars(select(StepRun).where(StepRun.enrolment_id == enrolment.id))
    }
