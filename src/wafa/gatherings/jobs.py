"""The worker's gathering jobs.

``invite`` (every few seconds): for each gathering being invited, invite its segment in
batches, one transaction each (the RSVP rows and their ``gathering.invited`` events
together). A worker killed mid-way loses at most the batch in flight; the next run goes
on from the RSVPs already committed (their unique key), so nobody is invited twice and
nobody is left out. The flows consumer turns each event into the invitation message.

``remind`` (every minute): from 10:00 on the local day before a gathering (business
timezone and calendar) until it starts, everyone with a seat is reminded once
(``reminded_at`` claimed with the event). A worker down the whole day before reminds at
its first run after that, if the gathering has not started.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wafa.core.domain import IntervalTask, Task
from wafa.core.settings import Settings
from wafa.core.time import utcnow
from wafa.gatherings import service
from wafa.gatherings.models import Gathering, GatheringStatus

#: Customers invited per transaction.
INVITE_BATCH = 200


def invite(
    factory: sessionmaker[Session], settings: Settings, *, batch: int = INVITE_BATCH
) -> dict[str, int]:
    """Invite the segments of the gatherings being invited; how many were invited."""
    with factory() as session:
        ids = list(
            session.scalars(
                select(Gathering.id).where(Gathering.status == GatheringStatus.inviting.value)
            )
        )
    invited = 0
    for gathering_id in ids:
        while True:
            with factory() as session, session.begin():
                done = service.invite_batch(
                    session, settings=settings, gathering_id=gathering_id, limit=batch
                )
                status = session.scalar(
                    select(Gathering.status).where(Gathering.id == gathering_id)
                )
            invited += done
            if status != GatheringStatus.inviting:
                break
    return {"gatherings": len(ids), "invited": invited}


def remind(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    """Remind those with a seat whose reminder is due (``service.remind_due``)."""
    with factory() as session, session.begin():
        reminded = service.remind_due(session, settings=settings, now=utcnow())
    return {"reminded": reminded}


def _invite_task(factory: sessionmaker[Session], settings: Settings) -> dict[str, int]:
    return invite(factory, settings)


def tasks() -> list[Task]:
    return [
        IntervalTask("gatherings.invite", every=5.0, run=_invite_task),
        IntervalTask("gatherings.remind", every=60.0, run=remind),
    ]
