"""The welcome message carries the member's referral link, and the post-purchase
follow-up the products that go with what they bought (the analytics recommendations),
through the real send pipeline to a loopback SMTP server."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FrozenClock
from tests.flows.helpers import due, messages, no_limits
from tests.loyalty.helpers import place
from tests.messaging.conftest import Sink, body_of
from tests.messaging.helpers import subscriber
from wafa.analytics.tables import AnalyticsRun, ProductNeighbour
from wafa.core.settings import Settings
from wafa.flows import presets, service
from wafa.loyalty.models import LoyaltyAccount
from wafa.messaging.pipeline import Pipeline
from wafa.orders import service as orders
from wafa.orders.models import Product
from wafa.orders.schemas import OrderStatusUpdate
from wafa.worker.batch import drain_batched


def _drain(factory: sessionmaker[Session], settings: Settings) -> None:
    from wafa.app.domains import consumers

    drain_batched(factory, consumers(settings))


def _on(session: Session, key: str) -> None:
    flow = service.set_enabled(session, key=key, enabled=True, by="test")
    flow.holdout_percent = 0


def test_welcome_has_the_referral_link(
    session: Session,
    session_factory: sessionmaker[Session],
    mail_settings: Settings,
    clock: FrozenClock,
    pipeline: Pipeline,
    smtp_sink: Sink,
) -> None:
    no_limits(session)
    presets.ensure_presets(session)
    _on(session, "welcome")
    customer = subscriber(session, email="nika@example.com", name="Nika")
    session.commit()
    _drain(session_factory, mail_settings)
    pipeline.run_once()
    code = session.scalar(
        select(LoyaltyAccount.referral_code).where(LoyaltyAccount.customer_id == customer.id)
    )
    assert code
    [mail] = smtp_sink.to("nika@example.com")
    text = body_of(mail, "plain")
    assert "Bring a friend" in text and f"/r/{code}" in text


def test_follow_up_recommends_what_goes_with_the_purchase(
    session: Session,
    session_factory: sessionmaker[Session],
    mail_settings: Settings,
    clock: FrozenClock,
    pipeline: Pipeline,
    smtp_sink: Sink,
) -> None:
    no_limits(session)
    presets.ensure_presets(session)
    _on(session, "post_purchase")
    customer = subscriber(session, email="omid@example.com", name="Omid")
    order = place(
        session,
        customer,
        placed_at=clock.now,
        lines=[{"sku": "BEANS-1", "name": "House beans", "quantity": 1, "unit_price": 1200}],
    )
    place(
        session,
        None,
        placed_at=clock.now,
        lines=[{"sku": "GRIND-1", "name": "Hand grinder", "quantity": 1, "unit_price": 4500}],
    )
    beans, grinder = (
        session.scalar(select(Product.id).where(Product.sku == sku))
        for sku in ("BEANS-1", "GRIND-1")
    )
    run = AnalyticsRun(
        id=uuid.uuid4(),
        status="succeeded",
        started_at=clock.now,
        as_of=clock.now.date(),
        currency="USD",
    )
    session.add(run)
    session.flush()
    session.add(
        ProductNeighbour(
            product_id=beans,
            neighbour_id=grinder,
            rank=1,
            score=0.8,
            customers_both=5,
            run_id=run.id,
        )
    )
    orders.update_order_status(
        session, order_id=order.id, data=OrderStatusUpdate(status="delivered")
    )
    session.commit()
    _drain(session_factory, mail_settings)
    clock.advance(days=5)
    due(session_factory, mail_settings)
    pipeline.run_once()
    flow = service.get_flow(session, "post_purchase")
    [message] = messages(session, flow)
    assert message.context["recommendations"] == [{"name": "Hand grinder", "price": "$45.00"}]
    [mail] = [m for m in smtp_sink.to("omid@example.com") if "How was" in m.message["subject"]]
    assert "You may also like:\n- Hand grinder ($45.00)" in body_of(mail, "plain")
