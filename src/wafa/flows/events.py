"""What flows announce: a customer entered a flow, a customer's way through one ended.

Both carry the customer as subject, so the customer's timeline shows them.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from wafa.core.events import Event
from wafa.core.i18n import N_


class FlowEntered(Event):
    """A customer entered flow ``flow_key`` (``holdout``: kept as a comparison, not messaged)."""

    topic: ClassVar[str] = "flow.entered"
    label: ClassVar[str | None] = N_("Entered a flow")
    icon: ClassVar[str] = "flow"

    customer_id: uuid.UUID
    flow_id: uuid.UUID
    flow_key: str
    enrolment_id: uuid.UUID
    holdout: bool = False


class FlowFinished(Event):
    """A customer's way through flow ``flow_key`` ended: ``done`` or ``exited`` (``reason``)."""

    topic: ClassVar[str] = "flow.finished"
    label: ClassVar[str | None] = N_("Left a flow")
    icon: ClassVar[str] = "flow"

    customer_id: uuid.UUID
    flow_id: uuid.UUID
    flow_key: str
    enrolment_id: uuid.UUID
    status: str
    reason: str | None = None


EVENTS: tuple[type[Event], ...] = (FlowEntered, FlowFinished)
