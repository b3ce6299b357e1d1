"""The demo store's members-only events, so a fresh demo's Events page is not empty.

Two events for the Gold members (a segment on the loyalty tier the loyalty demo sets up,
hence after it): a tasting evening in nine days, invited, with answers (with the default
5,000 customers, a full house and a waiting list); and a latte-art workshop three weeks
ago with its check-ins and the points for coming. Everything goes through the gatherings service (invitations, the
guarded seats, check-in through the loyalty ledger), with the answers' moments in the
past; the same seed gives the same answers.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from wafa.core.calendars import local_date
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers.models import Customer
from wafa.gatherings import service
from wafa.gatherings.models import Gathering, GatheringStatus, Rsvp
from wafa.gatherings.schemas import GatheringCreate
from wafa.messaging.segments import service as segments
from wafa.messaging.segments.models import Segment
from wafa.messaging.segments.rules import parse_rules
from wafa.messaging.segments.schemas import SegmentCreate

SEGMENT_NAME = "Gold members"


def _gold(session: Session, settings: Settings) -> Segment:
    return segments.create_segment(
        session,
        settings=settings,
        data=SegmentCreate(
            name=SEGMENT_NAME,
            rules=parse_rules({"all": [{"field": "tier", "op": ">=", "value": "gold"}]}),
        ),
        by="demo",
    )


def _at(settings: Settings, days: int, hour: int) -> datetime:
    day = local_date(utcnow(), settings.zone) + timedelta(days=days)
    return datetime.combine(day, time(hour, 0), tzinfo=settings.zone)


def _answer_all(
    session: Session,
    gathering: Gathering,
    rng: random.Random,
    *,
    since: datetime,
    until: datetime,
    yes: float,
    no: float,
) -> list[Rsvp]:
    """Answer for the invited, in a drawn order over ``since``..``until``: a share
    ``yes`` says yes, ``no`` says no, the rest stay silent (as most do)."""
    # In the seeded customers' order (ids are time-ordered, not seeded), then drawn.
    rsvps = list(
        session.scalars(
            select(Rsvp)
            .join(Customer, Customer.id == Rsvp.customer_id)
            .where(Rsvp.gathering_id == gathering.id)
            .order_by(Customer.email, Customer.phone, Customer.name)
        )
    )
    rng.shuffle(rsvps)
    span = (until - since).total_seconds()
    moments = sorted(since + timedelta(seconds=rng.uniform(0, span)) for _ in rsvps)
    for rsvp, when in zip(rsvps, moments, strict=True):
        draw = rng.random()
        if draw >= yes + no:
            continue
        service.answer(
            session,
            gathering_id=gathering.id,
            customer_id=rsvp.customer_id,
            answer="yes" if draw < yes else "no",
            source=rng.choice(("link", "link", "portal")),
            now=when,
        )
    return rsvps


def populate(session: Session, *, settings: Settings, seed: int) -> None:
    rng = random.Random(seed * 7919 + 11)
    now = utcnow()
    gold = _gold(session, settings)

    # Coming up: invited five days ago, a few answers still to come.
    tasting = service.create_gathering(
        session,
        settings=settings,
        data=GatheringCreate(
            name_en="Tasting evening: new Ethiopian beans",
            name_ar="أمسية تذوق: بن إثيوبي جديد",
            name_fa="شب چشیدن: قهوه‌ی تازه‌ی اتیوپی",
            starts_at=_at(settings, 9, 19),
            ends_at=_at(settings, 9, 21),
            place="The roastery, main shop",
            capacity=30,
            segment_id=gold.id,
            points=50,
        ),
        by="demo",
    )
    service.send_invitations(session, gathering_id=tasting.id)
    invited_at = now - timedelta(days=5)
    service.invite_batch(
        session, settings=settings, gathering_id=tasting.id, limit=100_000, now=invited_at
    )
    _answer_all(
        session, tasting, rng, since=invited_at, until=now - timedelta(hours=1), yes=0.2, no=0.12
    )

    # Three weeks ago: answered, held, most of those with a seat checked in.
    starts = _at(settings, -21, 18)
    workshop = Gathering(
        id=new_id(),
        name_en="Latte art workshop",
        name_ar="ورشة فن اللاتيه",
        name_fa="کارگاه لاته‌آرت",
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        place="The roastery, main shop",
        capacity=24,
        segment_id=gold.id,
        points=30,
        status=GatheringStatus.inviting.value,
        accepted=0,
        waitlist_seq=0,
        created_by="demo",
        created_at=starts - timedelta(days=14),
        updated_at=starts - timedelta(days=14),
    )
    # Written as it stood then: the service refuses to create an event in the past.
    session.add(workshop)
    session.flush()
    sent = starts - timedelta(days=12)
    service.invite_batch(
        session, settings=settings, gathering_id=workshop.id, limit=100_000, now=sent
    )
    _answer_all(
        session, workshop, rng, since=sent, until=starts - timedelta(days=1), yes=0.12, no=0.1
    )
    for rsvp, _ in service.rsvps(session, workshop.id, status="yes"):
        if rng.random() < 0.85:
            service.check_in(
                session,
                settings=settings,
                gathering_id=workshop.id,
                customer_id=rsvp.customer_id,
                by="demo",
                now=starts + timedelta(minutes=rng.randint(-10, 25)),
            )
    session.flush()
