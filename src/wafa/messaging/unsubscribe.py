"""Unsubscribing by link (RFC 8058 one-click, and the page behind the link).

Every marketing message carries ``<WAFA_PUBLIC_URL>/u/<token>``; the token is signed,
names the customer, the channel and the topic, and never expires. No login, no cookie.

- ``POST`` with ``List-Unsubscribe=One-Click`` (a mail client's button): marketing on
  that channel stops at once — the channel's consent is withdrawn (source
  ``one-click unsubscribe``) and the address joins the suppression list for marketing,
  so an import saying "accepts marketing" cannot bring it back. Repeating it changes
  nothing and answers the same.
- ``GET`` shows a page in the customer's language to confirm, or to keep the channel and
  refuse only some topics.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from wafa.core.events import emit
from wafa.core.links import LinkSigner
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.messaging import consent, personalize
from wafa.messaging.events import CustomerUnsubscribed
from wafa.messaging.models import SuppressionReason, Topic

ONE_CLICK_SOURCE = "one-click unsubscribe"
PAGE_SOURCE = "unsubscribe page"


@dataclass(frozen=True)
class Target:
    customer: Customer
    channel: str
    topic: str | None
    locale: str


def read_token(session: Session, *, settings: Settings, token: str) -> Target | None:
    """Who and what an unsubscribe token is about, or ``None`` (forged, altered, unknown)."""
    signer = LinkSigner(consent.secret_key(session, settings))
    found = personalize.read_unsubscribe_token(signer, token)
    if found is None:
        return None
    customer_id, channel, topic = found
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    if customer.merged_into_id is not None:
        survivor = session.get(Customer, customer.merged_into_id)
        customer = survivor or customer
    locale = customer.language if customer.language in ("en", "ar", "fa") else str(settings.locale)
    return Target(customer, channel, topic, locale)


def unsubscribe_channel(session: Session, *, target: Target, source: str) -> bool:
    """Stop marketing on the target's channel; returns whether anything changed."""
    customer = target.customer
    changed = False
    if not customer.is_active:
        return False
    if consent.channel_consent(session, customer, target.channel):
        consent.set_channel_consent(
            session, customer_id=customer.id, channel=target.channel, granted=False, source=source
        )
        changed = True
    address = consent.address_of(customer, target.channel)
    if address:
        changed |= consent.suppress(
            session,
            secret=consent.hash_key(session),
            medium=consent.medium_of(target.channel),
            address=address,
            reason=SuppressionReason.unsubscribe,
            source=source,
            customer_id=customer.id,
        )
    if changed:
        emit(
            session,
            CustomerUnsubscribed(
                customer_id=customer.id, channel=target.channel, message_topic=None, source=source
            ),
        )
    return changed


def choose_topics(
    session: Session, *, target: Target, refused: set[str], source: str = PAGE_SOURCE
) -> None:
    """Keep the channel, refuse the ``refused`` topics and accept the others."""
    if not target.customer.is_active:
        return
    for topic in Topic:
        consent.set_topic_consent(
            session,
            customer_id=target.customer.id,
            channel=target.channel,
            topic=topic,
            granted=topic.value not in refused,
            source=source,
        )


def topic_state(session: Session, target: Target) -> dict[str, bool]:
    """Which topics the customer currently accepts on the target's channel."""
    choices = consent.topic_choices(session, target.customer.id)
    return {t.value: choices.get((target.channel, t.value), True) for t in Topic}


def is_unsubscribed(session: Session, target: Target) -> bool:
    """Whether marketing on the target's channel is already off."""
    return not consent.channel_consent(session, target.customer, target.channel)


__all__ = [
    "ONE_CLICK_SOURCE",
    "Target",
    "choose_topics",
    "is_unsubscribed",
    "read_token",
    "topic_state",
    "unsubscribe_channel",
]
