"""What a campaign did: deliveries, and orders of recipients against the holdout.

**Deliveries**: recipients (chosen to receive), held out, messages per status, skipped per
reason, failures, bounces and complaints (a message failed as ``hard_bounce``,
``soft_bounces`` or ``bounced``; ``complaint``), and unsubscribes (recipients whose message
went out and who then withdrew the channel's consent or refused a topic within the window).

**Effect**: for each customer of the snapshot, the sales (``wafa.orders.sales``: not
cancelled, not refunded in full) they placed in the business currency in the ``days``
after the campaign started (``send_at`` for a campaign scheduled at a time), net of
refunds. The two groups were drawn at random from the same segment, so the difference of
their means is the campaign's effect. It is read as *intention to treat*: every chosen
recipient counts, whether their message was delivered, skipped or held by a cap — which
is what sending a campaign to that segment changes.

**Method**: difference of the group means (recipients − holdout) with a 95 % confidence
interval from the normal approximation, with Welch's standard error
``sqrt(s²_r/n_r + s²_h/n_h)`` (sample variances; no equal-variance assumption). The
sums, sums of squares and counts are computed by the database (one grouped query); no
per-customer row reaches Python. With fewer than two customers in a group there is no
interval.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, distinct, func, select
from sqlalchemy.orm import Session

from wafa.core.holdout import (
    METHOD,
    Comparison,
    Effects,
    Group,
    compare,
    effects,
    holdout_groups,
)
from wafa.core.holdout import (
    Z95 as Z95,  # the interval's constant, read by the tests
)
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers.models import ConsentRecord
from wafa.messaging import queue
from wafa.messaging.campaigns.models import Campaign, CampaignRecipient, Schedule
from wafa.messaging.campaigns.service import get_campaign, status_of
from wafa.messaging.models import Message, Status, TopicConsent
from wafa.orders.models import Order
from wafa.orders.sales import sold

BOUNCES = ("hard_bounce", "soft_bounces", "bounced")


@dataclass(frozen=True)
class Report:
    campaign: Campaign
    status: str
    recipients: int
    holdout: int
    counts: dict[str, int]
    skipped_by_reason: dict[str, int]
    failed_by_reason: dict[str, int]
    bounces: int
    complaints: int
    unsubscribes: int
    days: int
    window_start: datetime | None
    window_end: datetime | None
    window_open: bool
    currency: str
    chosen: Group
    held: Group
    conversion: Comparison
    orders: Comparison
    revenue: Comparison
    method: str = METHOD

    @property
    def added_revenue(self) -> float | None:
        """The revenue difference per recipient × recipients (minor units)."""
        if self.revenue.difference is None:
            return None
        return self.revenue.difference * self.recipients


def _window(campaign: Campaign, days: int) -> tuple[datetime | None, datetime | None]:
    start = campaign.started_at
    if campaign.schedule == Schedule.at and campaign.send_at is not None:
        start = max(campaign.send_at, start) if start else campaign.send_at
    if start is None:
        return None, None
    return start, start + timedelta(days=days)


def _groups(
    session: Session, campaign_id: uuid.UUID, start: datetime, end: datetime, currency: str
) -> dict[bool, Group]:
    per_customer = (
        select(
            CampaignRecipient.customer_id.label("customer_id"),
            CampaignRecipient.holdout.label("holdout"),
            func.count(Order.id).label("n"),
            func.coalesce(func.sum(Order.total_amount - Order.refunded_amount), 0).label("rev"),
        )
        .select_from(CampaignRecipient)
        .outerjoin(
            Order,
            and_(
                Order.customer_id == CampaignRecipient.customer_id,
                Order.placed_at >= start,
                Order.placed_at < end,
                Order.currency == currency,
                sold(),
            ),
        )
        .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.holdout.is_not(None))
        .group_by(CampaignRecipient.customer_id, CampaignRecipient.holdout)
        .subquery()
    )
    return holdout_groups(session, per_customer)


def _unsubscribes(session: Session, campaign: Campaign, end: datetime) -> int:
    """Recipients whose message went out and who withdrew the channel or a topic after it."""
    sent = (
        select(Message.customer_id, Message.sending_at)
        .where(
            Message.campaign_id == campaign.id,
            Message.status.in_([Status.sent.value, Status.unknown.value]),
        )
        .subquery()
    )
    channel_off = (
        select(ConsentRecord.customer_id)
        .join(sent, sent.c.customer_id == ConsentRecord.customer_id)
        .where(
            ConsentRecord.channel == campaign.channel,
            ConsentRecord.granted.is_(False),
            ConsentRecord.recorded_at >= sent.c.sending_at,
            ConsentRecord.recorded_at < end,
        )
    )
    topic_off = (
        select(TopicConsent.customer_id)
        .join(sent, sent.c.customer_id == TopicConsent.customer_id)
        .where(
            TopicConsent.channel == campaign.channel,
            TopicConsent.granted.is_(False),
            TopicConsent.recorded_at >= sent.c.sending_at,
            TopicConsent.recorded_at < end,
        )
    )
    both = channel_off.union(topic_off).subquery()
    return int(session.scalar(select(func.count(distinct(both.c.customer_id)))) or 0)


def _failed_by_reason(session: Session, campaign_id: uuid.UUID) -> dict[str, int]:
    return {
        str(reason): int(n)
        for reason, n in session.execute(
            select(Message.status_reason, func.count())
            .where(Message.campaign_id == campaign_id, Message.status == Status.failed.value)
            .group_by(Message.status_reason)
        )
    }


def campaign_report(
    session: Session, *, settings: Settings, campaign_id: uuid.UUID, days: int | None = None
) -> Report:
    """Deliveries and the effect on orders within ``days`` (the campaign's own by default)."""
    campaign = get_campaign(session, campaign_id)
    days = days or campaign.report_days
    counts = queue.campaign_counts(session, campaign_id)
    failed = _failed_by_reason(session, campaign_id)
    start, end = _window(campaign, days)
    empty = Group(0, 0, 0, 0, 0.0, 0.0)
    groups = (
        _groups(session, campaign_id, start, end, settings.currency)
        if start and end
        else {True: empty, False: empty}
    )
    chosen, held = groups[False], groups[True]
    found = effects(chosen, held)
    return Report(
        campaign=campaign,
        status=status_of(campaign, counts),
        recipients=chosen.customers,
        holdout=held.customers,
        counts=counts,
        skipped_by_reason=queue.skipped_by_reason(session, campaign_id),
        failed_by_reason=failed,
        bounces=sum(failed.get(r, 0) for r in BOUNCES),
        complaints=failed.get("complaint", 0),
        unsubscribes=_unsubscribes(session, campaign, end) if end else 0,
        days=days,
        window_start=start,
        window_end=end,
        window_open=bool(end and utcnow() < end),
        currency=settings.currency,
        chosen=chosen,
        held=held,
        conversion=found.conversion,
        orders=found.orders,
        revenue=found.revenue,
    )


__all__ = [
    "METHOD",
    "Comparison",
    "Effects",
    "Group",
    "Report",
    "campaign_report",
    "compare",
    "effects",
    "holdout_groups",
]
