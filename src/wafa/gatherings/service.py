"""The rules of members-only events: creating and changing one, inviting its segment,
answers with a capacity that holds under any concurrency, the waiting list, reminders,
check-in with points for attending, and a person's share for export, erasure and merge.

Seats are counted on the gathering (``accepted``) and moved only by guarded updates:

- taking a seat is ``UPDATE gatherings SET accepted = accepted + 1 WHERE id = :id AND
  accepted < capacity``; a row back means a seat, none means the waiting list. The
  statement is atomic on SQLite and PostgreSQL alike, so fifty customers answering at
  once leave exactly ``capacity`` of them with a seat;
- an answer first claims the RSVP's own move (``UPDATE … WHERE status IN (…)``), so one
  customer answering twice at once never takes two seats;
- a seat given back goes to the first on the waiting list (a guarded move from
  ``waiting`` to ``yes``, the next one tried if another request took that one), and only
  when nobody waits is ``accepted`` lowered.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import case, delete, exists, func, select, update
from sqlalchemy.orm import Session

from wafa.core.calendars import local_date
from wafa.core.db import insert_new, rowcount
from wafa.core.errors import Conflict, Invalid, NotFound
from wafa.core.events import emit
from wafa.core.ids import new_id
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.customers import service as customers
from wafa.customers.models import Customer
from wafa.gatherings.events import (
    CheckedIn,
    GatheringAnswered,
    GatheringCancelled,
    GatheringInvited,
    GatheringReminder,
    SeatGiven,
)
from wafa.gatherings.models import Gathering, GatheringStatus, Rsvp, RsvpStatus
from wafa.gatherings.schemas import GatheringCreate, GatheringUpdate
from wafa.loyalty import service as loyalty
from wafa.messaging.segments import service as segments

__all__ = [
    "GatheringClosed",
    "NobodyWaiting",
    "NotInvited",
    "SeatFree",
    "answer",
    "cancel_gathering",
    "check_in",
    "create_gathering",
    "get_gathering",
    "invite_batch",
    "list_gatherings",
    "remind_due",
    "send_invitations",
    "update_gathering",
]

#: Who an answer came from (``Rsvp.source``).
SOURCES = ("link", "portal", "staff", "api")
#: Sources that answer for a customer, and so may also put them on the waiting list.
STAFF_SOURCES = ("staff", "api")


class GatheringClosed(Conflict):
    """The gathering takes no answer or check-in now (cancelled, a draft, over)."""

    code = "gathering-closed"


class NotInvited(NotFound):
    """The customer has no invitation to this gathering."""

    code = "not-invited"


class SeatFree(Conflict):
    """Staff put a customer on the waiting list while a seat is free (say yes instead)."""

    code = "seat-free"


class NobodyWaiting(Conflict):
    """Staff moved a seated customer to the waiting list, but nobody waits to take the
    seat (it would stay empty while they wait)."""

    code = "nobody-waiting"


class NotComing(Conflict):
    """A check-in for a customer without a seat (no answer, said no, or still waiting)."""

    code = "not-coming"


#: How good an answer is (a seat first), for lists and for merges.
_RANK = {"yes": 0, "waiting": 1, "invited": 2, "no": 3}
_RANK_SQL = dict(_RANK)

# --------------------------------------------------------------------------- gatherings


def get_gathering(session: Session, gathering_id: uuid.UUID) -> Gathering:
    found = session.get(Gathering, gathering_id)
    if found is None:
        raise NotFound("no such event", gathering_id=str(gathering_id))
    return found


def list_gatherings(session: Session, *, past: bool = False) -> list[Gathering]:
    """Upcoming (and running) gatherings soonest first, or past ones latest first."""
    now = utcnow()
    query = select(Gathering)
    if past:
        query = query.where(Gathering.ends_at <= now).order_by(Gathering.starts_at.desc())
    else:
        query = query.where(Gathering.ends_at > now).order_by(Gathering.starts_at)
    return list(session.scalars(query))


def _check_times(starts_at: datetime, ends_at: datetime, *, now: datetime) -> None:
    if ends_at <= starts_at:
        raise Invalid.field(("ends_at",), "must be after the start")
    if ends_at <= now:
        raise Invalid.field(("ends_at",), "must be in the future")


def _check_segment(session: Session, segment_id: uuid.UUID | None) -> None:
    if segment_id is None:
        return
    try:
        segments.get_live_segment(session, segment_id)
    except NotFound:
        raise Invalid.field(("segment_id",), "no such segment") from None


def create_gathering(
    session: Session, *, settings: Settings, data: GatheringCreate, by: str | None = None
) -> Gathering:
    """A new gathering, as a draft: nobody is invited until ``send_invitations``."""
    now = utcnow()
    _check_times(data.starts_at, data.ends_at, now=now)
    _check_segment(session, data.segment_id)
    gathering = Gathering(
        id=new_id(),
        name_en=data.name_en,
        name_ar=data.name_ar or None,
        name_fa=data.name_fa or None,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        place=data.place,
        capacity=data.capacity,
        segment_id=data.segment_id,
        points=data.points,
        status=GatheringStatus.draft.value,
        accepted=0,
        waitlist_seq=0,
        created_by=by,
        created_at=now,
        updated_at=now,
    )
    session.add(gathering)
    session.flush()
    return gathering


def update_gathering(
    session: Session, *, settings: Settings, gathering_id: uuid.UUID, data: GatheringUpdate
) -> Gathering:
    """Change a gathering. The capacity never goes below the seats already taken; a
    larger one gives the new seats to the waiting list in order (each one told)."""
    gathering = get_gathering(session, gathering_id)
    if gathering.status == GatheringStatus.cancelled:
        raise GatheringClosed("this event is cancelled")
    changes = data.model_dump(exclude_unset=True)
    starts_at = changes.get("starts_at", gathering.starts_at)
    ends_at = changes.get("ends_at", gathering.ends_at)
    if "starts_at" in changes or "ends_at" in changes:
        _check_times(starts_at, ends_at, now=utcnow())
    if "segment_id" in changes:
        _check_segment(session, changes["segment_id"])
    for name in ("name_en", "place", "capacity", "points"):
        if name in changes and changes[name] is None:
            raise Invalid.field((name,), "must not be empty")
    capacity = changes.pop("capacity", None)
    for name, value in changes.items():
        if name in ("name_ar", "name_fa"):
            value = value or None
        setattr(gathering, name, value)
    gathering.updated_at = utcnow()
    session.flush()
    if capacity is not None and capacity != gathering.capacity:
        _set_capacity(session, gathering, capacity)
    return gathering


def _set_capacity(session: Session, gathering: Gathering, capacity: int) -> None:
    changed = rowcount(
        session.execute(
            update(Gathering)
            .where(Gathering.id == gathering.id, Gathering.accepted <= capacity)
            .values(capacity=capacity)
        )
    )
    session.refresh(gathering)
    if changed != 1:
        raise Invalid.field(
            ("capacity",), f"{gathering.accepted} have a seat already; the capacity cannot be lower"
        )
    now = utcnow()
    while gathering.starts_at > now and _take_seat(session, gathering.id):
        if not _promote_first(session, gathering, now=now):
            _give_back(session, gathering.id)
            break
    session.refresh(gathering)


def send_invitations(session: Session, *, gathering_id: uuid.UUID) -> Gathering:
    """Ask the worker to invite everyone in the gathering's segment who is not invited
    yet (again later: those who joined the segment since). Needs a segment."""
    gathering = get_gathering(session, gathering_id)
    if gathering.status == GatheringStatus.cancelled:
        raise GatheringClosed("this event is cancelled")
    if gathering.ends_at <= utcnow():
        raise GatheringClosed("this event is over")
    if gathering.segment_id is None:
        raise Invalid.field(("segment_id",), "choose who is invited first")
    gathering.status = GatheringStatus.inviting.value
    gathering.invite_requested_at = utcnow()
    session.flush()
    return gathering


def invite_customer(
    session: Session, *, gathering: Gathering, customer_id: uuid.UUID, now: datetime
) -> Rsvp | None:
    """Invite one customer (the RSVP row and the ``gathering.invited`` event, together);
    ``None`` if they were invited before: an invitation is sent once, ever."""
    rsvp_id = new_id()
    inserted = insert_new(
        session,
        Rsvp,
        index_elements=["gathering_id", "customer_id"],
        values={
            "id": rsvp_id,
            "gathering_id": gathering.id,
            "customer_id": customer_id,
            "status": RsvpStatus.invited.value,
            "invited_at": now,
            "points_awarded": 0,
        },
    )
    if not inserted:
        return None
    emit(
        session,
        GatheringInvited(
            customer_id=customer_id,
            gathering_id=gathering.id,
            rsvp_id=rsvp_id,
            not_after=gathering.starts_at,
        ),
    )
    return session.get(Rsvp, rsvp_id)


def invite_batch(
    session: Session,
    *,
    settings: Settings,
    gathering_id: uuid.UUID,
    limit: int = 200,
    now: datetime | None = None,
) -> int:
    """Invite up to ``limit`` more of the segment (in the caller's transaction); how many.
    When none is left the gathering is ``open``. Run again after a crash, it goes on
    where the last committed batch ended: the RSVP's unique key is the bookmark."""
    now = now or utcnow()
    gathering = session.get(Gathering, gathering_id)
    if gathering is None or gathering.status != GatheringStatus.inviting:
        return 0
    segment = segments.get_segment(session, gathering.segment_id) if gathering.segment_id else None
    if segment is None or segment.archived_at is not None or gathering.ends_at <= now:
        gathering.status = GatheringStatus.open.value
        gathering.invited_at = now
        return 0
    members = segments.members_query(
        session, settings=settings, rules=segments.stored_rules(segment)
    ).where(~exists().where(Rsvp.gathering_id == gathering.id, Rsvp.customer_id == Customer.id))
    ids = list(session.scalars(members.order_by(Customer.id).limit(limit)))
    invited = sum(
        1
        for customer_id in ids
        if invite_customer(session, gathering=gathering, customer_id=customer_id, now=now)
    )
    if len(ids) < limit:
        gathering.status = GatheringStatus.open.value
        gathering.invited_at = now
    session.flush()
    return invited


def cancel_gathering(session: Session, *, gathering_id: uuid.UUID) -> Gathering:
    """Call a gathering off; everyone with a seat or on the waiting list is told, once."""
    gathering = get_gathering(session, gathering_id)
    now = utcnow()
    changed = rowcount(
        session.execute(
            update(Gathering)
            .where(
                Gathering.id == gathering_id, Gathering.status != GatheringStatus.cancelled.value
            )
            .values(status=GatheringStatus.cancelled.value, cancelled_at=now, updated_at=now)
        )
    )
    session.refresh(gathering)
    if changed != 1:
        return gathering
    told = session.scalars(
        select(Rsvp).where(
            Rsvp.gathering_id == gathering_id,
            Rsvp.status.in_((RsvpStatus.yes.value, RsvpStatus.waiting.value)),
        )
    )
    for rsvp in told:
        emit(
            session,
            GatheringCancelled(
                customer_id=rsvp.customer_id, gathering_id=gathering_id, rsvp_id=rsvp.id
            ),
        )
    return gathering


# --------------------------------------------------------------------------- answers


def _open_for_answers(gathering: Gathering, now: datetime) -> None:
    if gathering.status == GatheringStatus.cancelled:
        raise GatheringClosed("this event is cancelled")
    if gathering.status == GatheringStatus.draft:
        raise GatheringClosed("this event does not take answers yet")
    if gathering.starts_at <= now:
        raise GatheringClosed("this event has started; answers are closed")


def _take_seat(session: Session, gathering_id: uuid.UUID) -> bool:
    """Take one seat if one is left (the guarded update)."""
    taken = rowcount(
        session.execute(
            update(Gathering)
            .where(Gathering.id == gathering_id, Gathering.accepted < Gathering.capacity)
            .values(accepted=Gathering.accepted + 1)
            .execution_options(synchronize_session=False)
        )
    )
    return taken == 1


def _next_waiting_number(session: Session, gathering_id: uuid.UUID) -> int:
    session.execute(
        update(Gathering)
        .where(Gathering.id == gathering_id)
        .values(waitlist_seq=Gathering.waitlist_seq + 1)
        .execution_options(synchronize_session=False)
    )
    # Our update holds the row until commit (SQLite: the write lock), so this is ours.
    number = session.scalar(select(Gathering.waitlist_seq).where(Gathering.id == gathering_id))
    assert number is not None
    return int(number)


def _move(session: Session, rsvp_id: uuid.UUID, *, from_: Sequence[str], **values: Any) -> bool:
    """Move an RSVP from one of ``from_`` (the guard); ``True`` if this call moved it."""
    moved = rowcount(
        session.execute(
            update(Rsvp)
            .where(Rsvp.id == rsvp_id, Rsvp.status.in_(tuple(from_)))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    )
    return moved == 1


def _promote_first(
    session: Session, gathering: Gathering, *, now: datetime, but: uuid.UUID | None = None
) -> bool:
    """Give a seat that is changing hands to the first on the waiting list (told by a
    ``gathering.seat_given`` event), ``but`` that RSVP; ``False`` when nobody waits. The
    seat count is the caller's business."""
    while True:
        waiting = select(Rsvp.id).where(
            Rsvp.gathering_id == gathering.id, Rsvp.status == RsvpStatus.waiting.value
        )
        if but is not None:
            waiting = waiting.where(Rsvp.id != but)
        first = session.scalar(waiting.order_by(Rsvp.waiting_seq, Rsvp.id).limit(1))
        if first is None:
            return False
        if _move(session, first, from_=(RsvpStatus.waiting,), status="yes", promoted_at=now):
            rsvp = session.get(Rsvp, first)
            assert rsvp is not None
            session.refresh(rsvp)
            emit(
                session,
                SeatGiven(customer_id=rsvp.customer_id, gathering_id=gathering.id, rsvp_id=first),
            )
            return True
        # Another request moved that one (it said no, or got the seat): try the next.


def _release_seat(session: Session, gathering: Gathering, *, now: datetime) -> None:
    """A seat is given back: to the first who waits, else back to the pool. Once the
    event has started nobody is promoted (they would not be told in time)."""
    if gathering.starts_at > now and _promote_first(session, gathering, now=now):
        return
    _give_back(session, gathering.id)


def _give_back(session: Session, gathering_id: uuid.UUID) -> None:
    session.execute(
        update(Gathering)
        .where(Gathering.id == gathering_id, Gathering.accepted > 0)
        .values(accepted=Gathering.accepted - 1)
        .execution_options(synchronize_session=False)
    )


def find_rsvp(session: Session, *, gathering_id: uuid.UUID, customer_id: uuid.UUID) -> Rsvp:
    rsvp = session.scalar(
        select(Rsvp).where(Rsvp.gathering_id == gathering_id, Rsvp.customer_id == customer_id)
    )
    if rsvp is None:
        raise NotInvited("this customer is not invited to this event")
    return rsvp


def answer(
    session: Session,
    *,
    gathering_id: uuid.UUID,
    customer_id: uuid.UUID,
    answer: str,
    source: str,
    now: datetime | None = None,
) -> Rsvp:
    """Record an invited customer's ``yes`` or ``no``; the RSVP as it now stands.

    ``yes`` takes a seat when one is left, else puts them at the end of the waiting list;
    ``no`` gives a seat back (to the first who waits). Saying the same thing twice
    changes nothing; the capacity holds whatever the concurrency (see the module).

    Staff may also answer ``waiting`` for a customer: at the end of the waiting list,
    when no seat is free (else ``SeatFree``); a customer with a seat gives it to the
    first who waits, who is told (``NobodyWaiting`` when nobody does). A refusal raises
    after the guarded moves, so the caller's rollback undoes them.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    if answer not in (("yes", "no", "waiting") if source in STAFF_SOURCES else ("yes", "no")):
        raise Invalid.field(
            ("answer",),
            "must be yes, no or waiting" if source in STAFF_SOURCES else "must be yes or no",
        )
    now = now or utcnow()
    gathering = get_gathering(session, gathering_id)
    _open_for_answers(gathering, now)
    rsvp = find_rsvp(session, gathering_id=gathering_id, customer_id=customer_id)
    stamp = {"answered_at": now, "source": source}
    if answer == "yes":
        if not _move(
            session, rsvp.id, from_=(RsvpStatus.invited, RsvpStatus.no), status="yes", **stamp
        ):
            session.refresh(rsvp)
            return rsvp  # has a seat or waits already
        if not _take_seat(session, gathering_id):
            number = _next_waiting_number(session, gathering_id)
            _move(session, rsvp.id, from_=(RsvpStatus.yes,), status="waiting", waiting_seq=number)
    elif answer == "waiting":
        if not _to_waiting(session, gathering, rsvp, stamp=stamp, now=now):
            session.refresh(rsvp)
            return rsvp  # waits already
    else:
        before = session.scalar(select(Rsvp.status).where(Rsvp.id == rsvp.id))
        if before == RsvpStatus.no or not _move(
            session,
            rsvp.id,
            from_=(RsvpStatus.invited, RsvpStatus.yes, RsvpStatus.waiting),
            status="no",
            **stamp,
        ):
            session.refresh(rsvp)
            return rsvp
        if before == RsvpStatus.yes:
            _release_seat(session, gathering, now=now)
    session.refresh(rsvp)
    session.refresh(gathering)
    emit(
        session,
        GatheringAnswered(
            customer_id=customer_id,
            gathering_id=gathering_id,
            rsvp_id=rsvp.id,
            answer=answer,
            status=rsvp.status,
            source=source,
        ),
    )
    return rsvp


def _to_waiting(
    session: Session, gathering: Gathering, rsvp: Rsvp, *, stamp: dict[str, Any], now: datetime
) -> bool:
    """Put ``rsvp`` at the end of the waiting list (staff only); ``False`` if it waits
    already. Every move is guarded as a customer's answer is."""
    before = session.scalar(select(Rsvp.status).where(Rsvp.id == rsvp.id))
    if before == RsvpStatus.waiting:
        return False
    if before == RsvpStatus.yes:
        number = _next_waiting_number(session, gathering.id)
        if not _move(
            session, rsvp.id, from_=(RsvpStatus.yes,), status="waiting", waiting_seq=number, **stamp
        ):
            return False  # another request moved it first
        # Their seat changes hands: the count stays, the first other waiter has it now.
        if not _promote_first(session, gathering, now=now, but=rsvp.id):
            raise NobodyWaiting("nobody is waiting: the seat would stay empty")
        return True
    if _take_seat(session, gathering.id):
        _give_back(session, gathering.id)
        raise SeatFree("a seat is free: answer yes to give it to this customer")
    number = _next_waiting_number(session, gathering.id)
    return _move(
        session,
        rsvp.id,
        from_=(RsvpStatus.invited, RsvpStatus.no),
        status="waiting",
        waiting_seq=number,
        **stamp,
    )


# --------------------------------------------------------------------------- the day


#: When the reminder is due: this local time (business zone) on the local day before.
REMIND_AT = time(10, 0)


def reminder_due_at(gathering: Gathering, settings: Settings) -> datetime:
    """The planned moment of a gathering's reminder: 10:00 on the local day before."""
    day = local_date(gathering.starts_at, settings.zone) - timedelta(days=1)
    return datetime.combine(day, REMIND_AT, tzinfo=settings.zone)


def remind_due(session: Session, *, settings: Settings, now: datetime | None = None) -> int:
    """Remind everyone with a seat whose reminder is due; how many.

    Due from the planned moment (``reminder_due_at``) until the gathering starts: a worker
    down the whole day before reminds at its first run after that, still before the start,
    and never from the start on. Each RSVP is reminded once (``reminded_at`` claimed by a
    guarded update, with its event). A seat taken on the event's own local day is not
    reminded: that customer chose hours ago. The event carries the start as ``not_after``,
    so the message is not sent if the flow reaches it only after the start.
    """
    now = now or utcnow()
    reminded = 0
    query = select(Gathering).where(
        Gathering.status.in_((GatheringStatus.open.value, GatheringStatus.inviting.value)),
        Gathering.starts_at > now,
        # The planned moment is at most two local days (and a DST hour) before the start.
        Gathering.starts_at < now + timedelta(days=2, hours=1),
    )
    for gathering in session.scalars(query):
        if now < reminder_due_at(gathering, settings):
            continue
        event_day = datetime.combine(
            local_date(gathering.starts_at, settings.zone), time(0), tzinfo=settings.zone
        )
        seat_since = func.coalesce(Rsvp.promoted_at, Rsvp.answered_at, Rsvp.invited_at)
        seated = session.scalars(
            select(Rsvp.id).where(
                Rsvp.gathering_id == gathering.id,
                Rsvp.status == RsvpStatus.yes.value,
                Rsvp.reminded_at.is_(None),
                seat_since < event_day,
            )
        ).all()
        for rsvp_id in seated:
            claimed = rowcount(
                session.execute(
                    update(Rsvp)
                    .where(Rsvp.id == rsvp_id, Rsvp.reminded_at.is_(None))
                    .values(reminded_at=now)
                    .execution_options(synchronize_session=False)
                )
            )
            if claimed != 1:
                continue
            customer_id = session.scalar(select(Rsvp.customer_id).where(Rsvp.id == rsvp_id))
            assert customer_id is not None
            emit(
                session,
                GatheringReminder(
                    customer_id=customer_id,
                    gathering_id=gathering.id,
                    rsvp_id=rsvp_id,
                    not_after=gathering.starts_at,
                ),
            )
            reminded += 1
    return reminded


def check_in(
    session: Session,
    *,
    settings: Settings,
    gathering_id: uuid.UUID,
    customer_id: uuid.UUID,
    by: str,
    now: datetime | None = None,
) -> Rsvp:
    """Check a customer with a seat in, on the event's day (business calendar). The
    points for attending are booked once, through the loyalty ledger with the occasion
    ``gathering:<rsvp>``: a second check-in (a double tap, two tills) changes nothing."""
    now = now or utcnow()
    gathering = get_gathering(session, gathering_id)
    if gathering.status == GatheringStatus.cancelled:
        raise GatheringClosed("this event is cancelled")
    today = local_date(now, settings.zone)
    first = local_date(gathering.starts_at, settings.zone)
    last = local_date(gathering.ends_at, settings.zone)
    if not first <= today <= last:
        raise GatheringClosed("check-in is open on the day of the event only")
    rsvp = find_rsvp(session, gathering_id=gathering_id, customer_id=customer_id)
    if rsvp.status != RsvpStatus.yes:
        raise NotComing(f"this customer has no seat (their answer: {rsvp.status})")
    claimed = rowcount(
        session.execute(
            update(Rsvp)
            .where(Rsvp.id == rsvp.id, Rsvp.status == "yes", Rsvp.checked_in_at.is_(None))
            .values(checked_in_at=now, checked_in_by=by)
            .execution_options(synchronize_session=False)
        )
    )
    if claimed == 1 and gathering.points > 0:
        loyalty.adjust(
            session,
            settings=settings,
            customer_id=customer_id,
            points=gathering.points,
            reason=f"Attended {gathering.name_en}",
            by=by,
            occasion=f"gathering:{rsvp.id}",
        )
        session.execute(
            update(Rsvp)
            .where(Rsvp.id == rsvp.id)
            .values(points_awarded=gathering.points)
            .execution_options(synchronize_session=False)
        )
    if claimed == 1:
        emit(
            session,
            CheckedIn(
                customer_id=customer_id,
                gathering_id=gathering_id,
                rsvp_id=rsvp.id,
                points=gathering.points,
            ),
        )
    session.refresh(rsvp)
    return rsvp


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Counts:
    invited: int = 0
    yes: int = 0
    waiting: int = 0
    no: int = 0
    checked_in: int = 0

    @property
    def unanswered(self) -> int:
        return self.invited


def counts(session: Session, gathering_id: uuid.UUID) -> Counts:
    """How many RSVPs in each state, and how many came."""
    rows = session.execute(
        select(Rsvp.status, func.count(), func.count(Rsvp.checked_in_at))
        .where(Rsvp.gathering_id == gathering_id)
        .group_by(Rsvp.status)
    ).all()
    by = {status: (n, came) for status, n, came in rows}
    return Counts(
        invited=by.get("invited", (0, 0))[0],
        yes=by.get("yes", (0, 0))[0],
        waiting=by.get("waiting", (0, 0))[0],
        no=by.get("no", (0, 0))[0],
        checked_in=sum(came for _, came in by.values()),
    )


def rsvps(
    session: Session, gathering_id: uuid.UUID, *, status: str | None = None, limit: int = 500
) -> list[tuple[Rsvp, Customer]]:
    """The gathering's RSVPs with their customers: seats first, then the waiting list in
    order, then the rest."""
    query = (
        select(Rsvp, Customer)
        .join(Customer, Customer.id == Rsvp.customer_id)
        .where(Rsvp.gathering_id == gathering_id)
    )
    if status:
        query = query.where(Rsvp.status == status)
    rank = case(_RANK_SQL, value=Rsvp.status, else_=9)
    rows = session.execute(
        query.order_by(rank, func.coalesce(Rsvp.waiting_seq, 0), Rsvp.answered_at, Rsvp.id).limit(
            limit
        )
    ).all()
    return [(r, c) for r, c in rows]


def invitations_for(
    session: Session, *, customer_id: uuid.UUID, now: datetime | None = None
) -> list[tuple[Rsvp, Gathering]]:
    """The customer's invitations to gatherings not over yet, soonest first (the portal)."""
    now = now or utcnow()
    return [
        (r, g)
        for r, g in session.execute(
            select(Rsvp, Gathering)
            .join(Gathering, Gathering.id == Rsvp.gathering_id)
            .where(
                Rsvp.customer_id == customer_id,
                Gathering.ends_at > now,
                Gathering.status != GatheringStatus.draft.value,
            )
            .order_by(Gathering.starts_at)
        ).all()
    ]


def seats_today(
    session: Session, *, settings: Settings, customer_id: uuid.UUID, now: datetime | None = None
) -> list[tuple[Rsvp, Gathering]]:
    """The customer's seats at gatherings held today (business calendar): the counter's
    check-in list."""
    now = now or utcnow()
    today = local_date(now, settings.zone)
    rows = session.execute(
        select(Rsvp, Gathering)
        .join(Gathering, Gathering.id == Rsvp.gathering_id)
        .where(
            Rsvp.customer_id == customer_id,
            Rsvp.status == RsvpStatus.yes.value,
            Gathering.status != GatheringStatus.cancelled.value,
            Gathering.ends_at > now - timedelta(days=2),
        )
        .order_by(Gathering.starts_at)
    ).all()
    return [
        (r, g)
        for r, g in rows
        if local_date(g.starts_at, settings.zone) <= today <= local_date(g.ends_at, settings.zone)
    ]


# --------------------------------------------------------------------------- a person


def personal_data(session: Session, customer_id: uuid.UUID) -> dict[str, Any]:
    """The customer's invitations and answers (export)."""
    rows = session.execute(
        select(Rsvp, Gathering)
        .join(Gathering, Gathering.id == Rsvp.gathering_id)
        .where(Rsvp.customer_id == customer_id)
        .order_by(Rsvp.invited_at)
    ).all()
    return {
        "rsvps": [
            {
                "event": g.name_en,
                "starts_at": g.starts_at.isoformat(),
                "place": g.place,
                "status": r.status,
                "waiting_number": r.waiting_seq,
                "invited_at": r.invited_at.isoformat(),
                "answered_at": r.answered_at.isoformat() if r.answered_at else None,
                "checked_in_at": r.checked_in_at.isoformat() if r.checked_in_at else None,
                "points_awarded": r.points_awarded,
            }
            for r, g in rows
        ]
    }


def erase(session: Session, customer_id: uuid.UUID) -> int:
    """Forget the customer's RSVPs; a seat at an event still to come goes to the first
    who waits. How many were removed."""
    now = utcnow()
    rows = list(session.scalars(select(Rsvp).where(Rsvp.customer_id == customer_id)))
    for rsvp in rows:
        if rsvp.status == RsvpStatus.yes:
            gathering = session.get(Gathering, rsvp.gathering_id)
            if gathering is not None and _move(
                session, rsvp.id, from_=(RsvpStatus.yes,), status="no"
            ):
                _release_seat(session, gathering, now=now)
    session.execute(delete(Rsvp).where(Rsvp.customer_id == customer_id))
    session.flush()
    return len(rows)


def move_rsvps(session: Session, *, loser_id: uuid.UUID, winner_id: uuid.UUID) -> dict[str, int]:
    """After a merge the loser's RSVPs become the winner's. Where both were invited to one
    gathering the winner keeps the better answer (a seat over the waiting list over no
    answer over no); a second seat held by the pair is given back (to the first who waits)."""
    now = utcnow()
    moved = dropped = 0
    for rsvp in list(session.scalars(select(Rsvp).where(Rsvp.customer_id == loser_id))):
        theirs = session.scalar(
            select(Rsvp).where(
                Rsvp.gathering_id == rsvp.gathering_id, Rsvp.customer_id == winner_id
            )
        )
        if theirs is None:
            rsvp.customer_id = winner_id
            moved += 1
            continue
        keep, drop = (rsvp, theirs) if _RANK[rsvp.status] < _RANK[theirs.status] else (theirs, rsvp)
        if drop.status == RsvpStatus.yes and _move(
            session, drop.id, from_=(RsvpStatus.yes,), status="no"
        ):
            gathering = session.get(Gathering, drop.gathering_id)
            assert gathering is not None
            _release_seat(session, gathering, now=now)
        if keep.checked_in_at is None and drop.checked_in_at is not None:
            keep.checked_in_at, keep.checked_in_by = drop.checked_in_at, drop.checked_in_by
            keep.points_awarded = max(keep.points_awarded, drop.points_awarded)
        session.delete(drop)
        session.flush()
        if keep.customer_id != winner_id:
            keep.customer_id = winner_id
        dropped += 1
    session.flush()
    return {"moved": moved, "dropped": dropped}


def live_customer(session: Session, customer_id: uuid.UUID) -> Customer:
    return customers.get_live_customer(session, customer_id)
