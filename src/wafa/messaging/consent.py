"""Who may be sent what: consent per channel and topic, double opt-in, the suppression list.

Rules, checked by the pipeline at send time (not only when queued):

- A **hard suppression** (hard bounce, erased customer, a manual block) stops every
  message to that address, transactional included. A **marketing suppression**
  (unsubscribe, complaint) stops marketing only.
- **Marketing** needs the channel's consent (the customer's ``email_consent`` /
  ``sms_consent`` from the profile; WhatsApp consent is kept here) and no refusal of the
  message's topic. Transactional messages need no marketing consent.
- **Double opt-in** (a business setting): an email address whose latest consent came
  from the counter (``pos:...``) or the portal (``portal...``) gets no marketing until
  the customer confirms through the link we send; the confirmation is recorded as a
  consent decision with its own source and time.
- Suppression is keyed by a keyed hash (HMAC-SHA256 under the secret key) of the
  normalised address, so an erased person's address is never stored, yet an import
  that brings it back finds it suppressed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from wafa.auth import service as auth
from wafa.core.db import database_key, insert_ignoring_conflicts
from wafa.core.errors import NotFound
from wafa.core.events import emit
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.models import ConsentChannel, ConsentRecord, Customer
from wafa.customers.schemas import ConsentIn
from wafa.messaging.events import AddressSuppressed, ConsentChanged
from wafa.messaging.models import (
    Channel,
    ContactPreferences,
    Kind,
    Medium,
    MessagingKey,
    Suppression,
    SuppressionReason,
    SuppressionScope,
    Topic,
    TopicConsent,
)

UNCONFIRMED_SOURCES = ("pos", "portal")
HARD_REASONS = frozenset(
    {SuppressionReason.hard_bounce, SuppressionReason.erased, SuppressionReason.soft_bounces}
)


HASH_KEY = "address-hash"
_hash_keys: dict[str, str] = {}


def secret_key(session: Session, settings: Settings) -> str:
    """The key that signs customer links (the app's secret key)."""
    return auth.secret_key(settings, session)


def hash_key(session: Session) -> str:
    """The key of address hashes, kept in the database (made on first use), so that it
    is the same for every process and survives a change of the secret key."""
    cache_key = database_key(session)
    if cache_key is not None and cache_key in _hash_keys:
        return _hash_keys[cache_key]
    session.execute(
        insert_ignoring_conflicts(session, MessagingKey, index_elements=["name"]).values(
            name=HASH_KEY, value=secrets.token_urlsafe(32), created_at=utcnow()
        )
    )
    value = session.scalar(select(MessagingKey.value).where(MessagingKey.name == HASH_KEY))
    assert value is not None
    if cache_key is not None:
        _hash_keys[cache_key] = value
    return value


def medium_of(channel: str) -> Medium:
    """Email goes to an address, SMS and WhatsApp to a phone."""
    return Medium.email if channel == Channel.email else Medium.phone


def normalize_address(medium: str, address: str) -> str:
    """The form an address is hashed and compared in."""
    value = address.strip()
    return value.lower() if medium == Medium.email else value.replace(" ", "")


def address_hash(secret: str, medium: str, address: str) -> str:
    """The keyed hash of an address (what the suppression list keeps)."""
    key = hashlib.sha256(b"wafa-suppression\x00" + secret.encode()).digest()
    value = f"{medium}:{normalize_address(medium, address)}".encode()
    return hmac.new(key, value, hashlib.sha256).hexdigest()


def address_of(customer: Customer, channel: str) -> str | None:
    """The customer's address on ``channel`` (email, or the E.164 phone)."""
    return customer.email if channel == Channel.email else customer.phone


# --------------------------------------------------------------------------- suppression


def suppress(
    session: Session,
    *,
    secret: str,
    medium: str,
    address: str,
    reason: SuppressionReason,
    source: str,
    detail: str | None = None,
    customer_id: uuid.UUID | None = None,
) -> bool:
    """Add ``address`` to the suppression list; returns whether it was new (or widened).

    The scope follows the reason: unsubscribes and complaints stop marketing, the rest
    stop everything. An existing marketing-only entry is widened by a hard reason.
    """
    scope = (
        SuppressionScope.all
        if reason in HARD_REASONS or reason in (SuppressionReason.manual,)
        else SuppressionScope.marketing
    )
    digest = address_hash(secret, medium, address)
    keep = None if reason is SuppressionReason.erased else normalize_address(medium, address)
    inserted = session.execute(
        insert_ignoring_conflicts(session, Suppression, index_elements=["medium", "address_hash"])
        .values(
            id=new_id(),
            medium=medium,
            address_hash=digest,
            address=keep,
            reason=reason.value,
            scope=scope.value,
            source=source[:120],
            detail=detail,
            created_at=utcnow(),
        )
        .returning(Suppression.id)
    ).first()
    changed = inserted is not None
    if not changed:
        row = session.scalar(
            select(Suppression).where(
                Suppression.medium == medium, Suppression.address_hash == digest
            )
        )
        if row is not None and (
            (scope is SuppressionScope.all and row.scope != SuppressionScope.all)
            or reason is SuppressionReason.erased
        ):
            row.scope = scope.value
            row.reason = reason.value
            row.source = source[:120]
            row.detail = detail
            if reason is SuppressionReason.erased:
                row.address = None
            changed = True
    if changed:
        emit(
            session,
            AddressSuppressed(
                medium=medium, reason=reason.value, scope=scope.value, customer_id=customer_id
            ),
        )
    return changed


def suppression_for(
    session: Session, *, secret: str, medium: str, address: str
) -> Suppression | None:
    """The suppression entry of ``address``, if any."""
    return session.scalar(
        select(Suppression).where(
            Suppression.medium == medium,
            Suppression.address_hash == address_hash(secret, medium, address),
        )
    )


def blocks(entry: Suppression | None, kind: str) -> bool:
    """Whether ``entry`` stops a message of ``kind``."""
    if entry is None:
        return False
    return entry.scope == SuppressionScope.all or kind == Kind.marketing


def lift_suppression(session: Session, *, suppression_id: uuid.UUID) -> Suppression:
    """Remove an entry (the owner's decision, or a customer who opted in again)."""
    entry = session.get(Suppression, suppression_id)
    if entry is None:
        raise NotFound(f"suppression {suppression_id} not found")
    if entry.reason == SuppressionReason.erased:
        from wafa.core.errors import Conflict

        raise Conflict("an erased customer's address stays suppressed")
    session.delete(entry)
    session.flush()
    return entry


# --------------------------------------------------------------------------- consent


def preferences(session: Session, customer_id: uuid.UUID) -> ContactPreferences | None:
    """What messaging keeps for the customer (timezone, WhatsApp consent), if anything."""
    return session.get(ContactPreferences, customer_id)


def ensure_preferences(session: Session, customer_id: uuid.UUID) -> ContactPreferences:
    prefs = session.get(ContactPreferences, customer_id)
    if prefs is None:
        prefs = ContactPreferences(customer_id=customer_id, updated_at=utcnow())
        session.add(prefs)
        session.flush()
    return prefs


def topic_choices(session: Session, customer_id: uuid.UUID) -> dict[tuple[str, str], bool]:
    """The customer's explicit topic decisions, ``(channel, topic) -> granted``."""
    rows = session.execute(
        select(TopicConsent.channel, TopicConsent.topic, TopicConsent.granted).where(
            TopicConsent.customer_id == customer_id
        )
    )
    return {(c, t): g for c, t, g in rows}


def channel_consent(session: Session, customer: Customer, channel: str) -> bool:
    """Whether the customer agreed to marketing on ``channel``."""
    if channel == Channel.email:
        return bool(customer.email_consent)
    if channel == Channel.sms:
        return bool(customer.sms_consent)
    prefs = session.get(ContactPreferences, customer.id)
    return bool(prefs and prefs.whatsapp_consent)


def latest_email_consent(session: Session, customer_id: uuid.UUID) -> ConsentRecord | None:
    return session.scalar(
        select(ConsentRecord)
        .where(ConsentRecord.customer_id == customer_id, ConsentRecord.channel == "email")
        .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
        .limit(1)
    )


def needs_confirmation(session: Session, customer: Customer, *, double_opt_in: bool) -> bool:
    """Whether the customer's email consent waits for the double opt-in confirmation."""
    if not double_opt_in or not customer.email_consent:
        return False
    latest = latest_email_consent(session, customer.id)
    return bool(latest and latest.granted and latest.source.startswith(UNCONFIRMED_SOURCES))


def refusal_of(
    customer: Customer,
    *,
    channel: str,
    topic: str | None,
    whatsapp_consent: bool,
    refused_topics: frozenset[tuple[str, str]] | set[tuple[str, str]],
    latest_email: tuple[bool, str] | None,
    double_opt_in: bool,
) -> str | None:
    """The rule itself, on facts already read (the pipeline reads them for a whole group):
    why marketing on ``channel`` about ``topic`` may not go to ``customer`` (None: it may).

    ``refused_topics`` holds the customer's ``(channel, topic)`` refusals; ``latest_email``
    their latest email consent decision as ``(granted, source)``.
    """
    consented = (
        customer.email_consent
        if channel == Channel.email
        else customer.sms_consent
        if channel == Channel.sms
        else whatsapp_consent
    )
    if not consented:
        return "no_consent"
    if topic is not None and (channel, topic) in refused_topics:
        return "topic_refused"
    if (
        channel == Channel.email
        and double_opt_in
        and latest_email is not None
        and latest_email[0]
        and latest_email[1].startswith(UNCONFIRMED_SOURCES)
    ):
        return "not_confirmed"
    return None


def marketing_refusal(
    session: Session,
    customer: Customer,
    *,
    channel: str,
    topic: str | None,
    double_opt_in: bool = False,
) -> str | None:
    """Why marketing on ``channel`` about ``topic`` may not go to ``customer`` (None: it may)."""
    prefs = session.get(ContactPreferences, customer.id)
    refused = {key for key, granted in topic_choices(session, customer.id).items() if not granted}
    latest = latest_email_consent(session, customer.id) if double_opt_in else None
    return refusal_of(
        customer,
        channel=channel,
        topic=topic,
        whatsapp_consent=bool(prefs and prefs.whatsapp_consent),
        refused_topics=refused,
        latest_email=(latest.granted, latest.source) if latest else None,
        double_opt_in=double_opt_in,
    )


def can_receive(
    session: Session,
    *,
    settings: Settings,
    customer_id: uuid.UUID,
    channel: str,
    kind: str,
    topic: str | None = None,
) -> bool:
    """Whether a message of ``kind`` on ``channel`` could go to the customer now
    (address, consent, suppression; not caps or quiet hours)."""
    customer = session.get(Customer, customer_id)
    if customer is None or not customer.is_active:
        return False
    address = address_of(customer, channel)
    if not address:
        return False
    entry = suppression_for(
        session, secret=hash_key(session), medium=medium_of(channel), address=address
    )
    if blocks(entry, kind):
        return False
    if kind == Kind.marketing:
        return marketing_refusal(session, customer, channel=channel, topic=topic) is None
    return True


def reachable_many(
    session: Session,
    *,
    customers: Sequence[Customer],
    channel: str,
    kind: str,
    topic: str | None = None,
) -> set[uuid.UUID]:
    """``can_receive`` for many customers in three queries: the ids of those a message of
    ``kind`` on ``channel`` could go to now (address, consent, suppression)."""
    secret = hash_key(session)
    medium = medium_of(channel)
    addressed: dict[uuid.UUID, str] = {}
    for customer in customers:
        address = address_of(customer, channel) if customer.is_active else None
        if address:
            addressed[customer.id] = address_hash(secret, medium, address)
    if not addressed:
        return set()
    blocked = {
        entry.address_hash
        for entry in session.scalars(
            select(Suppression).where(
                Suppression.medium == medium,
                Suppression.address_hash.in_(set(addressed.values())),
            )
        )
        if blocks(entry, kind)
    }
    found = {c for c, h in addressed.items() if h not in blocked}
    if kind != Kind.marketing or not found:
        return found
    refused: dict[uuid.UUID, set[tuple[str, str]]] = {}
    for customer_id, ch, tp in session.execute(
        select(TopicConsent.customer_id, TopicConsent.channel, TopicConsent.topic).where(
            TopicConsent.customer_id.in_(found), TopicConsent.granted.is_(False)
        )
    ):
        refused.setdefault(customer_id, set()).add((ch, tp))
    whatsapp: set[uuid.UUID] = set()
    if channel == Channel.whatsapp:
        whatsapp = set(
            session.scalars(
                select(ContactPreferences.customer_id).where(
                    ContactPreferences.customer_id.in_(found),
                    ContactPreferences.whatsapp_consent.is_(True),
                )
            )
        )
    return {
        customer.id
        for customer in customers
        if customer.id in found
        and refusal_of(
            customer,
            channel=channel,
            topic=topic,
            whatsapp_consent=customer.id in whatsapp,
            refused_topics=refused.get(customer.id, set()),
            latest_email=None,
            double_opt_in=False,
        )
        is None
    }


def set_channel_consent(
    session: Session,
    *,
    customer_id: uuid.UUID,
    channel: str,
    granted: bool,
    source: str,
    at: datetime | None = None,
) -> None:
    """Record a decision about marketing on a whole channel (email and SMS go to the
    profile's consent history; WhatsApp is kept here)."""
    at = at or utcnow()
    customer = customers.get_live_customer(session, customer_id)
    if channel == Channel.whatsapp:
        prefs = ensure_preferences(session, customer_id)
        prefs.whatsapp_consent = granted
        prefs.whatsapp_source = source[:120]
        prefs.whatsapp_at = at
        prefs.updated_at = at
        session.flush()
    else:
        customers.record_consent(
            session,
            customer=customer,
            consent=ConsentIn(
                channel=ConsentChannel(channel), granted=granted, source=source[:120]
            ),
            at=at,
        )
    emit(
        session,
        ConsentChanged(
            customer_id=customer_id,
            channel=channel,
            message_topic=None,
            granted=granted,
            source=source,
        ),
    )


def set_topic_consent(
    session: Session,
    *,
    customer_id: uuid.UUID,
    channel: str,
    topic: Topic,
    granted: bool,
    source: str,
    at: datetime | None = None,
) -> None:
    """Record the customer's decision about one topic on one channel."""
    at = at or utcnow()
    row = session.get(TopicConsent, (customer_id, channel, topic.value))
    if row is None:
        session.add(
            TopicConsent(
                customer_id=customer_id,
                channel=channel,
                topic=topic.value,
                granted=granted,
                source=source[:120],
                recorded_at=at,
            )
        )
    elif row.granted == granted:
        return
    else:
        row.granted = granted
        row.source = source[:120]
        row.recorded_at = at
    session.flush()
    emit(
        session,
        ConsentChanged(
            customer_id=customer_id,
            channel=channel,
            message_topic=topic.value,
            granted=granted,
            source=source,
        ),
    )
