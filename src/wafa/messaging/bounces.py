"""Bounces and complaints that arrive after the send (``POST /api/v1/messaging/bounces``).

Two forms are read:

- an RFC 3464 delivery-status notification (``multipart/report;
  report-type=delivery-status``), as a mail server returns it: each recipient's
  ``Final-Recipient``, ``Action`` and ``Status``; ``failed`` with a 5.x.x status is a
  hard bounce, ``delayed`` or 4.x.x a soft one. An RFC 5965 abuse report
  (``report-type=feedback-report``) is a complaint;
- a small JSON object ``{"type": "hard_bounce"|"soft_bounce"|"complaint", "email"?: str,
  "phone"?: str, "message_id"?: str, "detail"?: str}`` for providers that post webhooks.

A hard bounce suppresses the address for everything; a complaint withdraws the email
consent and suppresses marketing; soft bounces count, and suppress after the policy's
allowance in a row. The message the notice is about (found by its ``Message-ID`` or id)
is marked ``failed`` with the reason ``bounced`` or ``complaint``.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import re
import uuid
from dataclasses import dataclass
from email.message import Message as MimeMessage
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wafa.core.errors import Invalid
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.messaging import consent
from wafa.messaging.models import Medium, Message, SoftFailure, Status, SuppressionReason
from wafa.messaging.policy import load_policy

KINDS = ("hard_bounce", "soft_bounce", "complaint")
_STATUS = re.compile(r"([245])\.\d{1,3}\.\d{1,3}")


@dataclass(frozen=True)
class Notice:
    kind: str
    address: str
    medium: str
    message_ref: str | None = None
    detail: str | None = None


def parse_json(data: dict[str, Any]) -> list[Notice]:
    """Read the JSON form (422 naming the field when it is wrong)."""
    kind = data.get("type")
    if kind not in KINDS:
        raise Invalid.field(("body", "type"), f"must be one of {', '.join(KINDS)}")
    address = data.get("email") or data.get("phone")
    if not isinstance(address, str) or not address.strip():
        raise Invalid.field(("body", "email"), "give the email (or phone) the notice is about")
    medium = Medium.email if data.get("email") else Medium.phone
    ref = data.get("message_id")
    detail = data.get("detail")
    return [
        Notice(
            kind,
            address.strip(),
            medium,
            str(ref) if ref else None,
            str(detail)[:2000] if detail else None,
        )
    ]


def _fields(part: MimeMessage) -> list[dict[str, str]]:
    """The field groups of a message/delivery-status part (per-message, then per-recipient)."""
    payload = part.get_payload()
    groups: list[dict[str, str]] = []
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, MimeMessage):
                groups.append({k.lower(): str(v) for k, v in block.items()})
        return groups
    text = payload if isinstance(payload, str) else ""
    for block in re.split(r"\r?\n\r?\n", text.strip()):
        group: dict[str, str] = {}
        for line in block.splitlines():
            if ":" in line and not line.startswith((" ", "\t")):
                name, _, value = line.partition(":")
                group[name.strip().lower()] = value.strip()
        if group:
            groups.append(group)
    return groups


def _address(value: str) -> str:
    # "rfc822; someone@example.com"
    return value.split(";", 1)[-1].strip().strip("<>")


def _original_message_id(report: MimeMessage) -> str | None:
    for part in report.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, MimeMessage) and inner.get("Message-ID"):
                return str(inner["Message-ID"]).strip()
            text = payload if isinstance(payload, str) else ""
            match = re.search(r"^Message-ID:\s*(<[^>]+>)", text, re.I | re.M)
            if match:
                return match.group(1)
    return None


def parse_report(raw: bytes) -> list[Notice]:
    """Read an RFC 3464 delivery-status notification or an RFC 5965 feedback report."""
    report = email.message_from_bytes(raw, policy=email.policy.compat32)
    if report.get_content_type() != "multipart/report":
        raise Invalid.field(("body",), "expected multipart/report (RFC 3464 or RFC 5965)")
    report_type = (report.get_param("report-type") or "").__str__().lower()
    ref = _original_message_id(report)
    notices: list[Notice] = []
    if report_type == "feedback-report":
        for part in report.walk():
            if part.get_content_type() == "message/feedback-report":
                for group in _fields(part):
                    rcpt = group.get("original-rcpt-to") or group.get("removal-recipient")
                    if rcpt:
                        notices.append(
                            Notice(
                                "complaint",
                                _address(rcpt),
                                Medium.email,
                                ref,
                                group.get("feedback-type"),
                            )
                        )
        if not notices:
            raise Invalid.field(("body",), "the feedback report names no recipient")
        return notices
    if report_type != "delivery-status":
        raise Invalid.field(("body",), f"unsupported report-type {report_type!r}")
    for part in report.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for group in _fields(part):
            recipient = group.get("final-recipient") or group.get("original-recipient")
            action = group.get("action", "").lower()
            if not recipient or not action:
                continue
            match = _STATUS.search(group.get("status", ""))
            klass = match.group(1) if match else ""
            if action == "failed" and klass in ("5", ""):
                kind = "hard_bounce"
            elif action in ("delayed", "failed"):
                kind = "soft_bounce"
            else:
                continue  # delivered, relayed, expanded: nothing to do
            detail = " ".join(filter(None, [group.get("status"), group.get("diagnostic-code")]))
            notices.append(Notice(kind, _address(recipient), Medium.email, ref, detail or None))
    if not notices:
        raise Invalid.field(("body",), "the delivery-status report names no failed recipient")
    return notices


def _find_message(session: Session, notice: Notice) -> Message | None:
    if not notice.message_ref:
        return None
    ref = notice.message_ref.strip()
    conditions = [Message.provider_id == ref]
    with contextlib.suppress(ValueError):
        conditions.append(Message.id == uuid.UUID(ref.strip("<>").split("@")[0].split(".")[-1]))
    return session.scalar(select(Message).where(or_(*conditions)).limit(1))


def record(session: Session, notices: list[Notice]) -> list[dict[str, Any]]:
    """Apply the notices; returns what was done per address."""
    secret = consent.hash_key(session)
    policy = load_policy(session)
    done = []
    for notice in notices:
        message = _find_message(session, notice)
        customer_id = message.customer_id if message else None
        if notice.kind == "hard_bounce":
            consent.suppress(
                session,
                secret=secret,
                medium=notice.medium,
                address=notice.address,
                reason=SuppressionReason.hard_bounce,
                source="bounce report",
                detail=notice.detail,
                customer_id=customer_id,
            )
            outcome = "suppressed"
        elif notice.kind == "complaint":
            consent.suppress(
                session,
                secret=secret,
                medium=notice.medium,
                address=notice.address,
                reason=SuppressionReason.complaint,
                source="complaint report",
                detail=notice.detail,
                customer_id=customer_id,
            )
            column = Customer.email if notice.medium == Medium.email else Customer.phone
            customer = session.scalar(select(Customer).where(column == notice.address))
            if customer is not None and customer.is_active:
                channel = "email" if notice.medium == Medium.email else "sms"
                if consent.channel_consent(session, customer, channel):
                    consent.set_channel_consent(
                        session,
                        customer_id=customer.id,
                        channel=channel,
                        granted=False,
                        source="spam complaint",
                    )
            outcome = "suppressed"
        else:
            digest = consent.address_hash(secret, notice.medium, notice.address)
            row = session.get(SoftFailure, (notice.medium, digest))
            if row is None:
                row = SoftFailure(
                    medium=notice.medium, address_hash=digest, count=0, last_at=utcnow()
                )
                session.add(row)
            row.count += 1
            row.last_at = utcnow()
            outcome = "counted"
            if row.count >= policy.soft_bounce_limit:
                consent.suppress(
                    session,
                    secret=secret,
                    medium=notice.medium,
                    address=notice.address,
                    reason=SuppressionReason.soft_bounces,
                    source=f"{row.count} soft bounces in a row",
                    detail=notice.detail,
                    customer_id=customer_id,
                )
                outcome = "suppressed"
        if (
            message is not None
            and notice.kind != "soft_bounce"
            and message.status in (Status.sent, Status.unknown)
        ):
            message.status = Status.failed.value
            message.status_reason = "bounced" if notice.kind == "hard_bounce" else "complaint"
            message.error = notice.detail
        done.append(
            {
                "address": notice.address,
                "type": notice.kind,
                "result": outcome,
                "message_id": str(message.id) if message else None,
            }
        )
    session.flush()
    return done
