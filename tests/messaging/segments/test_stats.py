"""The per-customer order figures: kept by events, rebuilt daily, always equal to the orders."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import FrozenClock
from tests.factories import create_customer, create_order
from wafa.app.worker import build_worker
from wafa.core.db import session_factory, session_scope
from wafa.core.outbox import OutboxEvent
from wafa.core.settings import Settings
from wafa.messaging.segments import handlers, jobs, stats
from wafa.messaging.segments.models import CustomerOrderStats
from wafa.orders import service as orders
from wafa.orders.models import Order
from wafa.orders.schemas import OrderStatusUpdate, RefundCreate
from wafa.people import service as lifecycle
from wafa.worker.batch import handle_once, pending_ids


def deliver(session: Session, settings: Settings) -> int:
    """Hand every pending event to the segments consumer, one transaction each."""
    consumer = handlers.consumer(settings)
    handled = 0
    while batch := pending_ids(session, consumer, after=None, limit=500):
        for event_id in batch:
            event = session.get(OutboxEvent, event_id)
            assert event is not None
            with session.begin_nested():
                handled += handle_once(session, consumer, event)
    return handled


def row(session: Session, customer_id: object) -> CustomerOrderStats | None:
    session.expire_all()
    return session.get(CustomerOrderStats, customer_id)


def buy(session: Session, email: str, amount: int, **extra: object) -> Order:
    return create_order(
        session,
        customer={"email": email},
        lines=[{"sku": "X", "name": "X", "quantity": 1, "unit_price": amount}],
        **extra,
    )


class TestKeptByEvents:
    def test_orders_refunds_and_cancellations_move_the_figures(
        self, session: Session, settings: Settings, clock: FrozenClock
    ) -> None:
        sara = create_customer(session, email="sara@example.com")
        first = buy(session, "sara@example.com", 1000)
        buy(session, "sara@example.com", 2500)
        deliver(session, settings)
        figures = row(session, sara.id)
        assert figures is not None
        assert (figures.orders_count, figures.spent_amount) == (2, 3500)

        orders.refund_order(
            session,
            order_id=first.id,
            data=RefundCreate(external_id="r1", amount=400),
        )
        deliver(session, settings)
        figures = row(session, sara.id)
        assert figures is not None and figures.spent_amount == 3100

        orders.update_order_status(
            session,
            order_id=first.id,
            data=OrderStatusUpdate(status="cancelled"),
        )
        deliver(session, settings)
        figures = row(session, sara.id)
        assert figures is not None and (figures.orders_count, figures.spent_amount) == (1, 2500)
        assert stats.drifted(session, currency=settings.currency) == 0

    def test_a_customer_left_without_a_sale_loses_the_row(
        self, session: Session, settings: Settings
    ) -> None:
        sara = create_customer(session, email="sara@example.com")
        only = buy(session, "sara@example.com", 1000)
        deliver(session, settings)
        assert row(session, sara.id) is not None
        orders.refund_order(session, order_id=only.id, data=RefundCreate(external_id="all"))
        deliver(session, settings)
        assert row(session, sara.id) is None

    def test_a_merge_moves_the_figures_to_the_winner(
        self, session: Session, settings: Settings
    ) -> None:
        winner = create_customer(session, email="w@example.com")
        loser = create_customer(session, email="l@example.com")
        buy(session, "w@example.com", 1000)
        buy(session, "l@example.com", 700)
        deliver(session, settings)
        lifecycle.merge_customers(session, winner_id=winner.id, loser_id=loser.id, merged_by="test")
        deliver(session, settings)
        merged = row(session, winner.id)
        assert merged is not None and (merged.orders_count, merged.spent_amount) == (2, 1700)
        assert row(session, loser.id) is None

    def test_handling_an_event_again_changes_nothing(
        self, session: Session, settings: Settings
    ) -> None:
        sara = create_customer(session, email="sara@example.com")
        buy(session, "sara@example.com", 1000)
        deliver(session, settings)
        before = row(session, sara.id)
        assert before is not None
        counts = (before.orders_count, before.spent_amount, before.last_order_at)
        consumer = handlers.consumer(settings)
        for event in session.scalars(select(OutboxEvent)):
            if event.topic in consumer.topics:
                consumer.handle(session, event)
        after = row(session, sara.id)
        assert after is not None
        assert (after.orders_count, after.spent_amount, after.last_order_at) == counts


class TestRebuild:
    def test_repairs_what_no_event_announced(self, session: Session, settings: Settings) -> None:
        sara = create_customer(session, email="sara@example.com")
        guest = create_order(
            session,
            customer=None,
            lines=[{"sku": "X", "name": "X", "quantity": 1, "unit_price": 900}],
        )
        deliver(session, settings)
        # A till's order claimed at the counter: the orders service announces no event.
        orders.attach_customer(session, order_id=guest.id, customer_id=sara.id)
        assert stats.drifted(session, currency=settings.currency) == 1
        build = stats.rebuild(session, currency=settings.currency)
        assert build.customers >= 1
        assert stats.drifted(session, currency=settings.currency) == 0
        figures = row(session, sara.id)
        assert figures is not None and figures.spent_amount == 900

    def test_spend_counts_only_the_business_currency(
        self, session: Session, settings: Settings
    ) -> None:
        sara = create_customer(session, email="sara@example.com")
        buy(session, "sara@example.com", 1000)
        buy(session, "sara@example.com", 5000, currency="EUR")
        stats.rebuild(session, currency="USD")
        figures = row(session, sara.id)
        assert figures is not None and (figures.orders_count, figures.spent_amount) == (2, 1000)


class TestThroughTheWorker:
    def test_the_worker_keeps_the_figures_and_rebuilds_once_a_day(
        self, committed_db: Settings, clock: FrozenClock
    ) -> None:
        with session_scope(committed_db) as s:
            sara = create_customer(s, email="sara@example.com")
            for amount in (100, 200, 300):
                buy(s, "sara@example.com", amount)
        worker = build_worker(committed_db)
        first = worker.run_once()
        assert first.tasks["messaging.segments@2026-03-15"] == {"segments-stats": 1}
        factory = session_factory(committed_db)
        with session_scope(committed_db) as s:
            figures = s.get(CustomerOrderStats, sara.id)
            assert figures is not None and (figures.orders_count, figures.spent_amount) == (3, 600)
            assert stats.drifted(s, currency=committed_db.currency) == 0
        assert jobs.due_days(factory, committed_db, clock.now) == []
        tomorrow = clock.advance(days=1)
        assert jobs.due_days(factory, committed_db, tomorrow) == [tomorrow.date()]
