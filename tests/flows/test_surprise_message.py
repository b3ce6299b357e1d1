"""A surprise is told: the ``surprise`` preset (on from the start) turns
``loyalty.surprise_granted`` into an email in the customer's language."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.flows.helpers import no_limits
from tests.loyalty.helpers import place, set_rules
from tests.messaging.conftest import Sink, body_of
from tests.messaging.helpers import subscriber
from wafa.core.settings import Settings
from wafa.loyalty import rewards
from wafa.loyalty.schemas.io import RewardCreate
from wafa.loyalty.surprise import service as surprise
from wafa.loyalty.surprise.schemas import SurpriseRuleCreate
from wafa.messaging.pipeline import Pipeline
from wafa.worker.batch import drain_batched


def _drain_all(factory: sessionmaker[Session], settings: Settings) -> None:
    from wafa.app.domains import consumers

    drain_batched(factory, consumers(settings))


class TestSurpriseMessage:
    def test_points_in_persian_and_a_gift_code_in_english(
        self,
        session: Session,
        session_factory: sessionmaker[Session],
        mail_settings: Settings,
        clock: FrozenClock,
        pipeline: Pipeline,
        smtp_sink: Sink,
    ) -> None:
        set_rules(session)
        no_limits(session)  # two surprises on one day: no frequency cap in this test
        surprise.create_rule(
            session,
            settings=mail_settings,
            data=SurpriseRuleCreate(name="First", trigger="nth_order", count=1, points=120),
            by="owner",
        )
        gift = rewards.create_reward(
            session,
            settings=mail_settings,
            data=RewardCreate(name="A free pastry", kind="gift", cost_points=0, in_catalogue=False),
        )
        surprise.create_rule(
            session,
            settings=mail_settings,
            data=SurpriseRuleCreate(
                name="Second", trigger="nth_order", count=2, reward_id=gift.id, cost_amount=90
            ),
            by="owner",
        )
        shirin = subscriber(session, name="Shirin", email="shirin@example.com", language="fa")
        place(session, shirin, placed_at=clock.now)
        _drain_all(session_factory, mail_settings)
        pipeline.run_once()
        [told] = [
            m for m in smtp_sink.to("shirin@example.com") if "غافلگیری" in m.message["Subject"]
        ]
        assert "۱۲۰ امتیاز" in body_of(told, "plain")
        sam = subscriber(session, name="Sam", email="sam@example.com", language="en")
        place(session, sam, placed_at=clock.now)
        place(session, sam, placed_at=clock.now)
        _drain_all(session_factory, mail_settings)
        pipeline.run_once()
        [gifted] = [
            m for m in smtp_sink.to("sam@example.com") if "A gift for you" in body_of(m, "plain")
        ]
        [pending] = [p for p in surprise.pending_for(session, sam.id) if p.gift]
        text = body_of(gifted, "plain")
        assert "A gift for you: A free pastry" in text
        assert pending.coupon_code is not None and pending.coupon_code in text
