"""The flow engine end to end on the test's database: trigger, wait, branch, filters,
exit, cooldown, edits mid-way, holdout, fallback channel, coupons and points."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.flows.helpers import drain, due, enrolments, flow, messages, no_limits, runs, template
from tests.loyalty.helpers import place
from tests.messaging.conftest import Sink
from tests.messaging.helpers import subscriber
from wafa.core.events import emit
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import CalendarKind, Settings
from wafa.customers import service as customers
from wafa.customers.schemas import CustomerUpdate
from wafa.flows import engine, service
from wafa.flows.models import EnrolmentStatus
from wafa.loyalty.models import Coupon
from wafa.messaging.pipeline import Pipeline
from wafa.orders.events import OrderPlaced

THANKS_THEN_CHECK: list[dict[str, Any]] = [
    {"key": "thanks", "type": "send", "template": "t.thanks"},
    {"key": "day", "type": "wait", "days": 1, "at": "10:00"},
    {"key": "again", "type": "branch", "condition": "ordered_since_entry", "then": "exit"},
    {"key": "check", "type": "send", "template": "t.check"},
]


def _templates(session: Session) -> None:
    template(session, "t.thanks", "Thanks {{ customer.first_name }} for order {{ order.number }}")
    template(session, "t.check", "All well with your order?")
    no_limits(session)


class TestOrderFlow:
    def test_trigger_send_wait_branch_send_end(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: FrozenClock,
        pipeline: Pipeline,
        smtp_sink: Sink,
    ) -> None:
        _templates(session)
        thank = flow(session, "thank_you", THANKS_THEN_CHECK)
        customer = subscriber(session)
        order = place(session, customer, placed_at=clock.now)
        session.flush()

        drain(session_factory, settings)
        assert [m.template_key for m in messages(session, thank)] == ["t.thanks"]
        pipeline.run_once()
        [mail] = [
            m
            for m in smtp_sink.to(customer.email or "")
            if m.message["Subject"] == "About t.thanks"
        ]
        assert order.external_id in mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]

        [enrolment] = enrolments(session, thank)
        assert enrolment.step == "again"
        # 12:00 UTC + 1 day, then the next 10:00: the day after tomorrow at 10:00.
        assert enrolment.due_at == (clock.now + timedelta(days=1, hours=22))
        assert due(session_factory, settings)["steps"] == 0  # not yet due

        clock.advance(days=2)
        due(session_factory, settings)
        [enrolment] = enrolments(session, thank)
        assert enrolment.status == EnrolmentStatus.done
        assert runs(session, enrolment) == {
            "thanks": "sent",
            "day": "waited",
            "again": "branched",
            "check": "sent",
        }
        # A replayed event and a second pass change nothing.
        drain(session_factory, settings)
        due(session_factory, settings)
        assert len(messages(session, thank)) == 2

    def test_ordering_again_ends_the_flow(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        _templates(session)
        thank = flow(session, "thank_you", THANKS_THEN_CHECK)
        customer = subscriber(session)
        place(session, customer, placed_at=clock.now)
        drain(session_factory, settings)
        clock.advance(hours=3)
        place(session, customer, placed_at=clock.now)
        drain(session_factory, settings)
        clock.advance(days=2)
        due(session_factory, settings)
        first, second = sorted(enrolments(session, thank), key=lambda e: e.entered_at)
        assert first.status == EnrolmentStatus.exited and first.exit_reason == "branch:again"
        assert "check" not in runs(session, first)
        assert second.status == EnrolmentStatus.done  # its own order is not "again"

    def test_exit_condition_checked_before_every_step(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        _templates(session)
        nudge = flow(
            session,
            "nudge",
            [
                {"key": "wait", "type": "wait", "days": 3},
                {"key": "nudge", "type": "send", "template": "t.check"},
            ],
            trigger={"type": "event", "topic": "customer.created"},
            exit={"on_order": True},
        )
        customer = subscriber(session)
        drain(session_factory, settings)
        clock.advance(days=1)
        place(session, customer, placed_at=clock.now)
        clock.advance(days=3)
        due(session_factory, settings)
        [enrolment] = enrolments(session, nudge)
        assert (enrolment.status, enrolment.exit_reason) == ("exited", "ordered")
        assert messages(session, nudge) == []


class TestFilters:
    def test_rechecked_before_each_send(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        _templates(session)
        vip = flow(
            session,
            "vip",
            [
                {"key": "hello", "type": "send", "template": "t.thanks"},
                {"key": "wait", "type": "wait", "hours": 2},
                {"key": "again", "type": "send", "template": "t.check"},
            ],
            filters={"all": [{"field": "tags", "op": "in", "value": ["vip"]}]},
        )
        kept = subscriber(session, tags=["vip"])
        dropped = subscriber(session, tags=["vip"])
        other = subscriber(session)
        for c in (kept, dropped, other):
            place(session, c, placed_at=clock.now)
        drain(session_factory, settings)
        assert {m.customer_id for m in messages(session, vip)} == {kept.id, dropped.id}
        customers.update_customer(
            session,
            customer_id=dropped.id,
            data=CustomerUpdate(tags=[]),
            region="US",
            calendar=CalendarKind.gregorian,
        )
        clock.advance(hours=2)
        due(session_factory, settings)
        by_customer = {e.customer_id: e for e in enrolments(session, vip)}
        assert set(by_customer) == {kept.id, dropped.id}  # ``other`` never entered
        assert by_customer[kept.id].status == "done"
        assert (by_customer[dropped.id].status, by_customer[dropped.id].exit_reason) == (
            "exited",
            "filtered",
        )
        assert len(messages(session, vip, dropped.id)) == 1


class TestEditing:
    def test_an_edit_never_resends_to_those_past_a_step(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        _templates(session)
        template(session, "t.new", "A new step")
        thank = flow(session, "thank_you", THANKS_THEN_CHECK)
        customer = subscriber(session)
        place(session, customer, placed_at=clock.now)
        drain(session_factory, settings)
        # Mid-way (past "thanks", waiting at "again"): the owner adds a step before the
        # wait, rewrites the first message and removes the branch.
        service.update_flow(
            session,
            key="thank_you",
            by="test",
            definition={
                "trigger": {"type": "event", "topic": "order.placed"},
                "steps": [
                    {"key": "thanks", "type": "send", "template": "t.new"},
                    {"key": "extra", "type": "send", "template": "t.new"},
                    {"key": "day", "type": "wait", "days": 1, "at": "10:00"},
                    {"key": "check", "type": "send", "template": "t.check"},
                ],
            },
        )
        clock.advance(days=2)
        due(session_factory, settings)
        sent = [m.template_key for m in messages(session, thank)]
        assert sent == ["t.thanks", "t.check"]
        [enrolment] = enrolments(session, thank)
        assert enrolment.status == "done"
        # A new customer goes through the edited flow.
        newcomer = subscriber(session)
        place(session, newcomer, placed_at=clock.now)
        drain(session_factory, settings)
        assert [m.template_key for m in messages(session, thank, newcomer.id)] == [
            "t.new",
            "t.new",
        ]


class TestEntry:
    def test_cooldown_and_replays(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        _templates(session)
        thank = flow(
            session,
            "thank_you",
            [{"key": "thanks", "type": "send", "template": "t.thanks"}],
            cooldown_days=7,
        )
        customer = subscriber(session)
        place(session, customer, placed_at=clock.now)
        clock.advance(days=1)
        place(session, customer, placed_at=clock.now)
        drain(session_factory, settings)
        drain(session_factory, settings)
        assert len(enrolments(session, thank)) == 1
        clock.advance(days=7)
        place(session, customer, placed_at=clock.now)
        drain(session_factory, settings)
        assert len(enrolments(session, thank)) == 2
        assert len(messages(session, thank)) == 2

    def test_history_is_not_news(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        _templates(session)
        thank = flow(
            session, "thank_you", [{"key": "thanks", "type": "send", "template": "t.thanks"}]
        )
        customer = subscriber(session)
        place(session, customer, placed_at=clock.now - timedelta(days=5))
        order = place(session, customer, placed_at=clock.now)
        emit(
            session,
            OrderPlaced(
                order_id=order.id,
                customer_id=customer.id,
                channel="online",
                currency="USD",
                total=100,
                placed_at=clock.now,
                imported=True,
            ),
        )
        drain(session_factory, settings)
        assert len(enrolments(session, thank)) == 1  # only the fresh, live order

    def test_switched_off_enters_nobody_and_pauses_those_in_it(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        _templates(session)
        thank = flow(session, "thank_you", THANKS_THEN_CHECK)
        first = subscriber(session)
        place(session, first, placed_at=clock.now)
        drain(session_factory, settings)
        service.set_enabled(session, key="thank_you", enabled=False, by="test")
        second = subscriber(session)
        place(session, second, placed_at=clock.now)
        drain(session_factory, settings)
        clock.advance(days=3)
        due(session_factory, settings)
        [enrolment] = enrolments(session, thank)
        assert enrolment.customer_id == first.id and enrolment.status == "active"
        service.set_enabled(session, key="thank_you", enabled=True, by="test")
        due(session_factory, settings)
        assert enrolments(session, thank)[0].status == "done"


class TestHoldout:
    def test_stable_and_never_messaged(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        _templates(session)
        thank = flow(
            session,
            "thank_you",
            [{"key": "thanks", "type": "send", "template": "t.thanks"}],
            holdout_percent=50,
        )
        people = [subscriber(session) for _ in range(20)]
        for c in people:
            place(session, c, placed_at=clock.now)
        drain(session_factory, settings)
        held = {e.customer_id for e in enrolments(session, thank) if e.holdout}
        assert 0 < len(held) < 20
        assert held == {c.id for c in people if engine.in_holdout(thank, c.id)}
        assert {m.customer_id for m in messages(session, thank)} == {c.id for c in people} - held
        for e in enrolments(session, thank):
            assert runs(session, e) == {"thanks": "held_out" if e.holdout else "sent"}


class TestChannelsAndGifts:
    def test_fallback_channel_when_no_email(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        _templates(session)
        thank = flow(
            session,
            "thank_you",
            [{"key": "thanks", "type": "send", "template": "t.check", "fallback": "sms"}],
            trigger={"type": "event", "topic": "customer.created"},
        )
        by_phone = subscriber(session, email=None, phone="+12025550123")
        by_mail = subscriber(session, phone="+12025550124")
        drain(session_factory, settings)
        channels = {m.customer_id: m.channel for m in messages(session, thank)}
        assert channels == {by_phone.id: "sms", by_mail.id: "email"}

    def test_coupon_then_points_then_message_with_the_code(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: FrozenClock,
    ) -> None:
        _templates(session)
        template(session, "t.gift", "Your code {{ coupon.code }}")
        gift = flow(
            session,
            "gift",
            [
                {"key": "coupon", "type": "coupon", "name": "Welcome back", "percent": 15},
                {"key": "points", "type": "points", "points": 50, "reason": "Welcome back"},
                {"key": "tell", "type": "send", "template": "t.gift"},
            ],
            trigger={"type": "event", "topic": "customer.created"},
        )
        customer = subscriber(session)
        drain(session_factory, settings)
        drain(session_factory, settings)
        coupons = list(session.scalars(select(Coupon).where(Coupon.customer_id == customer.id)))
        assert len(coupons) == 1 and coupons[0].percent_bp == 1500
        [message] = messages(session, gift)
        assert message.context["coupon"]["code"] == coupons[0].code
        from wafa.loyalty import service as loyalty

        assert loyalty.status(session, settings=settings, customer_id=customer.id).available == 50


def test_not_a_customer_enters_nothing(
    session: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    _templates(session)
    thank = flow(session, "thank_you", [{"key": "thanks", "type": "send", "template": "t.thanks"}])
    create_customer(session)  # no order
    drain(session_factory, settings)
    assert enrolments(session, thank) == []
    assert session.scalar(select(func.count()).select_from(OutboxEvent)) is not None
