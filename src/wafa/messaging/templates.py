"""Saved templates: named, per channel and kind, edited by staff, previewed with a real
customer's data. Editing stores a new immutable content row and points the template at
it, so messages already queued keep the words they were queued with."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wafa.core.errors import Invalid, NotFound
from wafa.core.links import LinkSigner
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.messaging import consent, rendering
from wafa.messaging.models import Channel, Kind, MessageContent, MessageTemplate, Topic
from wafa.messaging.pipeline import compose
from wafa.messaging.queue import Content, store_content
from wafa.messaging.sms import SmsLength, count_segments

KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,79}$")


def list_templates(session: Session) -> list[MessageTemplate]:
    """Every saved template, by name."""
    return list(session.scalars(select(MessageTemplate).order_by(MessageTemplate.name)))


def get_template(session: Session, key: str) -> tuple[MessageTemplate, MessageContent]:
    """A template and its current content."""
    template = session.scalar(select(MessageTemplate).where(MessageTemplate.key == key))
    if template is None:
        raise NotFound(f"no template {key!r}", template=key)
    content = session.get(MessageContent, template.content_id)
    assert content is not None
    return template, content


def save_template(
    session: Session,
    *,
    key: str,
    name: str,
    channel: Channel,
    kind: Kind,
    topic: Topic | None,
    content: Content,
    by: str,
) -> MessageTemplate:
    """Create or change the template ``key`` (its text is checked before anything is saved)."""
    if not KEY.match(key):
        raise Invalid.field(("key",), "use lower-case letters, digits, '_', '-' or '.'")
    if not name.strip():
        raise Invalid.field(("name",), "give the template a name")
    cleaned = Content(
        subject=content.subject,
        text=content.text,
        html={loc: rendering.sanitize(src) for loc, src in content.html.items() if src.strip()},
    )
    content_id = store_content(session, cleaned)
    template = session.scalar(select(MessageTemplate).where(MessageTemplate.key == key))
    if template is None:
        template = MessageTemplate(id=uuid.uuid4(), key=key)
        session.add(template)
    template.name = name.strip()[:200]
    template.channel = channel.value
    template.kind = kind.value
    template.topic = topic.value if topic and kind is Kind.marketing else None
    template.content_id = content_id
    template.updated_at = utcnow()
    template.updated_by = by[:200]
    session.flush()
    return template


@dataclass(frozen=True)
class Preview:
    locale: str
    subject: str
    text: str
    html: str | None
    sms: SmsLength | None
    headers: dict[str, str]


def preview(
    session: Session,
    *,
    settings: Settings,
    template: MessageTemplate,
    content: MessageContent,
    customer_id: uuid.UUID,
    locale: str | None = None,
    test: bool = False,
) -> Preview:
    """What ``customer_id`` would receive from the template now (nothing is sent or saved);
    ``test``: its unsubscribe and portal links act for nobody (a copy sent to staff)."""
    customer = customers.get_live_customer(session, customer_id)
    signer = LinkSigner(consent.secret_key(session, settings))
    rendered, headers = compose(
        session,
        settings,
        signer,
        customer=customer,
        content=content,
        channel=template.channel,
        kind=template.kind,
        topic=template.topic,
        context={},
        locale=locale,
        test=test,
    )
    sms = count_segments(rendered.text) if template.channel != Channel.email else None
    return Preview(rendered.locale, rendered.subject, rendered.text, rendered.html, sms, headers)
