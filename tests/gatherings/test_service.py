"""The rules of members-only events: drafts and checks, inviting a segment once, answers
with capacity and a waiting list in order, a "no" that promotes the first waiter, a
capacity raised or refused, reminders on the local day before, check-in with points booked
once, and a person's RSVPs in export, erasure and merge."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.gatherings.helpers import city_segment, gathering, invited, people
from wafa.core.errors import Invalid
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.gatherings import service
from wafa.gatherings.models import Rsvp
from wafa.gatherings.schemas import GatheringUpdate
from wafa.loyalty.models import PointsEntry
from wafa.people import service as people_service


def _topics(session: Session, topic: str) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.topic == topic)
        )
        or 0
    )


def _yes(session: Session, g_id: uuid.UUID, customer_id: uuid.UUID) -> Rsvp:
    return service.answer(
        session,
        gathering_id=g_id,
        customer_id=customer_id,
        answer="yes",
        source="link",
    )


class TestCreate:
    def test_end_before_start_names_the_field(self, session: Session, settings: Settings) -> None:
        start = datetime(2030, 1, 1, 18, tzinfo=UTC)
        with pytest.raises(Invalid) as caught:
            gathering(session, settings, starts_at=start, ends_at=start - timedelta(hours=1))
        assert caught.value.errors[0][0] == ("ends_at",)

    def test_invitations_need_a_segment(self, session: Session, settings: Settings) -> None:
        g = gathering(session, settings)
        with pytest.raises(Invalid) as caught:
            service.send_invitations(session, gathering_id=g.id)
        assert caught.value.errors[0][0] == ("segment_id",)


class TestInvite:
    def test_the_segment_is_invited_once_in_batches(
        self, session: Session, settings: Settings
    ) -> None:
        segment = city_segment(session, settings)
        members = people(session, 7)
        people(session, 2, city="Tabriz")  # not in the segment
        g = gathering(session, settings, segment=segment)
        service.send_invitations(session, gathering_id=g.id)
        assert service.invite_batch(session, settings=settings, gathering_id=g.id, limit=3) == 3
        assert g.status == "inviting"
        assert service.invite_batch(session, settings=settings, gathering_id=g.id, limit=3) == 3
        assert service.invite_batch(session, settings=settings, gathering_id=g.id, limit=3) == 1
        assert g.status == "open"
        # Asked again (new members since), nobody is invited twice.
        service.send_invitations(session, gathering_id=g.id)
        assert service.invite_batch(session, settings=settings, gathering_id=g.id) == 0
        invited_ids = set(session.scalars(select(Rsvp.customer_id)))
        assert invited_ids == {m.id for m in members}
        assert _topics(session, "gathering.invited") == 7


class TestAnswer:
    def test_capacity_then_the_waiting_list_in_order(
        self, session: Session, settings: Settings
    ) -> None:
        g, members = invited(session, settings, 5)
        statuses = [_yes(session, g.id, m.id).status for m in members]
        assert statuses == ["yes", "yes", "yes", "waiting", "waiting"]
        session.refresh(g)
        assert g.accepted == 3
        waits = [
            service.find_rsvp(session, gathering_id=g.id, customer_id=m.id) for m in members[3:]
        ]
        assert [w.waiting_seq for w in waits] == [1, 2]

    def test_yes_twice_takes_one_seat(self, session: Session, settings: Settings) -> None:
        g, members = invited(session, settings, 2)
        _yes(session, g.id, members[0].id)
        _yes(session, g.id, members[0].id)
        session.refresh(g)
        assert g.accepted == 1
        assert _topics(session, "gathering.answered") == 1

    def test_no_promotes_the_first_waiter_who_is_told(
        self, session: Session, settings: Settings
    ) -> None:
        g, members = invited(session, settings, 5)
        for m in members:
            _yes(session, g.id, m.id)
        service.answer(
            session, gathering_id=g.id, customer_id=members[1].id, answer="no", source="portal"
        )
        first_waiter = service.find_rsvp(session, gathering_id=g.id, customer_id=members[3].id)
        second = service.find_rsvp(session, gathering_id=g.id, customer_id=members[4].id)
        assert (first_waiter.status, second.status) == ("yes", "waiting")
        assert first_waiter.promoted_at is not None
        session.refresh(g)
        assert g.accepted == 3
        told = session.scalars(
            select(OutboxEvent.subject_id).where(OutboxEvent.topic == "gathering.seat_given")
        ).all()
        assert told == [members[3].id]

    def test_no_with_nobody_waiting_frees_the_seat(
        self, session: Session, settings: Settings
    ) -> None:
        g, members = invited(session, settings, 2)
        _yes(session, g.id, members[0].id)
        service.answer(
            session, gathering_id=g.id, customer_id=members[0].id, answer="no", source="link"
        )
        session.refresh(g)
        assert g.accepted == 0

    def test_someone_not_invited_is_refused(self, session: Session, settings: Settings) -> None:
        g, _ = invited(session, settings, 1)
        stranger = create_customer(session)
        with pytest.raises(service.NotInvited):
            _yes(session, g.id, stranger.id)

    def test_cancelled_takes_no_answer_and_tells_the_seated(
        self, session: Session, settings: Settings
    ) -> None:
        g, members = invited(session, settings, 5)
        for m in members[:4]:
            _yes(session, g.id, m.id)
        service.cancel_gathering(session, gathering_id=g.id)
        service.cancel_gathering(session, gathering_id=g.id)  # twice: told once
        assert _topics(session, "gathering.cancelled") == 4
        with pytest.raises(service.GatheringClosed):
            _yes(session, g.id, members[4].id)


class TestCapacity:
    def test_raising_it_seats_the_waiting_list_in_order(
        self, session: Session, settings: Settings
    ) -> None:
        g, members = invited(session, settings, 6)
        for m in members:
            _yes(session, g.id, m.id)
        service.update_gathering(
            session, settings=settings, gathering_id=g.id, data=GatheringUpdate(capacity=5)
        )
        got = [
            service.find_rsvp(session, gathering_id=g.id, customer_id=m.id).status for m in members
        ]
        assert got == ["yes"] * 5 + ["waiting"]
        assert g.accepted == 5

    def test_lowering_it_below_the_seats_taken_is_refused(
        self, session: Session, settings: Settings
    ) -> None:
        g, members = invited(session, settings, 3)
        for m in members:
            _yes(session, g.id, m.id)
        with pytest.raises(Invalid) as caught:
            service.update_gathering(
                session, settings=settings, gathering_id=g.id, data=GatheringUpdate(capacity=2)
            )
        assert caught.value.errors[0][0] == ("capacity",)
        session.refresh(g)
        assert g.capacity == 3


class TestReminder:
    def test_on_the_local_day_before_once(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        tehran = settings.model_copy(update={"timezone": "Asia/Tehran"})
        # 00:30 on the 20th in Tehran is still the 19th in UTC (20:00 UTC).
        starts = datetime(2026, 3, 19, 21, 0, tzinfo=UTC)
        g, members = invited(session, tehran, 2, starts_at=starts)
        _yes(session, g.id, members[0].id)
        ten_on_the_19th = datetime(2026, 3, 19, 6, 30, tzinfo=UTC)  # 10:00 local
        assert service.reminder_due_at(g, tehran) == ten_on_the_19th
        early = ten_on_the_19th - timedelta(hours=12)  # 22:00 UTC on the 18th: too early
        assert service.remind_due(session, settings=tehran, now=early) == 0
        assert service.remind_due(session, settings=tehran, now=ten_on_the_19th) == 1
        assert service.remind_due(session, settings=tehran, now=ten_on_the_19th) == 0
        # In UTC the event is on the 19th: the day before would be the 18th.
        assert _topics(session, "gathering.reminder") == 1


class TestCheckIn:
    def test_points_once_on_the_day(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        starts = clock.now + timedelta(days=2)
        g, members = invited(session, settings, 2, starts_at=starts, points=40)
        _yes(session, g.id, members[0].id)
        with pytest.raises(service.GatheringClosed):
            service.check_in(
                session, settings=settings, gathering_id=g.id, customer_id=members[0].id, by="t"
            )
        clock.set(starts + timedelta(minutes=10))
        for _ in range(2):
            rsvp = service.check_in(
                session, settings=settings, gathering_id=g.id, customer_id=members[0].id, by="t"
            )
        assert rsvp.checked_in_at is not None and rsvp.points_awarded == 40
        points = session.scalars(
            select(PointsEntry.points).where(PointsEntry.customer_id == members[0].id)
        ).all()
        assert points == [40]
        with pytest.raises(service.NotComing):
            service.check_in(
                session, settings=settings, gathering_id=g.id, customer_id=members[1].id, by="t"
            )


class TestPerson:
    def test_export_and_erase_give_the_seat_on(self, session: Session, settings: Settings) -> None:
        g, members = invited(session, settings, 4)
        for m in members:
            _yes(session, g.id, m.id)
        data = service.personal_data(session, members[0].id)
        assert [r["status"] for r in data["rsvps"]] == ["yes"]
        people_service.erase_customer(
            session,
            settings=settings,
            customer_id=members[0].id,
            erased_by="test",
            hooks=__import__("wafa.app.domains", fromlist=["people_hooks"]).people_hooks(),
        )
        assert service.personal_data(session, members[0].id) == {"rsvps": []}
        waiter = service.find_rsvp(session, gathering_id=g.id, customer_id=members[3].id)
        assert waiter.status == "yes"

    def test_merge_keeps_one_seat(self, session: Session, settings: Settings) -> None:
        g, members = invited(session, settings, 4)
        for m in members:
            _yes(session, g.id, m.id)  # three seats, one waiting
        moved = service.move_rsvps(session, loser_id=members[0].id, winner_id=members[1].id)
        assert moved == {"moved": 0, "dropped": 1}
        statuses = Counter(session.scalars(select(Rsvp.status).where(Rsvp.gathering_id == g.id)))
        assert statuses == {"yes": 3}
        session.refresh(g)
        assert g.accepted == 3
