"""What the decisions about a group of due messages read, in a few queries for the whole
group: the due messages themselves (locked), suppressions, consent facts, the last
marketing hand-over per customer and channel, competing messages, and the cap rule."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wafa.core.db import among, dialect_name
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.messaging import consent
from wafa.messaging.models import (
    ContactPreferences,
    Kind,
    Message,
    Status,
    Suppression,
    TopicConsent,
)
from wafa.messaging.policy import MessagingPolicy

# Messages that count against a frequency cap: handed over, or possibly handed over.
_CAP_STATUSES = (Status.sending.value, Status.sent.value, Status.unknown.value)


@dataclass
@dataclass
class GroupFacts:
    """What the group's consent rules need, read in a few queries for the whole group."""

    refused: dict[uuid.UUID, set[tuple[str, str]]]
    zones: dict[uuid.UUID, str | None]
    whatsapp: dict[uuid.UUID, bool]
    latest_email: dict[uuid.UUID, tuple[bool, str]]


def zone_of(name: str | None, default: ZoneInfo) -> ZoneInfo:
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default


def due_messages(session: Session, now: datetime, size: int) -> list[Message]:
    """Lock up to ``size`` due messages: transactional ones first (an order confirmation
    does not wait behind a campaign), then the rest, oldest first."""
    locking = dialect_name(session) == "postgresql"
    found: list[Message] = []
    for transactional_only in (True, False):
        stmt = select(Message).where(Message.status == Status.queued, Message.not_before <= now)
        if transactional_only:
            stmt = stmt.where(Message.kind == Kind.transactional)
        elif found:
            stmt = stmt.where(~among(session, Message.id, [m.id for m in found]))
        stmt = stmt.order_by(Message.not_before, Message.id).limit(size - len(found))
        if locking:
            stmt = stmt.with_for_update(skip_locked=True)
        found.extend(session.scalars(stmt))
        if len(found) >= size:
            break
    return found


def load_facts(
    session: Session, marketing: Sequence[Message], *, double_opt_in: bool
) -> GroupFacts:
    ids = {m.customer_id for m in marketing}
    facts = GroupFacts(refused=defaultdict(set), zones={}, whatsapp={}, latest_email={})
    if not ids:
        return facts
    for customer_id, channel, topic in session.execute(
        select(TopicConsent.customer_id, TopicConsent.channel, TopicConsent.topic).where(
            among(session, TopicConsent.customer_id, ids), TopicConsent.granted.is_(False)
        )
    ):
        facts.refused[customer_id].add((channel, topic))
    for customer_id, zone, whatsapp in session.execute(
        select(
            ContactPreferences.customer_id,
            ContactPreferences.timezone,
            ContactPreferences.whatsapp_consent,
        ).where(among(session, ContactPreferences.customer_id, ids))
    ):
        facts.zones[customer_id] = zone
        facts.whatsapp[customer_id] = bool(whatsapp)
    if double_opt_in:
        for customer_id in ids:
            latest = consent.latest_email_consent(session, customer_id)
            if latest is not None:
                facts.latest_email[customer_id] = (latest.granted, latest.source)
    return facts


def suppressions(
    session: Session,
    secret: str,
    messages: Sequence[Message],
    customers: Mapping[uuid.UUID, Customer],
) -> dict[tuple[str, str], Suppression]:
    """The suppression entries of the group's addresses, in one query."""
    hashes: set[str] = set()
    for message in messages:
        customer = customers.get(message.customer_id)
        address = consent.address_of(customer, message.channel) if customer else None
        if address:
            medium = consent.medium_of(message.channel)
            hashes.add(consent.address_hash(secret, medium, address))
    if not hashes:
        return {}
    return {
        (s.medium, s.address_hash): s
        for s in session.scalars(
            select(Suppression).where(among(session, Suppression.address_hash, hashes))
        )
    }


def last_marketing(
    session: Session,
    marketing: Sequence[Message],
    policy: MessagingPolicy,
    now: datetime,
) -> dict[tuple[uuid.UUID, str], datetime]:
    """The latest marketing hand-over per (customer, channel) within the longest cap."""
    if not marketing:
        return {}
    longest = max(policy.channel(m.channel).cap_hours for m in marketing)
    if longest <= 0:
        return {}
    rows = session.execute(
        select(Message.customer_id, Message.channel, func.max(Message.sending_at))
        .where(
            among(session, Message.customer_id, {m.customer_id for m in marketing}),
            Message.kind == Kind.marketing,
            Message.status.in_(_CAP_STATUSES),
            Message.sending_at > now - timedelta(hours=longest),
        )
        .group_by(Message.customer_id, Message.channel)
    )
    return {(c, ch): at for c, ch, at in rows if at is not None}


def rivals(
    session: Session, marketing: Sequence[Message], now: datetime
) -> dict[tuple[uuid.UUID, str], list[tuple[int, uuid.UUID]]]:
    """Other due marketing messages of the same customers, to let priority decide."""
    if not marketing:
        return {}
    rows = session.execute(
        select(Message.customer_id, Message.channel, Message.priority, Message.id).where(
            among(session, Message.customer_id, {m.customer_id for m in marketing}),
            Message.kind == Kind.marketing,
            Message.status == Status.queued,
            Message.not_before <= now,
        )
    )
    found: dict[tuple[uuid.UUID, str], list[tuple[int, uuid.UUID]]] = defaultdict(list)
    for customer_id, channel, priority, message_id in rows:
        found[(customer_id, channel)].append((priority, message_id))
    return found


def cap_until(
    message: Message,
    policy: MessagingPolicy,
    last_sent: Mapping[tuple[uuid.UUID, str], datetime],
    rivals: Mapping[tuple[uuid.UUID, str], list[tuple[int, uuid.UUID]]],
    granted_in_group: Mapping[tuple[uuid.UUID, str], bool],
) -> datetime | None:
    """When the cap lets ``message`` through, if it blocks it now (``None``: it may go)."""
    hours = policy.channel(message.channel).cap_hours
    if hours <= 0:
        return None
    key = (message.customer_id, message.channel)
    window = timedelta(hours=hours)
    now = utcnow()
    if granted_in_group.get(key):
        return now + window
    last = last_sent.get(key)
    if last is not None and last + window > now:
        return last + window
    # A due rival of higher priority (or as high and queued first) takes the slot.
    mine = (message.priority, message.id)
    for priority, rival_id in rivals.get(key, []):
        if rival_id == message.id:
            continue
        if priority > mine[0] or (priority == mine[0] and rival_id < message.id):
            return now + window
    return None
