"""What the customers domain announces: a record created, changed, merged or erased."""

from __future__ import annotations

import uuid
from typing import ClassVar

from wafa.core.events import Event


class CustomerCreated(Event):
    """A customer record was created (``source``: the API, the counter, an import, ...)."""

    topic: ClassVar[str] = "customer.created"

    customer_id: uuid.UUID
    source: str | None = None


class CustomerUpdated(Event):
    """Fields of a customer record changed (``fields`` names them, never their values)."""

    topic: ClassVar[str] = "customer.updated"

    customer_id: uuid.UUID
    fields: tuple[str, ...] = ()


class CustomerMerged(Event):
    """Two records of one person became one: ``loser_id`` now points at ``winner_id``.

    Each domain moves what it holds on the loser (points, coupons, messages) in its own
    handler of this event.
    """

    topic: ClassVar[str] = "customer.merged"
    subject_field: ClassVar[str | None] = "winner_id"

    winner_id: uuid.UUID
    loser_id: uuid.UUID
    merge_id: uuid.UUID


class CustomerErased(Event):
    """A person's personal data was erased (every domain's share, in one transaction)."""

    topic: ClassVar[str] = "customer.erased"

    customer_id: uuid.UUID
    erased_by: str


EVENTS = (CustomerCreated, CustomerUpdated, CustomerMerged, CustomerErased)
