"""Signed webhooks out: Wafa's events sent to the shop's other tools.

An **endpoint** subscribes to event topics (``order.placed``, ``points.earned``… the
outbox topics of ``docs/events.md``; ``*`` for all). Each event is fanned out by an
outbox consumer (``fan_out``) into one **message** per subscribed endpoint, in the
consumer's transaction: ``(endpoint, event)`` is unique, so a re-run adds nothing.

The worker's ``send_due`` task sends what is due, signed by the Standard Webhooks
specification (the ``standardwebhooks`` package: ``webhook-id`` — the message id, the
same on every retry —, ``webhook-timestamp``, ``webhook-signature``), body
``{"type", "timestamp", "data"}``. A message is claimed before it is sent, in its own
committed transaction, by moving ``next_attempt_at`` a lease ahead (twice
``WAFA_WEBHOOK_TIMEOUT``): a worker killed mid-send leaves it claimed, and once the
lease runs out it is sent again — each event at least once, never lost. A 2xx answer
delivers it; anything else is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h
(about a day and a quarter), then the message is ``failed`` and, if the endpoint has
not answered 2xx since, the endpoint is disabled with the reason, and every owner is
emailed once about it (``notify_disabled``; the dashboard's pages show it too). Every try is logged
(``Attempt``: status code or error, duration). One customer's events reach an endpoint
in order: a message waits while an earlier one for the same customer is pending.
A failed message can be replayed; a disabled endpoint enabled again.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker
from standardwebhooks.webhooks import Webhook

from wafa.auth import service as auth
from wafa.auth.models import Role
from wafa.core.db import dialect_name, insert_new
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.events import BATCH_MEMO, Envelope, Event
from wafa.core.i18n import N_, translate
from wafa.core.ids import new_id
from wafa.core.links import public_link
from wafa.core.sealing import seal, unseal
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.integrations.models import Attempt, Endpoint, Message, MessageStatus
from wafa.messaging.channels import Outcome, Outgoing, build_email
from wafa.messaging.channels.base import Channel

__all__ = [
    "RETRIES",
    "add_endpoint",
    "disabled_endpoints",
    "enable_endpoint",
    "event_types",
    "fan_out",
    "list_endpoints",
    "list_messages",
    "notify_disabled",
    "remove_endpoint",
    "replay_message",
    "send_due",
]

log = logging.getLogger("wafa.integrations.webhooks")

#: The waits after each failed try; when they are spent the message has failed.
RETRIES = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
#: Messages one pass sends at most.
BATCH = 50
_USER_AGENT = "Wafa-Webhooks/1"


def event_types() -> dict[str, type[Event]]:
    """Every event type the running program declares, by topic (the outbox topics)."""
    found: dict[str, type[Event]] = {}
    stack = list(Event.__subclasses__())
    while stack:
        kind = stack.pop()
        stack.extend(kind.__subclasses__())
        topic = getattr(kind, "topic", None)
        if isinstance(topic, str) and topic:
            found.setdefault(topic, kind)
    return dict(sorted(found.items()))


def _check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise Invalid.field(("url",), "must be an http:// or https:// address")
    return url


def _check_topics(topics: Iterable[str]) -> list[str]:
    wanted = sorted({t.strip() for t in topics if t.strip()})
    if not wanted:
        raise Invalid.field(("events",), "name at least one event type, or * for all")
    known = event_types()
    unknown = [t for t in wanted if t != "*" and t not in known]
    if unknown:
        raise Invalid.field(
            ("events",), f"unknown event types {', '.join(unknown)} (see docs/events.md)"
        )
    return ["*"] if "*" in wanted else wanted


@dataclass(frozen=True, slots=True)
class NewEndpoint:
    endpoint: Endpoint
    secret: str


def add_endpoint(
    session: Session,
    *,
    settings: Settings,
    url: str,
    topics: Iterable[str],
    description: str | None = None,
) -> NewEndpoint:
    """A new endpoint with a new signing secret (shown once, stored sealed)."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    endpoint = Endpoint(
        url=_check_url(url),
        topics=_check_topics(topics),
        description=(description or "").strip()[:200] or None,
        secret=seal(settings, secret),
    )
    session.add(endpoint)
    session.flush()
    return NewEndpoint(endpoint, secret)


def get_endpoint(session: Session, endpoint_id: uuid.UUID) -> Endpoint:
    """The endpoint ``endpoint_id``."""
    found = session.get(Endpoint, endpoint_id)
    if found is None:
        raise NotFound(f"webhook endpoint {endpoint_id} not found")
    return found


def list_endpoints(session: Session) -> list[Endpoint]:
    """Every endpoint, oldest first."""
    return list(session.scalars(select(Endpoint).order_by(Endpoint.created_at, Endpoint.id)))


def remove_endpoint(session: Session, endpoint_id: uuid.UUID) -> None:
    """Delete an endpoint with its messages and their log."""
    session.delete(get_endpoint(session, endpoint_id))
    session.flush()


def enable_endpoint(session: Session, endpoint_id: uuid.UUID) -> Endpoint:
    """Take a disabled endpoint back into service (its failed messages can be replayed)."""
    endpoint = get_endpoint(session, endpoint_id)
    endpoint.disabled_at = None
    endpoint.disabled_reason = None
    session.flush()
    return endpoint


def list_messages(
    session: Session,
    *,
    endpoint_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[Message]:
    """The newest messages, optionally of one endpoint or one status."""
    stmt = select(Message).order_by(Message.id.desc()).limit(limit)
    if endpoint_id is not None:
        stmt = stmt.where(Message.endpoint_id == endpoint_id)
    if status:
        stmt = stmt.where(Message.status == status)
    return list(session.scalars(stmt))


def attempts_of(session: Session, message_id: uuid.UUID) -> list[Attempt]:
    """Every try of a message, oldest first."""
    return list(
        session.scalars(
            select(Attempt).where(Attempt.message_id == message_id).order_by(Attempt.at)
        )
    )


def replay_message(session: Session, message_id: uuid.UUID) -> Message:
    """Send a failed (or delivered) message again, now, with a fresh set of retries."""
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"webhook message {message_id} not found")
    if message.status == MessageStatus.pending:
        raise Conflict("the message is still being sent")
    endpoint = get_endpoint(session, message.endpoint_id)
    if endpoint.disabled_at is not None:
        raise Conflict("the endpoint is disabled: enable it first")
    message.status = MessageStatus.pending
    message.attempts = 0
    message.next_attempt_at = utcnow()
    session.flush()
    return message


# --------------------------------------------------------------------------- fan-out


def _ordering(event: Event, envelope: Envelope) -> uuid.UUID | None:
    customer = getattr(event, "customer_id", None)
    return customer if isinstance(customer, uuid.UUID) else envelope.subject_id


_MEMO_KEY = "integrations.endpoints"


def _enabled_endpoints(session: Session) -> list[Any]:
    """``(id, topics, created_at)`` of the enabled endpoints: read once per worker batch
    (one transaction: a campaign's thousands of message events fan out in a few), else
    per call."""
    memo = session.info.get(BATCH_MEMO)
    if isinstance(memo, dict) and _MEMO_KEY in memo:
        found: list[Any] = memo[_MEMO_KEY]
        return found
    rows = list(
        session.execute(
            select(Endpoint.id, Endpoint.topics, Endpoint.created_at).where(
                Endpoint.disabled_at.is_(None)
            )
        ).all()
    )
    if isinstance(memo, dict):
        memo[_MEMO_KEY] = rows
    return rows


def fan_out(session: Session, event: Event, envelope: Envelope) -> None:
    """One message per enabled endpoint subscribed to the event's topic (once)."""
    wanted = [
        eid
        for eid, topics, created_at in _enabled_endpoints(session)
        if created_at <= envelope.occurred_at and ("*" in topics or event.topic in topics)
    ]
    if not wanted:
        return
    body = json.dumps(
        {
            "type": event.topic,
            "timestamp": envelope.occurred_at.isoformat(),
            "data": event.model_dump(mode="json", by_alias=True),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    now = utcnow()
    for endpoint_id in wanted:
        insert_new(
            session,
            Message,
            index_elements=["endpoint_id", "event_id"],
            values={
                "id": new_id(),
                "endpoint_id": endpoint_id,
                "event_id": envelope.id,
                "topic": event.topic,
                "ordering": _ordering(event, envelope),
                "body": body,
                "status": MessageStatus.pending.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            },
        )


# --------------------------------------------------------------------------- sending


def _lease(settings: Settings) -> timedelta:
    return timedelta(seconds=2 * settings.webhook_timeout + 1)


def _claim(session: Session, settings: Settings, now: datetime) -> list[tuple[Any, ...]]:
    """Claim the due messages (a lease ahead), oldest first, one customer's in order."""
    earlier = aliased(Message)
    blocked = exists().where(
        earlier.endpoint_id == Message.endpoint_id,
        earlier.ordering == Message.ordering,
        earlier.status == MessageStatus.pending,
        earlier.id < Message.id,
    )
    stmt = (
        select(Message.id, Message.endpoint_id, Message.body, Message.attempts)
        .join(Endpoint, Endpoint.id == Message.endpoint_id)
        .where(
            Message.status == MessageStatus.pending,
            Message.next_attempt_at <= now,
            Endpoint.disabled_at.is_(None),
            ~and_(Message.ordering.is_not(None), blocked),
        )
        .order_by(Message.id)
        .limit(BATCH)
    )
    if dialect_name(session) == "postgresql":
        stmt = stmt.with_for_update(of=Message, skip_locked=True)
    rows = session.execute(stmt).all()
    if rows:
        session.execute(
            update(Message)
            .where(Message.id.in_([r[0] for r in rows]))
            .values(attempts=Message.attempts + 1, next_attempt_at=now + _lease(settings))
            .execution_options(synchronize_session=False)
        )
    return [tuple(r) for r in rows]


def _send(
    client: httpx.Client, endpoint: Endpoint, secret: str, message_id: uuid.UUID, body: str
) -> tuple[int | None, str | None, int]:
    """POST one message signed with ``secret``; ``(status code, error, milliseconds)``."""
    now = utcnow()
    signature = Webhook(secret).sign(str(message_id), now, body.encode())
    headers = {
        "content-type": "application/json",
        "user-agent": _USER_AGENT,
        "webhook-id": str(message_id),
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    started = time.monotonic()
    try:
        answer = client.post(endpoint.url, content=body.encode(), headers=headers)
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        return None, error, int((time.monotonic() - started) * 1000)
    took = int((time.monotonic() - started) * 1000)
    if 200 <= answer.status_code < 300:
        return answer.status_code, None, took
    return answer.status_code, answer.text[:300] or None, took


def _settle(
    factory: sessionmaker[Session],
    message_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    attempt: int,
    code: int | None,
    error: str | None,
    took: int,
) -> bool:
    """Record one try and its outcome; ``True`` when the message was delivered."""
    now = utcnow()
    ok = code is not None and 200 <= code < 300
    with factory() as session, session.begin():
        session.add(
            Attempt(message_id=message_id, at=now, status_code=code, error=error, milliseconds=took)
        )
        message = session.get(Message, message_id)
        endpoint = session.get(Endpoint, endpoint_id)
        if message is None or endpoint is None:
            return False  # removed meanwhile
        message.last_status_code, message.last_error = code, error
        if ok:
            message.status = MessageStatus.delivered
            message.delivered_at = now
            message.next_attempt_at = None
            endpoint.last_success_at = now
            return True
        if attempt <= len(RETRIES):
            message.next_attempt_at = now + RETRIES[attempt - 1]
            return False
        message.status = MessageStatus.failed
        message.next_attempt_at = None
        silent = endpoint.last_success_at is None or endpoint.last_success_at < message.created_at
        if silent and endpoint.disabled_at is None:
            endpoint.disabled_at = now
            endpoint.disabled_reason = (
                f"no 2xx answer for {attempt} tries over a day (last: "
                f"{code if code is not None else error})"
            )[:1000]
            log.warning("webhook endpoint %s disabled: %s", endpoint.url, endpoint.disabled_reason)
        return False


def send_due(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    """One pass: claim what is due, send it, record each answer."""
    now = utcnow()
    with factory() as session, session.begin():
        claimed = _claim(session, settings, now)
        if not claimed:
            return {"webhooks_sent": 0, "webhooks_failed": 0}
        ids = {r[1] for r in claimed}
        endpoints = {e.id: e for e in session.scalars(select(Endpoint).where(Endpoint.id.in_(ids)))}
        for endpoint in endpoints.values():
            session.expunge(endpoint)
    keys = {eid: unseal(settings, e.secret) for eid, e in endpoints.items()}
    sent = failed = 0
    with httpx.Client(timeout=settings.webhook_timeout, follow_redirects=False) as client:
        for message_id, endpoint_id, body, attempts in claimed:
            endpoint = endpoints[endpoint_id]
            code, error, took = _send(client, endpoint, keys[endpoint_id], message_id, body)
            if _settle(factory, message_id, endpoint_id, attempts + 1, code, error, took):
                sent += 1
            else:
                failed += 1
    return {"webhooks_sent": sent, "webhooks_failed": failed}


# --------------------------------------------------------------------------- the owner told

#: The owner's email when an endpoint is disabled (``integrations.po`` translates it).
NOTICE_SUBJECT = N_("Webhooks to %(url)s are stopped")
NOTICE_TEXT = N_(
    "Wafa stopped sending events to %(url)s: it answered no 2xx for a day of retries "
    "(%(reason)s).\n\nThe events since then are kept. Once the receiver works again, enable "
    "it and send the failed events again: %(link)s"
)
#: A notice whose email could not be sent yet is tried again for this long.
NOTICE_RETRY = timedelta(days=1)


def disabled_endpoints(session: Session) -> list[Endpoint]:
    """The disabled endpoints, the most recently disabled first (the dashboard's notice)."""
    return list(
        session.scalars(
            select(Endpoint)
            .where(Endpoint.disabled_at.is_not(None))
            .order_by(Endpoint.disabled_at.desc())
        )
    )


def _owners(session: Session) -> list[tuple[str, str]]:
    """(email, language) of every active owner."""
    return sorted(
        {
            u.email: (u.email, u.locale if u.locale in ("en", "ar", "fa") else "en")
            for u in auth.list_users(session)
            if u.role == Role.owner and u.active and u.email
        }.values()
    )


def notify_disabled(
    factory: sessionmaker[Session], settings: Settings, channel: Channel | None = None
) -> dict[str, int]:
    """Email every active owner, once per disabling, about each endpoint disabled.

    The endpoint is claimed (``notified_at``, committed) before the email goes through
    messaging's email channel as transactional mail, so a crash or a second worker never
    sends it twice; when no owner could be reached for a passing reason (the SMTP server
    down) the claim is released and the next pass tries again, for a day.
    """
    now = utcnow()
    with factory() as session, session.begin():
        stmt = (
            select(Endpoint.id, Endpoint.url, Endpoint.disabled_at, Endpoint.disabled_reason)
            .where(
                Endpoint.disabled_at.is_not(None),
                Endpoint.disabled_at > now - NOTICE_RETRY,
                or_(Endpoint.notified_at.is_(None), Endpoint.notified_at < Endpoint.disabled_at),
            )
            .order_by(Endpoint.disabled_at)
            .limit(BATCH)
        )
        if dialect_name(session) == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        due = [tuple(r) for r in session.execute(stmt)]
        if not due:
            return {"webhook_notices": 0}
        session.execute(
            update(Endpoint)
            .where(Endpoint.id.in_([r[0] for r in due]))
            .values(notified_at=now)
            .execution_options(synchronize_session=False)
        )
        owners = _owners(session)
    link = public_link(settings.public_url, "integrations/webhooks")
    email = build_email(settings) if channel is None else channel
    sent = 0
    try:
        for endpoint_id, url, _, reason in due:
            retry = False
            for to, language in owners:
                values = {"url": url, "reason": reason or "", "link": link}
                result = email.send(
                    Outgoing(
                        message_id=new_id(),
                        channel="email",
                        kind="transactional",
                        to=to,
                        subject=translate("integrations", language, NOTICE_SUBJECT, url=url),
                        text=translate("integrations", language, NOTICE_TEXT, **values),
                        locale=language,
                    )
                )
                if result.outcome == Outcome.sent:
                    sent += 1
                else:
                    retry |= result.outcome == Outcome.temporary
                    log.warning("webhook notice to %s: %s (%s)", to, result.outcome, result.detail)
            if retry and not sent:
                with factory() as session, session.begin():
                    session.execute(
                        update(Endpoint)
                        .where(Endpoint.id == endpoint_id, Endpoint.notified_at == now)
                        .values(notified_at=None)
                        .execution_options(synchronize_session=False)
                    )
    finally:
        if channel is None:
            email.close()
    return {"webhook_notices": sent}
