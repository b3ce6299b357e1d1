"""A customer's message preferences (consent per channel and topic, timezone), their
message history, and what messaging does when a customer is merged, exported or erased."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from wafa.core.errors import Invalid
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.messaging import consent
from wafa.messaging.models import (
    Channel,
    ContactPreferences,
    Message,
    SuppressionReason,
    Topic,
    TopicConsent,
)


class ChannelPreferences(BaseModel):
    channel: str
    address: str | None
    consent: bool
    topics: dict[str, bool]
    suppressed: str | None = Field(description="Suppression reason of the address, if any.")


class Preferences(BaseModel):
    customer_id: uuid.UUID
    timezone: str | None
    channels: list[ChannelPreferences]
    double_opt_in_pending: bool = False


class PreferencesUpdate(BaseModel):
    """What to change; absent fields stay as they are."""

    timezone: str | None = Field(default=None, description="IANA zone, e.g. Asia/Tehran")
    consent: dict[Channel, bool] = Field(default_factory=dict)
    topics: dict[Channel, dict[Topic, bool]] = Field(default_factory=dict)
    source: str = Field(default="api", min_length=1, max_length=120)


def read_preferences(
    session: Session, *, customer_id: uuid.UUID, double_opt_in: bool = False
) -> Preferences:
    """The customer's consent per channel and topic, timezone and suppressed addresses."""
    customer = customers.get_live_customer(session, customer_id)
    secret = consent.hash_key(session)
    choices = consent.topic_choices(session, customer.id)
    prefs = consent.preferences(session, customer.id)
    channels = []
    for channel in Channel:
        address = consent.address_of(customer, channel.value)
        entry = (
            consent.suppression_for(
                session, secret=secret, medium=consent.medium_of(channel.value), address=address
            )
            if address
            else None
        )
        channels.append(
            ChannelPreferences(
                channel=channel.value,
                address=address,
                consent=consent.channel_consent(session, customer, channel.value),
                topics={t.value: choices.get((channel.value, t.value), True) for t in Topic},
                suppressed=entry.reason if entry else None,
            )
        )
    return Preferences(
        customer_id=customer.id,
        timezone=prefs.timezone if prefs else None,
        channels=channels,
        double_opt_in_pending=consent.needs_confirmation(
            session, customer, double_opt_in=double_opt_in
        ),
    )


def update_preferences(
    session: Session, *, customer_id: uuid.UUID, data: PreferencesUpdate, by: str
) -> None:
    """Record the changes as consent decisions with their source and time.

    Granting marketing again on a channel lifts an unsubscribe suppression of its address
    (the customer asked for it); hard suppressions (bounces, erasure) stay.
    """
    customer = customers.get_live_customer(session, customer_id)
    source = f"{data.source} ({by})"[:120] if by not in data.source else data.source
    now = utcnow()
    if data.timezone is not None:
        try:
            ZoneInfo(data.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise Invalid.field(("timezone",), f"unknown timezone {data.timezone!r}") from exc
        prefs = consent.ensure_preferences(session, customer.id)
        prefs.timezone = data.timezone
        prefs.updated_at = now
    for channel, granted in data.consent.items():
        if consent.channel_consent(session, customer, channel.value) != granted:
            consent.set_channel_consent(
                session,
                customer_id=customer.id,
                channel=channel.value,
                granted=granted,
                source=source,
                at=now,
            )
        if granted:
            _lift_unsubscribe(session, customer, channel.value)
    for channel, topics in data.topics.items():
        for topic, granted in topics.items():
            consent.set_topic_consent(
                session,
                customer_id=customer.id,
                channel=channel.value,
                topic=topic,
                granted=granted,
                source=source,
                at=now,
            )
    session.flush()


def _lift_unsubscribe(session: Session, customer: Customer, channel: str) -> None:
    address = consent.address_of(customer, channel)
    if not address:
        return
    entry = consent.suppression_for(
        session,
        secret=consent.hash_key(session),
        medium=consent.medium_of(channel),
        address=address,
    )
    if entry is not None and entry.reason == SuppressionReason.unsubscribe:
        session.delete(entry)


def history(
    session: Session, *, customer_id: uuid.UUID, limit: int = 50, before: uuid.UUID | None = None
) -> list[Message]:
    """The customer's messages, newest first."""
    customers.get_customer(session, customer_id)
    stmt = select(Message).where(Message.customer_id == customer_id)
    if before is not None:
        stmt = stmt.where(Message.id < before)
    return list(session.scalars(stmt.order_by(Message.id.desc()).limit(limit)))


def move_to(session: Session, *, loser_id: uuid.UUID, winner_id: uuid.UUID) -> None:
    """After a merge: the loser's topic refusals and preferences join the winner's (a
    refusal wins over a silence), its queued messages are skipped (the survivor's own
    messages carry on)."""
    winner_choices = consent.topic_choices(session, winner_id)
    for row in session.scalars(select(TopicConsent).where(TopicConsent.customer_id == loser_id)):
        key = (row.channel, row.topic)
        if key not in winner_choices or (not row.granted and winner_choices[key]):
            consent.set_topic_consent(
                session,
                customer_id=winner_id,
                channel=row.channel,
                topic=Topic(row.topic),
                granted=row.granted,
                source=f"merge of {loser_id}",
            )
    loser_prefs = consent.preferences(session, loser_id)
    if loser_prefs is not None:
        winner = consent.ensure_preferences(session, winner_id)
        winner.timezone = winner.timezone or loser_prefs.timezone
    session.execute(
        update(Message)
        .where(Message.customer_id == loser_id, Message.status.in_(["queued", "paused"]))
        .values(status="skipped", status_reason="customer_gone", settled_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def personal_data(session: Session, customer_id: uuid.UUID) -> dict[str, Any]:
    """What messaging holds on the customer, for the export."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    prefs = consent.preferences(session, customer_id)
    return {
        "preferences": {
            "timezone": prefs.timezone if prefs else None,
            "whatsapp_consent": prefs.whatsapp_consent if prefs else False,
        },
        "topics": [
            {
                "channel": t.channel,
                "topic": t.topic,
                "granted": t.granted,
                "source": t.source,
                "recorded_at": iso(t.recorded_at),
            }
            for t in session.scalars(
                select(TopicConsent).where(TopicConsent.customer_id == customer_id)
            )
        ],
        "messages": [
            {
                "id": str(m.id),
                "channel": m.channel,
                "kind": m.kind,
                "reason": m.reason,
                "status": m.status,
                "to": m.to_address,
                "subject": m.subject_line,
                "queued_at": iso(m.queued_at),
                "settled_at": iso(m.settled_at),
            }
            for m in session.scalars(
                select(Message).where(Message.customer_id == customer_id).order_by(Message.id)
            )
        ],
    }


def before_erase(session: Session, customer: Customer) -> None:
    """Called while the customer still has their addresses: suppress them as keyed hashes
    (never the address), then remove what messaging holds on the person."""
    secret = consent.hash_key(session)
    for channel in (Channel.email.value, Channel.sms.value):
        address = consent.address_of(customer, channel)
        if address:
            consent.suppress(
                session,
                secret=secret,
                medium=consent.medium_of(channel),
                address=address,
                reason=SuppressionReason.erased,
                source="customer erased",
            )
    # Other entries that still show the address in clear lose it.
    session.execute(delete(TopicConsent).where(TopicConsent.customer_id == customer.id))
    session.execute(delete(ContactPreferences).where(ContactPreferences.customer_id == customer.id))
    now = utcnow()
    session.execute(
        update(Message)
        .where(Message.customer_id == customer.id, Message.status.in_(["queued", "paused"]))
        .values(status="skipped", status_reason="customer_gone", settled_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Message)
        .where(Message.customer_id == customer.id)
        .values(to_address=None, subject_line=None, context={}, error=None)
        .execution_options(synchronize_session=False)
    )
