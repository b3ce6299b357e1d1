"""/api/v1 messaging: send one message, a customer's history and preferences, bounces.

Scopes: ``read`` for every GET; ``write`` to send and to change preferences; ``admin``
for bounce and complaint reports (what a mail server or provider posts). Sending is
idempotent by ``(customer_id, reason, occasion)``: ``202`` when queued, ``200`` with the
same message on a repeat. POSTs also honour ``Idempotency-Key``.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from wafa.api.deps import (
    DbSession,
    Idempotent,
    MayMessage,
    MaySuppress,
    Reader,
    ReadSession,
    Writer,
)
from wafa.api.routing import MESSAGE_LIMIT, AutoCommitRoute, idempotency_body
from wafa.core.errors import Invalid
from wafa.core.pagination import decode_cursor, encode_cursor
from wafa.messaging import bounces, preferences, service
from wafa.messaging.models import Message
from wafa.messaging.policy import load_policy
from wafa.messaging.schemas import MessageCreate, MessagePage, MessageRead
from wafa.messaging.sms import count_segments

router = APIRouter(route_class=AutoCommitRoute, tags=["messaging"])


@router.post(
    "/messages",
    status_code=202,
    response_model=MessageRead,
    dependencies=[Idempotent],
    responses={200: {"model": MessageRead, "description": "Queued before: the same message"}},
)
def send_message(
    body: MessageCreate, session: DbSession, principal: MayMessage, response: Response
) -> Message:
    """Queue one message; ``202`` with ``{"id", "status", ...}``, or ``200`` with the message
    queued before for the same (customer, reason, occasion)."""
    message, created = service.send_message(session, data=body)
    if not created:
        response.status_code = 200
    return message


@router.get("/messages/{message_id}", response_model=MessageRead)
def get_message(message_id: uuid.UUID, session: ReadSession, principal: Reader) -> Message:
    """One message and its status."""
    return service.get_message(session, message_id)


@router.get("/customers/{customer_id}/messages", response_model=MessagePage)
def customer_messages(
    customer_id: uuid.UUID,
    session: ReadSession,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> MessagePage:
    """The customer's messages, newest first (``next_cursor`` pages on)."""
    before = decode_cursor(cursor) if cursor else None
    rows = preferences.history(session, customer_id=customer_id, limit=limit + 1, before=before)
    more = len(rows) > limit
    rows = rows[:limit]
    return MessagePage(
        items=[MessageRead.model_validate(m) for m in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


@router.get("/customers/{customer_id}/message-preferences", response_model=preferences.Preferences)
def get_preferences(
    customer_id: uuid.UUID, session: ReadSession, principal: Reader
) -> preferences.Preferences:
    """Consent per channel and topic, timezone, suppressed addresses."""
    policy = load_policy(session)
    return preferences.read_preferences(
        session, customer_id=customer_id, double_opt_in=policy.double_opt_in
    )


@router.patch(
    "/customers/{customer_id}/message-preferences", response_model=preferences.Preferences
)
def update_preferences(
    customer_id: uuid.UUID,
    body: preferences.PreferencesUpdate,
    session: DbSession,
    principal: Writer,
) -> preferences.Preferences:
    """Change consent per channel or topic, or the timezone; each change is recorded as a
    consent decision with its source (``body.source``, and who) and time."""
    preferences.update_preferences(session, customer_id=customer_id, data=body, by=principal.label)
    policy = load_policy(session)
    return preferences.read_preferences(
        session, customer_id=customer_id, double_opt_in=policy.double_opt_in
    )


@router.post("/messaging/bounces", max_body_size=MESSAGE_LIMIT)  # a whole email
def report_bounce(
    request: Request,
    session: DbSession,
    principal: MaySuppress,
    raw: Annotated[bytes, Depends(idempotency_body)],
) -> dict[str, Any]:
    """A bounce or complaint: an RFC 3464 report (``multipart/report``, or the whole message
    as ``message/rfc822``) or JSON ``{"type", "email"|"phone", "message_id"?, "detail"?}``."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            data = json.loads(raw or b"null")
        except json.JSONDecodeError as exc:
            raise Invalid.field(("body",), f"not JSON: {exc.msg}") from exc
        if not isinstance(data, dict):
            raise Invalid.field(("body",), "expected a JSON object")
        notices = bounces.parse_json(data)
    elif kind == "multipart/report":
        headers = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        notices = bounces.parse_report(headers + raw)
    else:
        notices = bounces.parse_report(raw)
    return {"recorded": bounces.record(session, notices)}


@router.get("/messaging/sms-length")
def sms_length(principal: Reader, text: str = "") -> dict[str, Any]:
    """How many SMS a text takes (GSM-7 or UCS-2), before sending it."""
    found = count_segments(text)
    return {
        "encoding": found.encoding,
        "units": found.units,
        "segments": found.segments,
        "per_segment": found.per_segment,
    }
