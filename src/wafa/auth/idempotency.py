"""How long an ``Idempotency-Key``'s stored answer lives, and how an erasure forgets it.

A stored answer is a copy of a response: it can hold a customer's name, email and
phone. It is kept for ``RETENTION`` (24 hours: the window in which a client retries a
request whose answer it lost), then deleted by a timed task. When a person is erased,
every stored answer that names them (their id, email, phone or name, or the id of a
record merged into theirs) is replaced by a ``410 Gone`` problem: a replay of the
original key answers that the result was erased, and never runs the request again
(which would bring the person back).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session

from wafa.auth.models import IdempotencyRecord
from wafa.core.db import rowcount
from wafa.core.time import utcnow

#: How long a stored answer can be replayed.
RETENTION = timedelta(hours=24)
#: ``request_hash`` of an erased answer: any body replayed under its key gets the 410.
ERASED = "erased"
ERASED_STATUS = 410
ERASED_BODY = json.dumps(
    {
        "type": "about:blank",
        "title": "Gone",
        "status": ERASED_STATUS,
        "detail": "the answer to this request held personal data that has since been erased",
    }
)


def expire(session: Session, *, now: datetime | None = None) -> int:
    """Delete stored answers older than ``RETENTION``; returns how many went."""
    cutoff = (now or utcnow()) - RETENTION
    return rowcount(
        session.execute(
            delete(IdempotencyRecord)
            .where(IdempotencyRecord.created_at < cutoff)
            .execution_options(synchronize_session=False)
        )
    )


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def forget(session: Session, *, ids: Iterable[uuid.UUID], values: Iterable[str | None]) -> int:
    """Replace every stored answer naming one of ``ids`` or ``values`` (in its body, or an id
    in its path) by the erased answer.

    ``values`` (an email, a phone, a name) are matched as whole JSON strings, so a short
    name does not catch every answer that contains it as a word.
    """
    id_texts = [str(i) for i in ids]
    needles = list(id_texts)
    for value in values:
        if value:
            needles.append(json.dumps(value, ensure_ascii=False))
            needles.append(json.dumps(value))
    if not needles:
        return 0
    body, path = IdempotencyRecord.response_body, IdempotencyRecord.method_path
    naming = [body.like(_like(n), escape="\\") for n in dict.fromkeys(needles)]
    naming += [path.like(_like(i), escape="\\") for i in id_texts]  # POST /customers/{id}/...
    return rowcount(
        session.execute(
            update(IdempotencyRecord)
            .where(or_(*naming))
            .values(
                status_code=ERASED_STATUS,
                response_body=ERASED_BODY,
                request_hash=ERASED,
                extra=None,
            )
            .execution_options(synchronize_session=False)
        )
    )
