"""Campaigns in the service: snapshot, holdout, queuing in batches, schedules, coupons,
pause, resume, cancel, and the worker sending to a real SMTP server on loopback."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.messaging.campaigns.conftest import audience, draft, queue_all, segment_of
from tests.messaging.conftest import Sink, body_of
from tests.messaging.helpers import MARKED, REST, FakeEmail, Killed, die
from wafa.core.settings import Settings
from wafa.loyalty.models import Coupon
from wafa.messaging.campaigns import service
from wafa.messaging.campaigns.models import Campaign, CampaignRecipient
from wafa.messaging.models import ContactPreferences, Message
from wafa.messaging.pipeline import Pipeline
from wafa.messaging.policy import ChannelPolicy, MessagingPolicy, save_policy


def _messages(session: Session, campaign: Campaign) -> list[Message]:
    session.expire_all()
    return list(session.scalars(select(Message).where(Message.campaign_id == campaign.id)))


def _no_limits(session: Session) -> None:
    save_policy(session, MessagingPolicy(email=ChannelPolicy(cap_hours=0, quiet=None)), by="test")


class TestSending:
    def test_snapshot_holdout_and_one_message_per_recipient(
        self, session: Session, settings: Settings
    ) -> None:
        people = audience(session, 30)
        audience(session, 3, city="Tabriz")
        campaign = draft(session, settings, segment_of(session, settings), holdout_percent=30)
        service.start_sending(session, settings=settings, campaign_id=campaign.id)
        audience(session, 2)  # joins the segment after the send: not a recipient
        assert queue_all(session, settings, campaign.id, batch=7) == 30
        read = service.read_campaign(session, campaign_id=campaign.id)
        assert read["recipients"] == 30
        held = {
            r.customer_id
            for r in session.scalars(
                select(CampaignRecipient).where(CampaignRecipient.holdout.is_(True))
            )
        }
        assert 0 < len(held) < 30 and read["holdout"] == len(held)
        messages = _messages(session, campaign)
        assert len(messages) == 30 - len(held)
        assert {m.customer_id for m in messages} == {p.id for p in people} - held
        assert {(m.reason, m.occasion, m.status) for m in messages} == {
            ("campaign", str(campaign.id), "queued")
        }
        assert read["counts"]["queued"] == len(messages) and read["status"] == "sending"

    def test_the_holdout_is_reproducible(self, session: Session, settings: Settings) -> None:
        people = audience(session, 20)
        campaign = draft(session, settings, segment_of(session, settings), holdout_percent=50)
        service.start_sending(session, settings=settings, campaign_id=campaign.id)
        queue_all(session, settings, campaign.id)
        stored = dict(
            session.execute(select(CampaignRecipient.customer_id, CampaignRecipient.holdout)).all()
        )
        redrawn = {p.id: service.in_holdout(campaign.holdout_seed, p.id, 50) for p in people}
        assert stored == redrawn
        # About half over many draws (the hash is uniform).
        import uuid

        share = sum(service.in_holdout("seed", uuid.uuid4(), 10) for _ in range(20_000)) / 20_000
        assert 0.09 < share < 0.11

    def test_send_twice_and_a_replayed_batch_queue_nobody_twice(
        self, session: Session, settings: Settings
    ) -> None:
        audience(session, 12)
        campaign = draft(session, settings, segment_of(session, settings), holdout_percent=0)
        service.start_sending(session, settings=settings, campaign_id=campaign.id)
        service.start_sending(session, settings=settings, campaign_id=campaign.id)
        queue_all(session, settings, campaign.id, batch=5)
        # A worker that died after queuing but before its cursor was kept: queue again.
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign.id)
            .values(status="queuing", queued_through=None, queued_at=None)
        )
        queue_all(session, settings, campaign.id, batch=5)
        assert len(_messages(session, campaign)) == 12
        assert service.read_campaign(session, campaign_id=campaign.id)["recipients"] == 12

    def test_the_worker_sends_and_the_campaign_finishes(
        self,
        session: Session,
        mail_settings: Settings,
        pipeline: Pipeline,
        smtp_sink: Sink,
    ) -> None:
        _no_limits(session)
        people = audience(session, 5)
        campaign = draft(
            session, mail_settings, segment_of(session, mail_settings), holdout_percent=0
        )
        service.start_sending(session, settings=mail_settings, campaign_id=campaign.id)
        queue_all(session, mail_settings, campaign.id)
        session.flush()
        pipeline.run_once()
        for person in people:
            [got] = smtp_sink.to(person.email or "")
            assert f"Hello {person.name.split()[0]}" in body_of(got, "plain")  # type: ignore[union-attr]
        read = service.read_campaign(session, campaign_id=campaign.id)
        assert read["status"] == "finished" and read["counts"]["sent"] == 5


class TestScheduleAndCoupon:
    def test_local_time_in_each_customers_timezone(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        clock.set(datetime(2027, 3, 1, 0, 0, tzinfo=UTC))
        tehran, york, plain = audience(session, 3)
        session.add_all(
            [
                ContactPreferences(customer_id=tehran.id, timezone="Asia/Tehran"),
                ContactPreferences(customer_id=york.id, timezone="America/New_York"),
            ]
        )
        campaign = draft(
            session,
            settings,
            segment_of(session, settings),
            holdout_percent=0,
            schedule="local",
            local_date=date(2027, 3, 2),
            local_time="10:00",
        )
        service.start_sending(session, settings=settings, campaign_id=campaign.id)
        # The segment is taken when the first time zone (UTC+14) reaches 2 March 10:00.
        assert service.get_campaign(session, campaign.id).status == "scheduled"
        clock.set(datetime(2027, 3, 1, 19, 59, tzinfo=UTC))
        assert not service.take_snapshot_if_due(session, settings=settings, campaign_id=campaign.id)
        clock.set(datetime(2027, 3, 1, 20, 0, tzinfo=UTC))
        assert service.take_snapshot_if_due(session, settings=settings, campaign_id=campaign.id)
        queue_all(session, settings, campaign.id)
        due = {m.customer_id: m.not_before for m in _messages(session, campaign)}
        assert due[tehran.id] == datetime(2027, 3, 2, 6, 30, tzinfo=UTC)
        assert due[york.id] == datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
        assert due[plain.id] == datetime(2027, 3, 2, 10, 0, tzinfo=UTC)  # the business's zone

    def test_at_a_time_the_segment_is_taken_at_that_time(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        first = audience(session, 2)
        at = datetime(2030, 1, 5, 9, 0, tzinfo=UTC)
        clock.set(datetime(2030, 1, 4, 18, 0, tzinfo=UTC))
        campaign = draft(
            session,
            settings,
            segment_of(session, settings),
            holdout_percent=0,
            schedule="at",
            send_at=at,
        )
        service.start_sending(session, settings=settings, campaign_id=campaign.id)
        service.start_sending(session, settings=settings, campaign_id=campaign.id)  # again
        scheduled = service.read_campaign(session, campaign_id=campaign.id)
        assert scheduled["status"] == "scheduled" and scheduled["recipients"] is None
        assert queue_all(session, settings, campaign.id) == 0 and _messages(session, campaign) == []
        # Before the time: a customer joins the segment, one leaves it.
        joined = audience(session, 1)[0]
        first[0].city = "Tabriz"
        session.flush()
        clock.set(datetime(2030, 1, 5, 8, 59, tzinfo=UTC))
        assert not service.take_snapshot_if_due(session, settings=settings, campaign_id=campaign.id)
        clock.set(at)
        assert service.take_snapshot_if_due(session, settings=settings, campaign_id=campaign.id)
        assert not service.take_snapshot_if_due(session, settings=settings, campaign_id=campaign.id)
        queue_all(session, settings, campaign.id)
        messages = _messages(session, campaign)
        assert {m.customer_id for m in messages} == {first[1].id, joined.id}
        assert {m.not_before for m in messages} == {at}
        assert service.read_campaign(session, campaign_id=campaign.id)["recipients"] == 2

    def test_a_scheduled_campaign_can_be_cancelled_before_its_time(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        audience(session, 2)
        clock.set(datetime(2030, 1, 4, 18, 0, tzinfo=UTC))
        campaign = draft(
            session,
            settings,
            segment_of(session, settings),
            schedule="at",
            send_at=datetime(2030, 1, 5, 9, 0, tzinfo=UTC),
        )
        service.start_sending(session, settings=settings, campaign_id=campaign.id)
        service.cancel(session, campaign_id=campaign.id)
        clock.set(datetime(2030, 1, 6, 9, 0, tzinfo=UTC))
        assert not service.take_snapshot_if_due(session, settings=settings, campaign_id=campaign.id)
        assert _messages(session, campaign) == []
        assert service.get_campaign(session, campaign.id).status == "cancelled"

    def test_a_personal_single_use_coupon_per_recipient(
        self,
        session: Session,
        mail_settings: Settings,
        pipeline: Pipeline,
        smtp_sink: Sink,
    ) -> None:
        _no_limits(session)
        people = audience(session, 3)
        campaign = draft(
            session,
            mail_settings,
            segment_of(session, mail_settings),
            holdout_percent=0,
            body={"en": "Your code: {{ coupon_code }}"},
            coupon={"kind": "discount_percent", "percent": 15, "valid_days": 10},
        )
        service.start_sending(session, settings=mail_settings, campaign_id=campaign.id)
        queue_all(session, mail_settings, campaign.id)
        session.execute(update(Campaign).values(status="queuing", queued_through=None))
        queue_all(session, mail_settings, campaign.id)  # replayed: no second coupon
        issued = list(session.scalars(select(Coupon).where(Coupon.source == "campaign")))
        assert {c.customer_id for c in issued} == {p.id for p in people}
        assert {(c.max_uses, c.percent_bp) for c in issued} == {(1, 1500)}
        session.flush()
        pipeline.run_once()
        for coupon in issued:
            owner = next(p for p in people if p.id == coupon.customer_id)
            [got] = smtp_sink.to(owner.email or "")
            assert coupon.code.replace("-", "") in body_of(got, "plain").replace("-", "")


class TestPauseResumeCancel:
    def test_pause_holds_resume_sends_everyone_once(
        self,
        session: Session,
        mail_settings: Settings,
        pipeline: Pipeline,
        smtp_sink: Sink,
    ) -> None:
        _no_limits(session)
        audience(session, 6)
        campaign = draft(
            session, mail_settings, segment_of(session, mail_settings), holdout_percent=0
        )
        service.start_sending(session, settings=mail_settings, campaign_id=campaign.id)
        service.queue_next_batch(session, settings=mail_settings, campaign_id=campaign.id, batch=4)
        service.pause(session, campaign_id=campaign.id)
        assert queue_all(session, mail_settings, campaign.id) == 0  # queuing waits too
        session.flush()
        pipeline.run_once()
        assert smtp_sink.received == []
        read = service.read_campaign(session, campaign_id=campaign.id)
        assert read["status"] == "paused" and read["counts"]["paused"] == 4
        service.resume(session, campaign_id=campaign.id)
        queue_all(session, mail_settings, campaign.id)
        session.flush()
        pipeline.run_once()
        assert len(smtp_sink.received) == 6
        assert len({r.rcpt_tos[0] for r in smtp_sink.received}) == 6
        read = service.read_campaign(session, campaign_id=campaign.id)
        assert read["status"] == "finished" and read["counts"]["sent"] == 6

    @pytest.mark.parametrize("action", ["pause", "cancel"])
    def test_what_a_stopped_worker_never_handed_over_follows_a_pause_or_cancel(
        self,
        session: Session,
        mail_settings: Settings,
        session_factory: sessionmaker[Session],
        pipeline: Pipeline,
        smtp_sink: Sink,
        clock: FrozenClock,
        action: str,
    ) -> None:
        _no_limits(session)
        audience(session, 12)
        campaign = draft(
            session, mail_settings, segment_of(session, mail_settings), holdout_percent=0
        )
        service.start_sending(session, settings=mail_settings, campaign_id=campaign.id)
        queue_all(session, mail_settings, campaign.id)
        session.flush()
        # A worker takes all 12, marks the first MARKED as handed over and is killed at
        # its first hand-over; the owner then pauses or cancels the campaign.
        fake = FakeEmail(at=1, then=die)
        dead = Pipeline(mail_settings, session_factory, channels={"email": fake}, worker_id="dead")
        with pytest.raises(Killed):
            dead.run_once()
        getattr(service, action)(session, campaign_id=campaign.id)
        clock.advance(minutes=3)
        report = pipeline.run_once()
        # The REST never handed over follow the campaign instead of going out.
        assert (report.lapsed, report.requeued, report.sent) == (MARKED, REST, 0)
        assert smtp_sink.received == []
        read = service.read_campaign(session, campaign_id=campaign.id)
        if action == "cancel":
            assert {k: v for k, v in read["counts"].items() if v} == {
                "unknown": MARKED,
                "skipped": REST,
            }
            assert read["skipped_by_reason"] == {"cancelled": REST}
            return
        assert {k: v for k, v in read["counts"].items() if v} == {"unknown": MARKED, "paused": REST}
        service.resume(session, campaign_id=campaign.id)
        session.flush()
        assert pipeline.run_once().sent == REST
        assert len({r.rcpt_tos[0] for r in smtp_sink.received}) == REST
        read = service.read_campaign(session, campaign_id=campaign.id)
        assert read["status"] == "finished"

    def test_cancel_skips_what_waits_and_stops_queuing(
        self, session: Session, settings: Settings
    ) -> None:
        audience(session, 5)
        campaign = draft(session, settings, segment_of(session, settings), holdout_percent=0)
        service.start_sending(session, settings=settings, campaign_id=campaign.id)
        service.queue_next_batch(session, settings=settings, campaign_id=campaign.id, batch=2)
        service.cancel(session, campaign_id=campaign.id)
        assert queue_all(session, settings, campaign.id) == 0
        read = service.read_campaign(session, campaign_id=campaign.id)
        assert read["status"] == "cancelled"
        assert read["counts"]["skipped"] == 2 and read["skipped_by_reason"] == {"cancelled": 2}
        count = session.scalar(select(func.count()).where(Message.campaign_id == campaign.id))
        assert count == 2
