"""Campaigns: compose, send (snapshot, holdout, queue in batches), pause, resume, cancel.

See the package's docstring for how sending is split between the request and the worker.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import Uuid, func, insert, literal, select, update
from sqlalchemy.orm import Session

from wafa.core.db import rowcount
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.pagination import decode_cursor, encode_cursor
from wafa.core.settings import Settings
from wafa.core.time import ensure_utc, utcnow
from wafa.loyalty import codes, coupons
from wafa.loyalty.models import CouponSource
from wafa.messaging import queue
from wafa.messaging.campaigns.models import (
    REASON,
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    Schedule,
)
from wafa.messaging.campaigns.schemas import CampaignCreate
from wafa.messaging.models import ContactPreferences, Kind, Priority, Status
from wafa.messaging.pipeline.group import zone_of
from wafa.messaging.queue import Content
from wafa.messaging.segments import service as segments

#: Recipients queued in one transaction.
BATCH = 1000

_PENDING = (Status.queued.value, Status.paused.value, Status.sending.value)


class CampaignStateConflict(Conflict):
    code = "campaign-state"


# ---------------------------------------------------------------------- composing


def _check_schedule(data: CampaignCreate) -> None:
    if data.schedule is Schedule.at:
        if data.send_at is None:
            raise Invalid.field(("send_at",), "give the time to send at (schedule 'at')")
        ensure_utc(data.send_at, field="send_at")
    if data.schedule is Schedule.local and (data.local_date is None or data.local_time is None):
        missing = "local_date" if data.local_date is None else "local_time"
        raise Invalid.field((missing,), "give a local date and time (schedule 'local')")


def _check_coupon(data: CampaignCreate) -> None:
    spec = data.coupon
    if spec is None:
        return
    if spec.kind == "discount_percent" and spec.percent is None:
        raise Invalid.field(("coupon", "percent"), "give the percentage off")
    if spec.kind == "discount_fixed" and spec.amount is None:
        raise Invalid.field(("coupon", "amount"), "give the amount off (minor units)")


def content_of(campaign: Campaign) -> Content:
    return Content(subject=campaign.subject, text=campaign.text, html=campaign.html)


def _composed(session: Session, data: CampaignCreate) -> dict[str, Any]:
    """The stored columns of a composition, checked: a live segment, a schedule and a
    coupon that make sense, text that parses and says something."""
    segments.get_live_segment(session, data.segment_id)
    _check_schedule(data)
    _check_coupon(data)
    content = Content(subject=data.subject, text=data.body, html=data.html)
    content.check()
    if data.channel.value == "email" and not content.subject:
        raise Invalid.field(("subject",), "an email needs a subject in at least one locale")
    coupon: dict[str, Any] | None = None
    if data.coupon is not None:
        coupon = {"kind": data.coupon.kind, "valid_days": data.coupon.valid_days}
        if data.coupon.kind == "discount_percent":
            coupon["percent_bp"] = int(data.coupon.percent or 0) * 100
        else:
            coupon["amount"] = int(data.coupon.amount or 0)
    return {
        "name": data.name,
        "segment_id": data.segment_id,
        "channel": data.channel.value,
        "topic": data.topic.value,
        "subject": content.subject,
        "text": content.text,
        "html": content.html,
        "holdout_percent": data.holdout_percent,
        "schedule": data.schedule.value,
        "send_at": ensure_utc(data.send_at) if data.send_at else None,
        "local_date": data.local_date,
        "local_time": data.local_time,
        "coupon": coupon,
        "report_days": data.report_days,
    }


def create_campaign(
    session: Session, *, settings: Settings, data: CampaignCreate, by: str | None
) -> Campaign:
    """A draft campaign to a live segment; its text must parse and say something."""
    campaign = Campaign(
        **_composed(session, data),
        holdout_seed=secrets.token_hex(16),
        status=CampaignStatus.draft.value,
        created_by=by,
    )
    session.add(campaign)
    session.flush()
    return campaign


#: What may still be edited: a draft, and a campaign sent for later whose time has not come
#: (its segment is taken only then, so nothing of it is queued yet).
EDITABLE = (CampaignStatus.draft, CampaignStatus.scheduled)


def update_campaign(
    session: Session, *, settings: Settings, campaign_id: uuid.UUID, data: CampaignCreate
) -> Campaign:
    """Replace the composition of a draft or of a scheduled campaign not yet started
    (checked as when created). Refused (``CampaignStateConflict``) once sending started:
    the guarded ``UPDATE … WHERE status IN ('draft', 'scheduled')``, ``start_sending``'s
    and the worker's snapshot (``scheduled`` → ``queuing``) take the same row, so an edit
    and a start at the same moment cannot both win, and what is sent is what the
    campaign said when it started."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status not in EDITABLE:
        raise _not_a_draft(campaign)
    values = _composed(session, data)
    if not _move(session, campaign_id, [s.value for s in EDITABLE], **values):
        raise _not_a_draft(get_campaign(session, campaign_id))
    return get_campaign(session, campaign_id)


def _not_a_draft(campaign: Campaign) -> CampaignStateConflict:
    return CampaignStateConflict(
        f"a {campaign.status} campaign cannot be edited: only a draft or a campaign "
        "scheduled for later whose time has not come",
        campaign_id=campaign.id,
        status=campaign.status,
    )


def get_campaign(session: Session, campaign_id: uuid.UUID) -> Campaign:
    campaign = session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}", campaign_id=campaign_id)
    return campaign


def list_campaigns(
    session: Session, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[Campaign], str | None]:
    """Campaigns, newest first, and the cursor of the next page."""
    stmt = select(Campaign).order_by(Campaign.id.desc())
    if cursor:
        stmt = stmt.where(Campaign.id < decode_cursor(cursor))
    rows = list(session.scalars(stmt.limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


# ---------------------------------------------------------------------- sending


def snapshot_time(campaign: Campaign, settings: Settings) -> datetime | None:
    """When a campaign sent for later takes its segment's members: ``at`` its time; a
    ``local`` time when the first time zone on Earth (UTC+14) reaches it, so no customer's
    message is due before its recipients are known; ``None`` for ``now``."""
    if campaign.schedule == Schedule.at and campaign.send_at is not None:
        return ensure_utc(campaign.send_at)
    if campaign.schedule == Schedule.local and campaign.local_date is not None:
        hour, minute = (int(x) for x in (campaign.local_time or "09:00").split(":"))
        first = timezone(timedelta(hours=14))
        return datetime.combine(campaign.local_date, time(hour, minute), tzinfo=first)
    return None


def start_sending(session: Session, *, settings: Settings, campaign_id: uuid.UUID) -> Campaign:
    """Send a draft. Now (or a time already past): snapshot the segment's members (one
    ``INSERT … SELECT``) and hand the queuing to the worker. For a later time: the draft
    becomes ``scheduled`` and the worker takes the snapshot at that time
    (``take_due_snapshots``), so customers who join the segment meanwhile get it and those
    who leave do not. Again, or at the same time, it changes nothing."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status == CampaignStatus.cancelled:
        raise CampaignStateConflict("the campaign was cancelled", campaign_id=campaign_id)
    now = utcnow()
    at = snapshot_time(campaign, settings)
    if at is not None and at > now:
        _move(
            session,
            campaign_id,
            [CampaignStatus.draft.value],
            status=CampaignStatus.scheduled.value,
            started_at=now,
        )
        return get_campaign(session, campaign_id)
    _snapshot(session, settings, campaign_id, frm=CampaignStatus.draft)
    return get_campaign(session, campaign_id)


def _snapshot(
    session: Session, settings: Settings, campaign_id: uuid.UUID, *, frm: CampaignStatus
) -> bool:
    """Move the campaign from ``frm`` to ``queuing`` and take its segment's members, once:
    the guarded ``UPDATE`` lets exactly one caller through. Whether this call took it.

    The segment is read after that ``UPDATE`` (which holds the row): an edit of a
    scheduled campaign committed just before is the one taken."""
    now = utcnow()
    values: dict[str, Any] = {"status": CampaignStatus.queuing.value, "updated_at": now}
    if frm is CampaignStatus.draft:
        values["started_at"] = now
    started = rowcount(
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == frm.value)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    )
    if started != 1:
        return False
    campaign = get_campaign(session, campaign_id)
    rules = segments.stored_rules(segments.get_segment(session, campaign.segment_id))
    members = segments.members_query(session, settings=settings, rules=rules).subquery()
    # The guarded UPDATE above let exactly one request through: a plain INSERT.
    snapshot = insert(CampaignRecipient).from_select(
        ["campaign_id", "customer_id"],
        select(literal(campaign_id, Uuid()), members.c.id),
    )
    session.execute(snapshot)
    recipients = session.scalar(
        select(func.count()).where(CampaignRecipient.campaign_id == campaign_id)
    )
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(recipients=int(recipients or 0))
        .execution_options(synchronize_session=False)
    )
    return True


def scheduled_campaigns(session: Session) -> list[Campaign]:
    """Campaigns sent for a later time whose segment is not yet taken."""
    return list(
        session.scalars(
            select(Campaign)
            .where(Campaign.status == CampaignStatus.scheduled.value)
            .order_by(Campaign.started_at)
        )
    )


def take_snapshot_if_due(session: Session, *, settings: Settings, campaign_id: uuid.UUID) -> bool:
    """The worker's step for a scheduled campaign: at its time, take the segment's members
    and start queuing (in the caller's transaction). Whether it did."""
    campaign = get_campaign(session, campaign_id)
    at = snapshot_time(campaign, settings)
    if campaign.status != CampaignStatus.scheduled or (at is not None and at > utcnow()):
        return False
    return _snapshot(session, settings, campaign_id, frm=CampaignStatus.scheduled)


def in_holdout(seed: str, customer_id: uuid.UUID, percent: int) -> bool:
    """Whether the customer is held out: a hash of the campaign's seed and the customer,
    uniform on 0..9999, below ``percent`` × 100. The same inputs always draw the same."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(seed.encode() + customer_id.bytes).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < percent * 100


def _due(
    session: Session, settings: Settings, campaign: Campaign, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, datetime]:
    """When each recipient's message is due (only for a local-time schedule)."""
    if campaign.schedule != Schedule.local or campaign.local_date is None:
        return {}
    hour, minute = (int(x) for x in (campaign.local_time or "09:00").split(":"))
    zones = dict(
        session.execute(
            select(ContactPreferences.customer_id, ContactPreferences.timezone).where(
                ContactPreferences.customer_id.in_(ids)
            )
        ).all()
    )
    now = utcnow()
    due: dict[uuid.UUID, datetime] = {}
    for customer_id in ids:
        zone = zone_of(zones.get(customer_id), settings.zone)
        local = datetime.combine(campaign.local_date, time(hour, minute), tzinfo=zone)
        # A zone where the time has passed already gets it at once.
        due[customer_id] = max(local.astimezone(now.tzinfo), now)
    return due


def _coupon_code(
    session: Session, settings: Settings, campaign: Campaign, customer_id: uuid.UUID
) -> str:
    spec = campaign.coupon or {}
    now = utcnow()
    coupon = coupons.issue(
        session,
        source=CouponSource.campaign,
        name=campaign.name[:120],
        discount_kind=str(spec["kind"]),
        currency=settings.currency,
        now=now,
        customer_id=customer_id,
        amount=spec.get("amount"),
        percent_bp=spec.get("percent_bp"),
        max_uses=1,
        expires_at=now + timedelta(days=int(spec.get("valid_days", 30))),
        occasion=f"campaign:{campaign.id}:{customer_id}",
        created_by=f"campaign {campaign.id}",
    )
    return codes.display(coupon.code)


def queue_next_batch(
    session: Session, *, settings: Settings, campaign_id: uuid.UUID, batch: int = BATCH
) -> int:
    """Queue the campaign's next ``batch`` recipients (in the caller's transaction); how
    many were handled, 0 when none were left. After the last recipient the campaign moves
    to ``sending``.

    The campaign row is locked first (``FOR UPDATE SKIP LOCKED`` on PostgreSQL): a second
    worker leaves it to the first, and a pause waits for the batch to commit.
    """
    campaign = session.scalar(
        select(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.queuing.value)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if campaign is None:
        return 0
    stmt = (
        select(CampaignRecipient.customer_id)
        .where(CampaignRecipient.campaign_id == campaign_id)
        .order_by(CampaignRecipient.customer_id)
        .limit(batch)
    )
    if campaign.queued_through is not None:
        stmt = stmt.where(CampaignRecipient.customer_id > campaign.queued_through)
    ids = list(session.scalars(stmt))
    now = utcnow()
    if not ids:
        campaign.status = CampaignStatus.sending.value
        campaign.queued_at = now
        campaign.updated_at = now
        session.flush()
        return 0
    seed, percent = campaign.holdout_seed, campaign.holdout_percent
    drawn = {cid: in_holdout(seed, cid, percent) for cid in ids}
    held = [cid for cid in ids if drawn[cid]]
    chosen = [cid for cid in ids if not drawn[cid]]
    # The batch is exactly the recipients in (queued_through, ids[-1]] (the snapshot does
    # not change once taken): one range UPDATE marks them all, a second the held-out few,
    # instead of two statements naming every one of the batch's ids.
    in_batch = [
        CampaignRecipient.campaign_id == campaign_id,
        CampaignRecipient.customer_id <= ids[-1],
    ]
    if campaign.queued_through is not None:
        in_batch.append(CampaignRecipient.customer_id > campaign.queued_through)
    session.execute(
        update(CampaignRecipient)
        .where(*in_batch)
        .values(holdout=False)
        .execution_options(synchronize_session=False)
    )
    if held:
        session.execute(
            update(CampaignRecipient)
            .where(*in_batch, CampaignRecipient.customer_id.in_(held))
            .values(holdout=True)
            .execution_options(synchronize_session=False)
        )
    due = _due(session, settings, campaign, chosen)
    default_due = campaign.send_at if campaign.schedule == Schedule.at else None
    recipients = []
    for customer_id in chosen:
        context: dict[str, Any] = {"campaign": {"id": str(campaign.id), "name": campaign.name}}
        if campaign.coupon:
            context["coupon_code"] = _coupon_code(session, settings, campaign, customer_id)
        recipients.append(
            {
                "customer_id": customer_id,
                "occasion": str(campaign.id),
                "context": context,
                "not_before": due.get(customer_id, default_due),
            }
        )
    queue.queue_many(
        session,
        recipients,
        channel=campaign.channel,
        kind=Kind.marketing,
        reason=REASON,
        content=content_of(campaign),
        topic=campaign.topic,
        priority=Priority.newsletter,
        campaign_id=campaign.id,
        not_before=default_due,
    )
    campaign.queued_through = ids[-1]
    campaign.updated_at = now
    if len(ids) < batch:  # the last batch: every recipient is queued or held out
        campaign.status = CampaignStatus.sending.value
        campaign.queued_at = now
    session.flush()
    return len(ids)


def queuing_campaigns(session: Session) -> list[uuid.UUID]:
    """Campaigns whose recipients are being queued, oldest first."""
    return list(
        session.scalars(
            select(Campaign.id)
            .where(Campaign.status == CampaignStatus.queuing.value)
            .order_by(Campaign.started_at)
        )
    )


# ---------------------------------------------------------------------- pause, resume, cancel


def _move(session: Session, campaign_id: uuid.UUID, frm: Sequence[str], **values: Any) -> bool:
    now = utcnow()
    return (
        rowcount(
            session.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.status.in_(frm))
                .values(updated_at=now, **values)
                .execution_options(synchronize_session=False)
            )
        )
        == 1
    )


def pause(session: Session, *, campaign_id: uuid.UUID) -> Campaign:
    """Hold what is not yet sent (queuing stops too); a message in a worker's hand finishes
    (one a stopped worker never handed over is held when it comes back to the queue)."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status == CampaignStatus.paused:
        return campaign
    moved = _move(
        session,
        campaign_id,
        [CampaignStatus.queuing.value, CampaignStatus.sending.value],
        status=CampaignStatus.paused.value,
        paused_at=utcnow(),
    )
    if not moved:
        raise CampaignStateConflict(
            f"a {campaign.status} campaign cannot be paused", campaign_id=campaign_id
        )
    queue.pause_campaign(session, campaign_id)
    return get_campaign(session, campaign_id)


def resume(session: Session, *, campaign_id: uuid.UUID) -> Campaign:
    """Release a paused campaign: queuing goes on where it stopped, held messages go out."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status in (CampaignStatus.queuing, CampaignStatus.sending):
        return campaign
    after = CampaignStatus.sending if campaign.queued_at else CampaignStatus.queuing
    if not _move(
        session, campaign_id, [CampaignStatus.paused.value], status=after.value, paused_at=None
    ):
        raise CampaignStateConflict(
            f"a {campaign.status} campaign cannot be resumed", campaign_id=campaign_id
        )
    queue.resume_campaign(session, campaign_id)
    return get_campaign(session, campaign_id)


def cancel(session: Session, *, campaign_id: uuid.UUID) -> Campaign:
    """Stop for good: nothing more is queued, what waits is skipped (``cancelled``)."""
    campaign = get_campaign(session, campaign_id)
    if campaign.status == CampaignStatus.cancelled:
        return campaign
    _move(
        session,
        campaign_id,
        [s.value for s in CampaignStatus if s is not CampaignStatus.cancelled],
        status=CampaignStatus.cancelled.value,
        cancelled_at=utcnow(),
    )
    queue.cancel_campaign(session, campaign_id)
    return get_campaign(session, campaign_id)


# ---------------------------------------------------------------------- reading


def holdout_count(session: Session, campaign_id: uuid.UUID) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.holdout.is_(True)
            )
        )
        or 0
    )


def status_of(campaign: Campaign, counts: dict[str, int]) -> str:
    """The stored status, or ``finished`` once every queued message has settled."""
    if campaign.status == CampaignStatus.sending and not any(counts.get(s, 0) for s in _PENDING):
        return "finished"
    return campaign.status


def read_campaign(session: Session, *, campaign_id: uuid.UUID) -> dict[str, Any]:
    """The campaign with its status, message counts and holdout size."""
    campaign = get_campaign(session, campaign_id)
    counts = queue.campaign_counts(session, campaign_id)
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": status_of(campaign, counts),
        "segment_id": campaign.segment_id,
        "channel": campaign.channel,
        "topic": campaign.topic,
        "schedule": campaign.schedule,
        "send_at": campaign.send_at,
        "local_date": campaign.local_date,
        "local_time": campaign.local_time,
        "holdout_percent": campaign.holdout_percent,
        "recipients": campaign.recipients,
        "holdout": holdout_count(session, campaign_id),
        "counts": counts,
        "skipped_by_reason": queue.skipped_by_reason(session, campaign_id),
        "created_at": campaign.created_at,
        "started_at": campaign.started_at,
        "queued_at": campaign.queued_at,
    }
