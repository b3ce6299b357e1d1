"""The variables a template sees for one customer, and the links in a message.

Standard variables (a message's own ``context`` is merged over them):

=====================  ==================================================================
``customer``           ``first_name``, ``name``, ``email``, ``phone``
``business``           ``name``
``points``             ``available``, ``pending``, ``lifetime``, ``value`` (minor units),
                       ``expiring`` (list of ``{points, on}``), ``expiring_soon``
``tier``               the tier's name (empty when none)
``referral_code``      and ``referral_link``
``portal_url``         a signed link to the customer's portal (30 days)
``unsubscribe_url``    the one-click unsubscribe link (marketing)
``coupon_code``,
``order``, ``rewards``,
``recommendations``    as the sender passes them in ``context``
=====================  ==================================================================

Loyalty figures are read through the loyalty service only when a template uses them,
so a newsletter that greets by first name costs no loyalty queries.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from wafa.core.links import LinkSigner, public_link
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.loyalty import referrals
from wafa.loyalty import service as loyalty
from wafa.loyalty.program import rules_at
from wafa.messaging.models import Channel, Topic

LOYALTY_NAMES = frozenset({"points", "tier", "referral_code", "referral_link"})
PORTAL_LINK_DAYS = 30
UNSUBSCRIBE = "unsubscribe"
PORTAL = "portal"
CONFIRM = "optin"

_CHANNEL_CODES = {Channel.email.value: 1, Channel.sms.value: 2, Channel.whatsapp.value: 3}
_TOPIC_CODES: dict[str | None, int] = {
    None: 0,
    **{t.value: i for i, t in enumerate(Topic, start=1)},
}
_CHANNELS = {v: k for k, v in _CHANNEL_CODES.items()}
_TOPICS = {v: k for k, v in _TOPIC_CODES.items()}


def first_name(name: str | None) -> str:
    """The first word of a name (what a greeting uses)."""
    return name.split()[0] if name and name.split() else ""


def unsubscribe_token(
    signer: LinkSigner, customer_id: uuid.UUID, channel: str, topic: str | None
) -> str:
    """A token that never expires (mail is read months later) naming customer, channel, topic."""
    extra = bytes([_CHANNEL_CODES[channel], _TOPIC_CODES.get(topic, 0)])
    return signer.sign(UNSUBSCRIBE, customer_id, expires_at=None, extra=extra)


def read_unsubscribe_token(
    signer: LinkSigner, token: str
) -> tuple[uuid.UUID, str, str | None] | None:
    """``(customer_id, channel, topic)`` of a genuine unsubscribe token, else ``None``."""
    found = signer.verify(UNSUBSCRIBE, token)
    if found is None or len(found.extra) != 2:
        return None
    channel = _CHANNELS.get(found.extra[0])
    if channel is None or found.extra[1] not in _TOPICS:
        return None
    return found.customer_id, channel, _TOPICS[found.extra[1]]


def unsubscribe_url(settings: Settings, token: str) -> str:
    """The public URL of an unsubscribe token (one-click POST and the GET page)."""
    return public_link(settings.public_url, f"u/{token}")


def portal_url(settings: Settings, signer: LinkSigner, customer_id: uuid.UUID) -> str:
    """A signed link into the customer portal (``/portal/login/<token>``), valid 30 days.

    The portal verifies it with ``LinkSigner(secret).verify("portal", token)``.
    """
    token = signer.sign(PORTAL, customer_id, expires_at=utcnow() + timedelta(days=PORTAL_LINK_DAYS))
    return public_link(settings.public_url, f"portal/login/{token}")


def loyalty_variables(
    session: Session, settings: Settings, customer_id: uuid.UUID
) -> dict[str, Any]:
    """Points, tier and referral figures through the loyalty service."""
    status = loyalty.status(session, settings=settings, customer_id=customer_id)
    soon = utcnow().date() + timedelta(days=30)
    tier_name = status.tier_info.name if status.tier_info else (status.tier or "")
    return {
        "points": {
            "available": status.available,
            "pending": status.pending,
            "lifetime": status.lifetime,
            "value": status.value,
            "expiring": [{"points": e.points, "on": e.on.isoformat()} for e in status.expiring],
            "expiring_soon": sum(e.points for e in status.expiring if e.on <= soon),
        },
        "tier": tier_name,
        "referral_code": status.referral_code or "",
        "referral_link": _referral_link(session, settings, status.referral_code),
    }


def _referral_link(session: Session, settings: Settings, code: str | None) -> str:
    """The member's share link (the program's link base, else the portal's /r/ page)."""
    if not code:
        return ""
    link = referrals.referral_link(rules_at(session, settings).rules, code)
    return link if link.startswith("http") else public_link(settings.public_url, link)


def variables(
    session: Session,
    *,
    settings: Settings,
    signer: LinkSigner,
    customer: Customer,
    needed: frozenset[str],
    unsubscribe: str | None,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything a template may use for ``customer`` (only loaded when ``needed``)."""
    values: dict[str, Any] = {
        "customer": {
            "first_name": first_name(customer.name),
            "name": customer.name or "",
            "email": customer.email or "",
            "phone": customer.phone or "",
        },
        "business": {"name": settings.business_name},
        "unsubscribe_url": unsubscribe or "",
        "points": {
            "available": 0,
            "pending": 0,
            "lifetime": 0,
            "value": 0,
            "expiring": [],
            "expiring_soon": 0,
        },
        "tier": "",
        "referral_code": "",
        "referral_link": "",
        "coupon_code": "",
        "rewards": [],
        "recommendations": [],
        "order": {},
    }
    if "portal_url" in needed:
        values["portal_url"] = portal_url(settings, signer, customer.id)
    else:
        values["portal_url"] = ""
    if needed & LOYALTY_NAMES:
        values.update(loyalty_variables(session, settings, customer.id))
    values.update(extra)
    return values
