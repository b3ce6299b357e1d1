"""Double opt-in for email addresses collected at the counter or on the portal.

With the policy's ``double_opt_in`` on, a customer whose latest email consent came from
the counter (``pos:...``) or the portal gets a confirmation email (transactional: it
needs no marketing consent) with a signed link, once per address. Until they follow
it, marketing email to them is skipped (``not_confirmed``). Following the link records
a new consent decision, source ``double opt-in confirmation``, at that time.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from wafa.core.links import LinkSigner, public_link
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.messaging import consent, texts
from wafa.messaging.models import Channel, Kind, Priority
from wafa.messaging.personalize import CONFIRM
from wafa.messaging.policy import load_policy
from wafa.messaging.queue import Content, queue_message

CONFIRMED_SOURCE = "double opt-in confirmation"
LINK_DAYS = 14


def confirm_url(settings: Settings, signer: LinkSigner, customer_id: uuid.UUID, digest: str) -> str:
    token = signer.sign(
        CONFIRM,
        customer_id,
        expires_at=utcnow() + timedelta(days=LINK_DAYS),
        extra=bytes.fromhex(digest[:32]),
    )
    return public_link(settings.public_url, f"u/confirm/{token}")


def request_if_needed(session: Session, *, settings: Settings, customer_id: uuid.UUID) -> bool:
    """Queue the confirmation email if the customer's email consent waits for one."""
    customer = session.get(Customer, customer_id)
    if customer is None or not customer.is_active or not customer.email:
        return False
    policy = load_policy(session)
    if not consent.needs_confirmation(session, customer, double_opt_in=policy.double_opt_in):
        return False
    digest = consent.address_hash(consent.hash_key(session), "email", customer.email)
    signer = LinkSigner(consent.secret_key(session, settings))
    content = Content(
        subject={loc: texts.gettext(loc, texts.DOUBLE_OPT_IN_SUBJECT) for loc in texts.LOCALES},
        text={loc: texts.gettext(loc, texts.DOUBLE_OPT_IN_BODY) for loc in texts.LOCALES},
    )
    _, created = queue_message(
        session,
        customer_id=customer.id,
        channel=Channel.email,
        kind=Kind.transactional,
        reason="double_opt_in",
        occasion=digest[:32],
        content=content,
        context={"confirm_url": confirm_url(settings, signer, customer.id, digest)},
        priority=Priority.service,
    )
    if created:
        prefs = consent.ensure_preferences(session, customer.id)
        prefs.optin_hash = digest
        prefs.optin_requested_at = utcnow()
    return created


def confirm(session: Session, *, settings: Settings, token: str) -> Customer | None:
    """Follow a confirmation link: record the consent; ``None`` for a bad or stale link."""
    signer = LinkSigner(consent.secret_key(session, settings))
    found = signer.verify(CONFIRM, token)
    if found is None:
        return None
    customer = session.get(Customer, found.customer_id)
    if customer is None or not customer.is_active or not customer.email:
        return None
    digest = consent.address_hash(consent.hash_key(session), "email", customer.email)
    if bytes.fromhex(digest[:32]) != found.extra:
        return None  # the address changed since the link was sent
    if consent.needs_confirmation(session, customer, double_opt_in=True):
        consent.set_channel_consent(
            session,
            customer_id=customer.id,
            channel=Channel.email.value,
            granted=True,
            source=CONFIRMED_SOURCE,
        )
    prefs = consent.ensure_preferences(session, customer.id)
    prefs.optin_confirmed_at = prefs.optin_confirmed_at or utcnow()
    prefs.optin_source = CONFIRMED_SOURCE
    return customer
