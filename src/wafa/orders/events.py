"""What the orders domain announces: orders placed, their status moving, refunds.

The subject of an order event is the order (``subject_id`` = ``order_id``); the
customer, when known, is in ``customer_id``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from wafa.core.events import Event


class OrderPlaced(Event):
    """An order was recorded: by the API, the point of sale, an import or a shop webhook.

    ``imported`` marks history (a CSV import): it counts for tiers and statistics but
    earns points only if the program says so, and never triggers a customer message.
    Consumers read the lines from the order itself.
    """

    topic: ClassVar[str] = "order.placed"
    subject_field: ClassVar[str | None] = "order_id"

    order_id: uuid.UUID
    customer_id: uuid.UUID | None
    channel: str
    currency: str
    total: int
    placed_at: datetime
    imported: bool = False


class _StatusMove(Event):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)
    subject_field: ClassVar[str | None] = "order_id"

    order_id: uuid.UUID
    customer_id: uuid.UUID | None
    from_status: str = Field(alias="from")
    to_status: str = Field(alias="to")
    at: datetime


class OrderStatusChanged(_StatusMove):
    """An order moved to paid, fulfilled or delivered (``at`` is when it happened)."""

    topic: ClassVar[str] = "order.status_changed"


class OrderCancelled(_StatusMove):
    """An order was cancelled: what it earned is taken back."""

    topic: ClassVar[str] = "order.cancelled"


class RefundedLine(BaseModel):
    """One line of a refund: which order line, how many items, how much money."""

    model_config = ConfigDict(frozen=True)

    order_line_id: uuid.UUID
    sku: str | None
    quantity: int
    amount: int


class OrderRefunded(Event):
    """Money was given back on an order (``full``: nothing is left paid)."""

    topic: ClassVar[str] = "order.refunded"
    subject_field: ClassVar[str | None] = "order_id"

    order_id: uuid.UUID
    refund_id: uuid.UUID
    customer_id: uuid.UUID | None
    amount: int
    currency: str
    full: bool
    lines: tuple[RefundedLine, ...] = ()


EVENTS = (OrderPlaced, OrderStatusChanged, OrderCancelled, OrderRefunded)
