"""Signed RSVP links: one per invitation and answer, good until the event starts.

A token names the customer, the gathering and the answer it proposes (``yes``/``no``);
opening it shows the event with both answers and never answers by itself (a mail
scanner that opens every link must not change anyone's RSVP): the customer confirms
with a button.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from wafa.core.links import LinkSigner, public_link
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.gatherings.models import Gathering
from wafa.messaging import consent

PURPOSE = "rsvp"
_ANSWERS = {b"y": "yes", b"n": "no"}


@dataclass(frozen=True)
class RsvpToken:
    customer_id: uuid.UUID
    gathering_id: uuid.UUID
    answer: str


def signer(session: Session, settings: Settings) -> LinkSigner:
    return LinkSigner(consent.secret_key(session, settings))


def rsvp_url(
    session: Session,
    *,
    settings: Settings,
    gathering: Gathering,
    customer_id: uuid.UUID,
    answer: str,
    links: LinkSigner | None = None,
) -> str:
    """The link a message carries for ``answer`` (``yes``/``no``), valid until the start."""
    if answer not in ("yes", "no"):
        raise ValueError(f"answer must be yes or no, not {answer!r}")
    expires_at = max(gathering.starts_at, utcnow() + timedelta(hours=1)).replace(microsecond=0)
    token = (links or signer(session, settings)).sign(
        PURPOSE,
        customer_id,
        expires_at=expires_at,
        extra=gathering.id.bytes + answer[0].encode(),
    )
    return public_link(settings.public_url, f"rsvp/{token}")


def read_token(
    session: Session, *, settings: Settings, token: str, now: datetime | None = None
) -> RsvpToken | None:
    """What a genuine, unexpired token says; ``None`` otherwise (forged, altered, old)."""
    found = signer(session, settings).verify(PURPOSE, token, now=now)
    if found is None or len(found.extra) != 17 or found.extra[16:] not in _ANSWERS:
        return None
    return RsvpToken(
        customer_id=found.customer_id,
        gathering_id=uuid.UUID(bytes=found.extra[:16]),
        answer=_ANSWERS[found.extra[16:]],
    )


def is_expired(session: Session, *, settings: Settings, token: str) -> bool:
    return signer(session, settings).is_expired(PURPOSE, token)
