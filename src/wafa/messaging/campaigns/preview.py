"""What a recipient would receive (the dashboard's preview), and SMS lengths before a send."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from wafa.core.links import LinkSigner
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.messaging import consent
from wafa.messaging.campaigns.models import Campaign, CampaignRecipient, CampaignStatus
from wafa.messaging.models import Channel, Kind, MessageContent
from wafa.messaging.pipeline.compose import compose
from wafa.messaging.segments import service as segments
from wafa.messaging.sms import SmsLength, count_segments
from wafa.messaging.templates import Preview

#: What ``{{ coupon_code }}`` shows in a preview (each recipient gets their own code).
SAMPLE_COUPON = "SAMPLE-CODE"


def sample_customers(
    session: Session, *, settings: Settings, campaign: Campaign, limit: int = 20
) -> list[Customer]:
    """Customers to preview with: its recipients once sent, else the segment's members."""
    if campaign.status == CampaignStatus.draft:
        segment = segments.get_segment(session, campaign.segment_id)
        ids = segments.members_query(
            session, settings=settings, rules=segments.stored_rules(segment)
        ).limit(limit)
    else:
        ids = (
            select(CampaignRecipient.customer_id)
            .where(CampaignRecipient.campaign_id == campaign.id)
            .limit(limit)
        )
    return list(
        session.scalars(select(Customer).where(Customer.id.in_(ids)).order_by(Customer.name))
    )


def preview(
    session: Session,
    *,
    settings: Settings,
    campaign: Campaign,
    customer_id: uuid.UUID,
    locale: str | None = None,
) -> Preview:
    """The campaign's message as ``customer_id`` would get it now (nothing sent or saved)."""
    customer = session.get(Customer, customer_id)
    if customer is None or not customer.is_active:
        from wafa.core.errors import NotFound

        raise NotFound(f"no customer {customer_id}", customer_id=customer_id)
    content = MessageContent(subject=campaign.subject, text=campaign.text, html=campaign.html)
    signer = LinkSigner(consent.secret_key(session, settings))
    rendered, headers = compose(
        session,
        settings,
        signer,
        customer=customer,
        content=content,
        channel=campaign.channel,
        kind=Kind.marketing.value,
        topic=campaign.topic,
        context={"coupon_code": SAMPLE_COUPON} if campaign.coupon else {},
        locale=locale,
    )
    sms = count_segments(rendered.text) if campaign.channel != Channel.email else None
    return Preview(rendered.locale, rendered.subject, rendered.text, rendered.html, sms, headers)


def sms_lengths(campaign: Campaign) -> dict[str, SmsLength]:
    """How many SMS each locale's text takes as written (variables make it vary a little)."""
    if campaign.channel == Channel.email:
        return {}
    return {locale: count_segments(text) for locale, text in campaign.text.items()}
