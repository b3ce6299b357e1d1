"""Many customers at once: the daily run enters a selection with a few statements and runs
their steps together (``enrol_many``, ``advance_many``). What each customer gets must be
what the one-at-a-time rule gives them: the channel or its fallback by the same consent
and suppression rules, nothing for the holdout, one message per step, the exit on order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.factories import create_customer
from tests.flows.helpers import enrolments, flow, messages, no_limits, template
from tests.loyalty.helpers import place
from tests.messaging.helpers import subscriber
from wafa.core.settings import Settings
from wafa.customers import service as customers
from wafa.customers.models import ConsentChannel
from wafa.customers.schemas import ConsentIn
from wafa.flows import jobs
from wafa.flows.engine import advance, advance_many, enrol_many, in_holdout
from wafa.flows.models import Enrolment, Flow, StepRun
from wafa.loyalty.models import Coupon
from wafa.messaging import consent
from wafa.messaging.models import Message, SuppressionReason, Topic


def _expected_channel(session: Session, settings: Settings, customer_id: object) -> tuple[str, str]:
    """The one-at-a-time rule (``engine._send``): email, else SMS, else email unreachable."""
    for channel in ("email", "sms"):
        if consent.can_receive(
            session,
            settings=settings,
            customer_id=customer_id,  # type: ignore[arg-type]
            channel=channel,
            kind="marketing",
            topic=Topic.offers.value,
        ):
            return "sent", channel
    return "unreachable", "email"


def test_a_selection_goes_through_its_steps_together_as_one_at_a_time(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    no_limits(session)
    template(session, "t.miss", "We miss you")
    template(session, "t.again", "Still missing you")
    miss = flow(
        session,
        "win_back",
        [
            {"key": "miss", "type": "send", "template": "t.miss", "fallback": "sms"},
            {"key": "later", "type": "wait", "days": 3, "at": "10:00"},
            {"key": "again", "type": "send", "template": "t.again", "fallback": "sms"},
        ],
        trigger={
            "type": "daily",
            "rules": {"all": [{"field": "tags", "op": "in", "value": ["lapsed"]}]},
        },
        exit={"on_order": True},
        holdout_percent=30,
        cooldown_days=60,
    )
    lapsed = [subscriber(session, tags=["lapsed"], phone=f"+1202555{n:04d}") for n in range(24)]
    sms_only = create_customer(session, tags=["lapsed"], phone="+12025559001")
    customers.record_consent(
        session,
        customer=sms_only,
        consent=ConsentIn(channel=ConsentChannel.sms, granted=True, source="test"),
    )
    nothing = create_customer(session, tags=["lapsed"])  # no consent: queued, unreachable
    bounced = subscriber(session, tags=["lapsed"], phone="+12025559002")
    consent.suppress(
        session,
        secret=consent.hash_key(session),
        medium="email",
        address=bounced.email or "",
        reason=SuppressionReason.hard_bounce,
        source="test",
    )
    no_offers = subscriber(session, tags=["lapsed"], phone="+12025559003")
    consent.set_topic_consent(
        session,
        customer_id=no_offers.id,
        channel="email",
        topic=Topic.offers,
        granted=False,
        source="test",
    )
    subscriber(session)  # not lapsed: not selected
    people = [*lapsed, sms_only, nothing, bounced, no_offers]
    session.commit()

    assert jobs.run_day(session_factory, settings, clock.now.date())["entered"] == len(people)
    assert jobs.run_day(session_factory, settings, clock.now.date())["entered"] == 0
    ways = {e.customer_id: e for e in enrolments(session, miss)}
    assert set(ways) == {c.id for c in people}
    held = {c.id for c in people if in_holdout(miss, c.id)}
    assert 0 < len(held) < len(people)  # the draw kept some, not all
    expected = {c.id: _expected_channel(session, settings, c.id) for c in people}
    assert expected[sms_only.id] == ("sent", "sms")
    assert expected[nothing.id] == ("unreachable", "email")
    assert expected[bounced.id] == ("sent", "sms")
    assert expected[no_offers.id] == ("sent", "sms")

    def outcomes(step: str) -> dict[object, tuple[str, str | None]]:
        return {
            e.customer_id: (r.outcome, r.detail)
            for e in enrolments(session, miss)
            for r in session.scalars(
                select(StepRun).where(StepRun.enrolment_id == e.id, StepRun.step == step)
            )
        }

    first = outcomes("miss")
    for c in people:
        want = ("held_out", None) if c.id in held else expected[c.id]
        assert first[c.id] == want, c.name
    sent = messages(session, miss)
    assert sorted((m.customer_id, m.channel) for m in sent) == sorted(
        (c.id, expected[c.id][1]) for c in people if c.id not in held
    )
    assert all(m.occasion == f"{ways[m.customer_id].id}:miss" for m in sent)
    assert {m.template_key for m in sent} == {"t.miss"}
    # Everyone waits until 10:00 three days on (the business's zone, UTC here).
    waits = outcomes("later")
    assert len(waits) == len(people)
    due = {e.due_at for e in enrolments(session, miss)}
    assert len(due) == 1
    [at] = due
    assert at is not None and (at.hour, at.minute) == (10, 0)
    assert timedelta(days=3) <= at - clock.now < timedelta(days=4)

    # One comes back before the second message: they leave; the rest hear again, once.
    buyer = next(c for c in lapsed if c.id not in held)
    clock.advance(days=1)
    place(session, buyer)
    session.commit()
    clock.set(at + timedelta(minutes=1))
    jobs.run_due(session_factory, settings)
    jobs.run_due(session_factory, settings)  # nothing twice
    final = {e.customer_id: e for e in enrolments(session, miss)}
    assert final[buyer.id].status == "exited" and final[buyer.id].exit_reason == "ordered"
    assert all(e.status == "done" for cid, e in final.items() if cid != buyer.id), {
        e.status for e in final.values()
    }
    second = outcomes("again")
    assert buyer.id not in second
    for c in people:
        if c.id != buyer.id:
            assert second[c.id] == (("held_out", None) if c.id in held else expected[c.id])
    again = [m for m in messages(session, miss) if m.template_key == "t.again"]
    assert len(again) == len(people) - len(held) - 1
    assert len({m.customer_id for m in again}) == len(again)


def _coupon_outcome(session: Session, flow_id: object) -> dict[object, object]:
    """Per customer: the step runs, the coupon, the enrolment's context and the message,
    with the (random) coupon code checked against the coupon and then set aside."""
    session.flush()
    found: dict[object, object] = {}
    for e in session.scalars(select(Enrolment).where(Enrolment.flow_id == flow_id)):
        code = None
        coupon = session.scalar(select(Coupon).where(Coupon.occasion == f"flow:{e.id}:offer"))
        if coupon is not None:
            code = coupon.code
            coupon_row = (
                coupon.customer_id,
                coupon.name,
                coupon.source,
                coupon.discount_kind,
                coupon.percent_bp,
                coupon.amount,
                coupon.currency,
                coupon.max_uses,
                coupon.uses,
                coupon.expires_at,
                coupon.created_by,
                coupon.status,
            )
        else:
            coupon_row = None

        def hide(value: object, code: str | None = code) -> object:
            if isinstance(value, dict):
                return {k: hide(v, code) for k, v in value.items()}
            return "<code>" if code is not None and value == code else value

        runs = {
            r.step: (r.outcome, hide(r.detail), r.message_id is not None)
            for r in session.scalars(select(StepRun).where(StepRun.enrolment_id == e.id))
        }
        sent = [
            (m.channel, m.template_key, m.status, hide(m.context))
            for m in session.scalars(select(Message).where(Message.occasion == f"{e.id}:miss"))
        ]
        found[e.customer_id] = (
            e.status,
            e.step,
            e.position,
            e.holdout,
            hide(e.context),
            runs,
            coupon_row,
            sent,
        )
    return found


def test_coupons_for_a_group_as_one_at_a_time(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
) -> None:
    no_limits(session)
    template(session, "t.miss", "{{ coupon.code }} takes {{ coupon.value }} off")
    offer = flow(
        session,
        "win_back",
        [
            {"key": "offer", "type": "coupon", "name": "We miss you", "percent": 10},
            {"key": "miss", "type": "send", "template": "t.miss", "fallback": "sms"},
            {"key": "later", "type": "wait", "days": 14, "at": "11:00"},
        ],
        trigger={
            "type": "daily",
            "rules": {"all": [{"field": "tags", "op": "in", "value": ["lapsed"]}]},
        },
        holdout_percent=30,
    )
    people = [subscriber(session, tags=["lapsed"]) for _ in range(16)]
    people.append(create_customer(session, tags=["lapsed"]))  # no consent: unreachable
    session.commit()
    done = enrol_many(
        session,
        settings=settings,
        flow=offer,
        entrants=[(c.id, "day:2026-03-15", {}) for c in people],
    )
    session.commit()
    assert len(done.due_now) == len(people)

    with session_factory() as one:
        f = one.get(Flow, offer.id)
        assert f is not None
        for e in one.scalars(select(Enrolment).where(Enrolment.flow_id == offer.id)):
            advance(one, settings=settings, flow=f, enrolment=e)
        alone = _coupon_outcome(one, offer.id)
        one.rollback()
    with session_factory() as many:
        f = many.get(Flow, offer.id)
        assert f is not None
        group = list(many.scalars(select(Enrolment).where(Enrolment.flow_id == offer.id)))
        advance_many(many, settings=settings, flow=f, enrolments=group)
        together = _coupon_outcome(many, offer.id)
        many.commit()

    assert together == alone
    held = {c.id for c in people if in_holdout(offer, c.id)}
    assert 0 < len(held) < len(people)
    coupons_given = {cid for cid, row in together.items() if row[6] is not None}  # type: ignore[index]
    assert coupons_given == {c.id for c in people} - held
    codes_sent = {
        m.context["coupon"]["code"] for m in messages(session, offer) if m.template_key == "t.miss"
    }
    assert len(codes_sent) == len(coupons_given)
    # Run again: nothing more issued, nothing more queued.
    group = list(session.scalars(select(Enrolment).where(Enrolment.flow_id == offer.id)))
    assert advance_many(session, settings=settings, flow=offer, enrolments=group) == 0
    assert session.scalar(select(func.count()).select_from(Coupon)) == len(coupons_given)


def test_a_daily_selection_is_read_in_keyset_chunks(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The daily condition's selection is read ``ENTRY_BATCH`` customers at a time by
    their ids: everyone selected is entered once, those the flow's own filters keep out
    (selected again by each chunk's statement) do not stop the walk."""
    monkeypatch.setattr(jobs, "ENTRY_BATCH", 4)
    no_limits(session)
    template(session, "t.miss", "We miss you")
    miss = flow(
        session,
        "win_back",
        [{"key": "miss", "type": "send", "template": "t.miss"}],
        trigger={
            "type": "daily",
            "rules": {"all": [{"field": "tags", "op": "in", "value": ["lapsed"]}]},
        },
        filters={"all": [{"field": "tags", "op": "in", "value": ["reachable"]}]},
    )
    wanted = [subscriber(session, tags=["lapsed", "reachable"]) for _ in range(10)]
    kept_out = [subscriber(session, tags=["lapsed"]) for _ in range(5)]
    subscriber(session, tags=["reachable"])  # not selected
    session.commit()
    assert jobs.run_day(session_factory, settings, clock.now.date())["entered"] == 10
    assert jobs.run_day(session_factory, settings, clock.now.date())["entered"] == 0
    ways = enrolments(session, miss)
    assert sorted(e.customer_id for e in ways) == sorted(c.id for c in wanted)
    assert {e.status for e in ways} == {"done"}
    assert len(messages(session, miss)) == 10
    assert not {m.customer_id for m in messages(session, miss)} & {c.id for c in kept_out}
