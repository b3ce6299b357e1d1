"""What a recipient would receive (the dashboard's preview), and SMS lengths before a send."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wafa.core.errors import Conflict
from wafa.core.ids import new_id
from wafa.core.links import LinkSigner
from wafa.core.settings import Settings
from wafa.customers.models import Customer
from wafa.messaging import consent, texts
from wafa.messaging.campaigns.models import Campaign, CampaignRecipient, CampaignStatus
from wafa.messaging.channels import Outgoing, SendResult, build_channels
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
    """Customers to preview with: its recipients once taken, else the segment's members."""
    if campaign.status in (CampaignStatus.draft, CampaignStatus.scheduled):
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
    test: bool = False,
) -> Preview:
    """The campaign's message as ``customer_id`` would get it now (nothing sent or saved);
    ``test``: with links that act for nobody (see ``compose``)."""
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
        test=test,
    )
    sms = count_segments(rendered.text) if campaign.channel != Channel.email else None
    return Preview(rendered.locale, rendered.subject, rendered.text, rendered.html, sms, headers)


def sms_lengths(campaign: Campaign) -> dict[str, SmsLength]:
    """How many SMS each locale's text takes as written, with the opt-out word a marketing
    SMS ends with (variables make it vary a little). The compose page's live count
    (``static/sms-count.js``) counts the same way."""
    if campaign.channel == Channel.email:
        return {}
    return {
        locale: count_segments(f"{text.rstrip()}\n{texts.gettext(locale, texts.SMS_OPT_OUT)}")
        for locale, text in campaign.text.items()
    }


#: The header that marks a test copy (and the subject's prefix).
TEST_HEADER = "X-Wafa-Test"
TEST_PREFIX = "[TEST]"


def send_test(
    session: Session,
    *,
    settings: Settings,
    campaign: Campaign,
    customer_id: uuid.UUID,
    to: str,
    locale: str | None = None,
) -> SendResult:
    """Email ``to`` the campaign as ``customer_id`` would get it, as a test (see
    ``_send_test``); the mail server's answer."""
    return _send_test(
        session, settings=settings, campaign=campaign, customer_id=customer_id, to=to, locale=locale
    )[0]


def _send_test(
    session: Session,
    *,
    settings: Settings,
    campaign: Campaign,
    customer_id: uuid.UUID,
    to: str,
    locale: str | None = None,
) -> tuple[SendResult, str]:
    """Email ``to`` (a staff member) the campaign as ``customer_id`` would get it, marked
    as a test (``[TEST]`` before the subject, an ``X-Wafa-Test`` header).

    Counted nowhere: no message row (so no campaign count, no frequency cap, nothing on
    the customer's timeline), no coupon issued (``SAMPLE-CODE`` stands in), and its
    unsubscribe and portal links act for nobody. Any status, any channel: an SMS or
    WhatsApp campaign's text (with its opt-out word) arrives as a plain email with its
    length. Sent straight through the email channel, now; quiet hours are for customers.
    """
    shown = preview(
        session,
        settings=settings,
        campaign=campaign,
        customer_id=customer_id,
        locale=locale,
        test=True,
    )
    headers = {**shown.headers, TEST_HEADER: f"campaign {campaign.id}"}
    text, html = shown.text, shown.html
    subject = f"{TEST_PREFIX} {shown.subject}".strip()
    if campaign.channel != Channel.email:
        assert shown.sms is not None
        subject = f"{TEST_PREFIX} {campaign.name} ({campaign.channel.upper()})"
        text = (
            f"{shown.text}\n\n-- \n{campaign.channel.upper()}: {shown.sms.segments} x "
            f"{shown.sms.encoding}, {shown.sms.units} characters"
        )
        html = None
    channel = build_channels(settings)["email"]
    try:
        result = channel.send(
            Outgoing(
                message_id=new_id(),
                channel="email",
                kind=Kind.marketing.value if campaign.channel == Channel.email else "transactional",
                to=to,
                text=text,
                subject=subject,
                html=html,
                locale=shown.locale,
                headers=headers
                if campaign.channel == Channel.email
                else {TEST_HEADER: headers[TEST_HEADER]},
            )
        )
    finally:
        channel.close()
    return result, shown.locale


@dataclass(frozen=True)
class TestCopy:
    """A test copy sent (``POST /api/v1/campaigns/{id}/test``): the mail server's answer,
    the address, whose data filled it and in which language."""

    outcome: str
    detail: str | None
    to: str
    customer_id: uuid.UUID
    locale: str


def send_test_copy(
    session: Session,
    *,
    settings: Settings,
    campaign_id: uuid.UUID,
    to: str,
    customer_id: uuid.UUID | None = None,
    locale: str | None = None,
) -> TestCopy:
    """``send_test`` for the API: the campaign as ``customer_id`` (else its first sample
    customer, see ``sample_customers``) would get it, emailed to ``to`` as a test.

    Raises ``Conflict`` when no customer is given and the segment has none to fill the
    message with, ``NotFound`` for an unknown campaign or customer."""
    from wafa.messaging.campaigns import service

    campaign = service.get_campaign(session, campaign_id)
    if customer_id is None:
        people = sample_customers(session, settings=settings, campaign=campaign, limit=1)
        if not people:
            raise Conflict(
                "the campaign's segment has no customers to fill a test with; "
                "name one in customer_id",
                campaign_id=campaign_id,
            )
        customer_id = people[0].id
    result, used = _send_test(
        session,
        settings=settings,
        campaign=campaign,
        customer_id=customer_id,
        to=to,
        locale=locale,
    )
    return TestCopy(result.outcome.value, result.detail, to, customer_id, used)
